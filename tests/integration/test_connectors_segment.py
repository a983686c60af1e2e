"""Segment-compatible intake with the official Segment and RudderStack Python libraries,
unchanged, pointed at the gateway; and the refusals every connector shares."""

from __future__ import annotations

import asyncio
import base64
import gzip
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from tests.integration.conftest import Platform

T0 = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def _sdk_journey(client: Any, errors: list[Any], anonymous: str, user: str) -> None:
    """Two anonymous page views (the first from a paid search click), identify, one more
    anonymous page view and a demo request: the SDK's own batching and threads deliver."""
    campaign = {"name": "spring-search", "source": "google", "medium": "cpc"}
    client.page(
        anonymous_id=anonymous,
        name="Pricing",
        properties={"url": "https://example.com/pricing", "path": "/pricing"},
        context={"campaign": campaign},
        timestamp=T0,
    )
    client.page(anonymous_id=anonymous, name="Docs", timestamp=T0 + timedelta(minutes=5))
    client.identify(
        user_id=user,
        anonymous_id=anonymous,
        traits={"email": f"{user}@example.com", "title": "VP Marketing", "employees": 500},
        timestamp=T0 + timedelta(minutes=10),
    )
    client.page(anonymous_id=anonymous, name="Blog", timestamp=T0 + timedelta(minutes=15))
    client.track(user_id=user, event="Demo Requested", timestamp=T0 + timedelta(minutes=20))
    client.track(user_id=user, event="Some Unmapped Thing", timestamp=T0 + timedelta(minutes=21))
    client.group(
        user_id=user,
        group_id=f"acct-{user}",
        traits={"name": "Acme", "industry": "Software"},
        timestamp=T0 + timedelta(minutes=22),
    )
    client.flush()
    client.join()
    assert errors == []


async def _assert_stitched(platform: Platform, tenant: str, user: str, anonymous: str) -> None:
    # 3 page views + identify + demo request + group; the unmapped track is not stored.
    await platform.wait_events(tenant, 6)

    async def lead_ready() -> bool:
        row = await platform.admin.fetchrow(
            "SELECT account_id FROM leads WHERE tenant_id = $1 AND lead_id = $2", tenant, user
        )
        return row is not None and row["account_id"] is not None

    await platform.wait_for(lead_ready, 60, "the stitched lead")
    lead = (await platform.leads(tenant))[user]
    assert lead["account_id"] == f"acct-{user}"
    assert lead["first_touch_channel"] == "paid_search"
    touches = await platform.admin.fetch(
        "SELECT type, lead_id, anonymous_id, channel, campaign_id FROM events"
        " WHERE tenant_id = $1 AND type = 'page_view' ORDER BY occurred_at",
        tenant,
    )
    assert [t["anonymous_id"] for t in touches] == [anonymous] * 3
    stitched = await platform.admin.fetchval(
        "SELECT count(*) FROM events WHERE tenant_id = $1 AND lead_id = $2"
        " AND type IN ('page_view', 'demo_request')",
        tenant,
        user,
    )
    # the two page views before identify, the one after, and the demo request
    assert stitched == 4, await platform.admin.fetch(
        "SELECT * FROM events WHERE tenant_id = $1", tenant
    )
    assert touches[0]["campaign_id"] == "spring-search"
    types = await platform.admin.fetch(
        "SELECT DISTINCT type FROM events WHERE tenant_id = $1", tenant
    )
    assert {r["type"] for r in types} == {"page_view", "identify", "demo_request", "lead_updated"}


@pytest.mark.parametrize("library", ["segment", "rudder"])
async def test_official_sdk_stitches_anonymous_page_views(platform: Platform, library: str) -> None:
    tenant, _ = await platform.create_tenant(library)
    write_key = await platform.api_key(tenant, "ingest")
    errors: list[Any] = []
    kwargs: dict[str, Any] = {
        "write_key": write_key,
        "host": platform.gateway_url,
        "on_error": lambda exc, batch: errors.append(exc),
        "gzip": True,
        "max_retries": 1,
    }
    client = (SegmentClient if library == "segment" else RudderClient)(**kwargs)
    anonymous, user = f"anon-{uuid.uuid4().hex[:8]}", f"user-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(_sdk_journey, client, errors, anonymous, user)
    await _assert_stitched(platform, tenant, user, anonymous)


