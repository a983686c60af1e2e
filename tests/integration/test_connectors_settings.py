"""Connector settings through GraphQL: admins only, secrets write-only and rotatable,
mappings checked before they are stored and honoured by the connectors."""

from __future__ import annotations

from typing import Any

import httpx

from services.gateway.connectors.replay import salesforce_headers
from tests.integration.conftest import Platform


async def _gql(
    platform: Platform, key: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"X-API-Key": key},
        )
    doc: dict[str, Any] = response.json()
    return doc


UPDATE = """mutation($input: ConnectorInput!) {
  updateConnector(input: $input) { connector enabled mappings secretSet }
}"""


async def test_admin_sets_mappings_and_secrets_others_cannot(platform: Platform) -> None:
    tenant, admin = await platform.create_tenant("conncfg")
    viewer = await platform.api_key(tenant, "viewer")
    denied = await _gql(platform, viewer, "{ connectors { connector secretSet } }")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    listed = await _gql(platform, admin, "{ connectors { connector enabled secretSet defaults } }")
    by_name = {c["connector"]: c for c in listed["data"]["connectors"]}
    assert set(by_name) == {"SEGMENT", "HUBSPOT", "SALESFORCE", "MONDAY"}
    assert by_name["SEGMENT"]["defaults"]["event_names"]["Demo Requested"] == "demo_request"

    bad = await _gql(
        platform,
        admin,
        UPDATE,
        {"input": {"connector": "SEGMENT", "mappings": {"event_names": {"Trial": "trial"}}}},
    )
    error = bad["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"][0]["path"] == "input.mappings.event_names.Trial"

    good = await _gql(
        platform,
        admin,
        UPDATE,
        {"input": {"connector": "SEGMENT", "mappings": {"event_names": {"Trial": "form_submit"}}}},
    )
    assert good["data"]["updateConnector"]["mappings"] == {"event_names": {"Trial": "form_submit"}}

    # the tenant's map is honoured by the intake (within the settings cache's few seconds)
    async def stored() -> bool:
        async with httpx.AsyncClient(
            base_url=platform.gateway_url, auth=httpx.BasicAuth(admin, "")
        ) as client:
            response = await client.post(
                "/v1/track", json={"userId": "L-1", "event": "Trial", "messageId": "trial-1"}
            )
        return bool(response.json()["accepted"] == 1)

    await platform.wait_for(stored, 30, "the tenant's event-name map to apply")

    rotated = await _gql(
        platform,
        admin,
        "mutation { rotateConnectorSecret(connector: SALESFORCE)"
        " { secret settings { secretSet } } }",
    )
    secret = rotated["data"]["rotateConnectorSecret"]["secret"]
    assert rotated["data"]["rotateConnectorSecret"]["settings"]["secretSet"] is True
    # no query returns a secret: the type has no such field
    leak = await _gql(platform, admin, "{ connectors { secret } }")
    assert leak["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    async with httpx.AsyncClient(base_url=platform.gateway_url) as client:
        response = await client.post(
            f"/v1/connectors/salesforce/{tenant}",
            content=b'{"ChangeEventHeader": {"entityName": "Lead", "changeType": "GAP_OVERFLOW",'
            b' "recordIds": [], "commitTimestamp": 1795082400000}}',
            headers=salesforce_headers(secret),
        )
    assert response.status_code == 200, response.text

    short = await _gql(
        platform,
        admin,
        'mutation { setConnectorSecret(connector: HUBSPOT, secret: "x") { secretSet } }',
    )
    assert short["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    disabled = await _gql(
        platform, admin, UPDATE, {"input": {"connector": "SALESFORCE", "enabled": False}}
    )
    assert disabled["data"]["updateConnector"]["enabled"] is False