async def _post(
    platform: Platform, path: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        return await client.post(path, content=body, headers=headers)


async def test_single_calls_answer_success_and_tenant_maps_apply(platform: Platform) -> None:
    tenant, admin_key = await platform.create_tenant("segsingle")
    auth = httpx.BasicAuth(admin_key, "")
    message = {
        "userId": "L-single",
        "event": "Demo Requested",
        "messageId": "m-single-1",
        "timestamp": "2026-11-19T10:00:00Z",
        "context": {"campaign": {"name": "c-1", "source": "linkedin", "medium": "cpc"}},
    }
    async with httpx.AsyncClient(base_url=platform.gateway_url, auth=auth) as client:
        response = await client.post("/v1/track", json=message)
        assert response.status_code == 200, response.text
        assert response.json() == {"success": True, "accepted": 1, "ignored": 0}
        # the same message again is accepted and changes nothing (same event id)
        assert (await client.post("/v1/track", json=message)).status_code == 200
    await platform.wait_events(tenant, 1)
    row = await platform.admin.fetchrow(
        "SELECT type, channel, campaign_id FROM events WHERE tenant_id = $1 AND event_id = $2",
        tenant,
        "m-single-1",
    )
    assert dict(row) == {"type": "demo_request", "channel": "paid_social", "campaign_id": "c-1"}


def _basic(key: str) -> str:
    """The Authorization header Segment's libraries send: the write key, empty password."""
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


async def test_refusals(platform: Platform) -> None:
    tenant, admin_key = await platform.create_tenant("segbad")
    viewer = await platform.api_key(tenant, "viewer")
    basic = _basic(admin_key)
    good = {"type": "track", "userId": "L-1", "event": "Demo Requested"}

    def batch(*messages: dict[str, Any]) -> bytes:
        return orjson.dumps({"batch": list(messages)})

    # no key, an unknown key, a key whose role may not ingest
    assert (await _post(platform, "/v1/batch", batch(good), {})).status_code == 401
    wrong = _basic("tdm_nope_nope")
    response = await _post(platform, "/v1/batch", batch(good), {"authorization": wrong})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    viewer_auth = _basic(viewer)
    response = await _post(platform, "/v1/batch", batch(good), {"authorization": viewer_auth})
    assert response.status_code == 403
    headers = {"authorization": basic, "content-type": "application/json"}
    # malformed JSON, no batch, bad gzip
    response = await _post(platform, "/v1/batch", b"{nope", headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "MALFORMED_JSON")
    response = await _post(platform, "/v1/batch", b'{"messages": []}', headers)
    assert (response.status_code, response.json()["error"]["field"]) == (400, "batch")
    gz = {**headers, "content-encoding": "gzip"}
    assert (await _post(platform, "/v1/batch", b"not gzip", gz)).status_code == 400
    # over 500 KB, plain or inflated from a small gzip body
    big = batch(*[{**good, "properties": {"pad": "x" * 20_000}} for _ in range(30)])
    assert (await _post(platform, "/v1/batch", big, headers)).status_code == 413
    assert (await _post(platform, "/v1/batch", gzip.compress(big), gz)).status_code == 413
    # one message over 32 KB and one with a bad field: listed; the valid one is applied
    response = await _post(
        platform,
        "/v1/batch",
        batch(
            {**good, "messageId": "ok-1", "timestamp": "2026-11-19T10:00:00Z"},
            {**good, "messageId": "huge", "properties": {"pad": "x" * 33_000}},
            {**good, "messageId": "bad-ts", "timestamp": "yesterday"},
            {"type": "identify", "messageId": "no-user", "traits": {"employees": "many"}},
        ),
        headers,
    )
    assert response.status_code == 400, response.text
    doc = response.json()
    assert doc["success"] is False and doc["accepted"] == 1
    assert [(r["index"], r["id"], r["errors"][0]["field"]) for r in doc["rejected"]] == [
        (1, "huge", ""),
        (2, "bad-ts", "timestamp"),
        (3, "no-user", "userId"),
    ]
    await platform.wait_events(tenant, 1)
    stored = await platform.admin.fetch("SELECT event_id FROM events WHERE tenant_id = $1", tenant)
    assert [r["event_id"] for r in stored] == ["ok-1"]


async def test_write_key_sends_touches_and_identity_only(platform: Platform) -> None:
    """A write key is public: whatever the tenant maps a track name to, it writes no sales
    outcome; the touches and identity of the same batch are applied."""
    tenant, admin_key = await platform.create_tenant("segwk")
    write_key = await platform.api_key(tenant, "write_key")
    mapped = await _gql(
        platform,
        admin_key,
        "mutation($input: ConnectorInput!) { updateConnector(input: $input) { mappings } }",
        {
            "input": {
                "connector": "SEGMENT",
                "mappings": {"event_names": {"Order Completed": "deal_won"}},
            }
        },
    )
    assert "errors" not in mapped, mapped
    won = {
        "type": "track",
        "userId": "L-wk",
        "event": "Order Completed",
        "messageId": "won-1",
        "properties": {"opportunity_id": "o-1", "amount": 1_000_000},
    }
    page = {"type": "page", "anonymousId": "a-wk", "messageId": "page-1", "name": "Home"}
    ident = {"type": "identify", "userId": "L-wk", "anonymousId": "a-wk", "messageId": "id-1"}
    body = orjson.dumps({"batch": [page, won, ident]})
    headers = {"authorization": _basic(write_key), "content-type": "application/json"}

    async def refused_with_reason() -> bool:
        response = await _post(platform, "/v1/batch", body, headers)
        doc = response.json()
        return response.status_code == 400 and [r["id"] for r in doc["rejected"]] == ["won-1"]

    # the tenant's map reaches the intake within the settings cache's few seconds
    await platform.wait_for(refused_with_reason, 30, "the write key's refusal of deal_won")
    doc = (await _post(platform, "/v1/batch", body, headers)).json()
    assert doc["accepted"] == 2
    assert "write key" in doc["rejected"][0]["errors"][0]["reason"]
    await platform.wait_events(tenant, 2)
    stored = await platform.admin.fetch("SELECT type FROM events WHERE tenant_id = $1", tenant)
    assert sorted(r["type"] for r in stored) == ["identify", "page_view"]
    # an ingest key keeps sending what the tenant maps, sales outcomes included
    ingest = await platform.api_key(tenant, "ingest")
    response = await _post(
        platform, "/v1/batch", orjson.dumps({"batch": [won]}), {"authorization": _basic(ingest)}
    )
    assert response.status_code == 200, response.text
    # elsewhere a write key is no credential: not for /v1/events, not for GraphQL
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        events = await client.post("/v1/events", json=[], headers={"X-API-Key": write_key})
        assert events.status_code == 403
    read = await _gql(platform, write_key, "{ viewer { tenant } }")
    assert read["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def _gql(platform: Platform, key: str, query: str, variables: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"X-API-Key": key},
        )
    return response.json()


async def test_an_admin_creates_a_write_key_through_graphql(platform: Platform) -> None:
    tenant, admin_key = await platform.create_tenant("segwkgql")
    viewer = await platform.api_key(tenant, "viewer")
    create = "mutation { createWriteKey { id key } }"
    denied = await _gql(platform, viewer, create)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    created = (await _gql(platform, admin_key, create))["data"]["createWriteKey"]
    assert created["key"].startswith(f"tdm_{created['id']}_")
    role = await platform.admin.fetchval(
        "SELECT role FROM api_keys WHERE tenant_id = $1 AND key_id = $2", tenant, created["id"]
    )
    assert role == "write_key"
    page = {"anonymousId": "a-gql", "messageId": "gql-page-1", "name": "Home"}
    response = await _post(
        platform, "/v1/page", orjson.dumps(page), {"authorization": _basic(created["key"])}
    )
    assert response.status_code == 200, response.text
