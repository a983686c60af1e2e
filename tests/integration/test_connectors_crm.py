"""HubSpot webhooks and Salesforce CDC events, replayed from schemas/connectors/ against the
real gateway, signed or authenticated as the CRMs do; and the refusals they share."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from services.gateway.connectors.replay import hubspot_headers, salesforce_headers
from services.gateway.connectors.tenant_settings import save_settings
from shared.db import create_pool, tenant_tx
from tests.conftest import REPO
from tests.integration.conftest import Platform

SAMPLES = REPO / "schemas" / "connectors"


async def _configure(platform: Platform, tenant: str, connector: str, secret: str) -> None:
    pool = await create_pool(platform.admin_url)
    try:
        async with tenant_tx(pool, tenant) as conn:
            await save_settings(conn, tenant, connector, author="test", secret=secret)
    finally:
        await pool.close()


async def _connected(
    platform: Platform, connector: str, secret: str, prefix: str
) -> tuple[str, str]:
    """A new tenant (and its key) whose `connector` has `secret`."""
    tenant, key = await platform.create_tenant(prefix)
    await _configure(platform, tenant, connector, secret)
    return tenant, key


async def _post(
    platform: Platform, path: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        return await client.post(path, content=body, headers=headers)


async def _hubspot(platform: Platform, tenant: str, secret: str, sample: str) -> httpx.Response:
    path = f"/v1/connectors/hubspot/{tenant}"
    body = (SAMPLES / "hubspot" / sample).read_bytes()
    headers = hubspot_headers(secret, platform.gateway_url + path, body)
    return await _post(platform, path, body, headers)


async def _types(platform: Platform, tenant: str) -> list[tuple[str, str]]:
    rows = await platform.admin.fetch(
        "SELECT type, lead_id FROM events WHERE tenant_id = $1 ORDER BY occurred_at, seq", tenant
    )
    return [(r["type"], r["lead_id"]) for r in rows]


async def test_signed_hubspot_batch_puts_the_lead_and_its_deal_in_the_read_model(
    platform: Platform,
) -> None:
    secret = "hubspot-app-client-secret"
    tenant, _ = await _connected(platform, "hubspot", secret, "hubspot")
    response = await _hubspot(platform, tenant, secret, "contact_and_deal.json")
    assert response.status_code == 200, response.text
    doc = response.json()
    # contact, 2 traits, lifecycle → accepted, deal, amount, stage, won; favorite_color ignored
    assert (doc["accepted"], doc["ignored"], doc["linked"], doc["parked"]) == (8, 1, 1, 0)
    await platform.wait_events(tenant, 8)

    async def won() -> bool:
        row = await platform.admin.fetchrow(
            "SELECT stage FROM leads WHERE tenant_id = $1 AND lead_id = '7001'", tenant
        )
        return row is not None and row["stage"] == "CUSTOMER"

    await platform.wait_for(won, 60, "the HubSpot lead to become a customer")
    opportunity = await platform.admin.fetchrow(
        "SELECT lead_id, status, won_amount FROM opportunities WHERE tenant_id = $1", tenant
    )
    assert dict(opportunity) == {"lead_id": "7001", "status": "WON", "won_amount": 24000}
    # replayed as HubSpot retries it: nothing is applied twice
    again = await _hubspot(platform, tenant, secret, "contact_and_deal.json")
    assert again.status_code == 200
    await platform.wait_for(lambda: _settled(platform, tenant, 8), 30, "no duplicates")


async def _wait_won(platform: Platform, tenant: str) -> None:
    async def won() -> bool:
        row = await platform.admin.fetchrow(
            "SELECT status FROM opportunities WHERE tenant_id = $1", tenant
        )
        return row is not None and row["status"] == "WON"

    await platform.wait_for(won, 60, f"the opportunity of {tenant} to be won")


async def _settled(platform: Platform, tenant: str, count: int) -> bool:
    n = await platform.admin.fetchval("SELECT count(*) FROM events WHERE tenant_id = $1", tenant)
    return bool(n == count)


async def test_hubspot_deal_events_wait_for_their_contact(platform: Platform) -> None:
    secret = "another-client-secret"
    tenant, _ = await _connected(platform, "hubspot", secret, "hsparked")
    first = await _hubspot(platform, tenant, secret, "deal_before_association.json")
    assert first.status_code == 200, first.text
    assert (first.json()["accepted"], first.json()["parked"]) == (0, 3)
    second = await _hubspot(platform, tenant, secret, "association_later.json")
    assert second.status_code == 200, second.text
    assert (second.json()["accepted"], second.json()["released"]) == (4, 3)
    await platform.wait_events(tenant, 4)
    assert await _types(platform, tenant) == [
        ("opportunity_created", "7002"),
        ("opportunity_created", "7002"),
        ("deal_lost", "7002"),
        ("lead_updated", "7002"),
    ]
    left = await platform.admin.fetchval(
        "SELECT count(*) FROM connector_parked WHERE tenant_id = $1", tenant
    )
    assert left == 0


async def test_hubspot_refuses_bad_signatures_stale_timestamps_and_bad_bodies(
    platform: Platform,
) -> None:
    secret = "the-right-secret"
    tenant, _ = await _connected(platform, "hubspot", secret, "hsbad")
    path = f"/v1/connectors/hubspot/{tenant}"
    url = platform.gateway_url + path
    body = (SAMPLES / "hubspot" / "contact_and_deal.json").read_bytes()
    wrong = hubspot_headers("a-wrong-secret", url, body)
    assert (await _post(platform, path, body, wrong)).status_code == 401
    stale = hubspot_headers(secret, url, body, now_ms=int(time.time() * 1000) - 6 * 60 * 1000)
    response = await _post(platform, path, body, stale)
    assert response.status_code == 401 and "5 minutes" in response.json()["error"]["message"]
    tampered = hubspot_headers(secret, url, body)
    assert (
        await _post(platform, path, body.replace(b"7001", b"7999"), tampered)
    ).status_code == 401
    unknown = f"/v1/connectors/hubspot/no-such-{tenant}"
    signed = hubspot_headers(secret, platform.gateway_url + unknown, body)
    assert (await _post(platform, unknown, body, signed)).status_code == 401
    for bad, status in ((b"{not json", 400), (b"{}", 400), (b"[" + b"1," * 600_000 + b"1]", 413)):
        response = await _post(platform, path, bad, hubspot_headers(secret, url, bad))
        assert response.status_code == status, response.text
    # one invalid event: listed with its field, the valid one applied
    mixed = orjson.dumps(
        [
            {**_hs_event(3001, "contact.creation"), "objectId": 8001},
            {**_hs_event(3002, "contact.creation"), "occurredAt": "yesterday"},
        ]
    )
    response = await _post(platform, path, mixed, hubspot_headers(secret, url, mixed))
    assert response.status_code == 400
    doc = response.json()
    assert doc["accepted"] == 1
    assert [(r["index"], r["errors"][0]["field"]) for r in doc["rejected"]] == [(1, "occurredAt")]
    await platform.wait_events(tenant, 1)


def _hs_event(event_id: int, subscription: str) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 1,
        "portalId": 62515,
        "occurredAt": 1795082400000,
        "subscriptionType": subscription,
        "objectId": 1,
    }


async def test_salesforce_cdc_events_reach_the_read_model_with_gaps_reported(
    platform: Platform,
) -> None:
    secret = "sf-connector-secret"
    tenant, _ = await _connected(platform, "salesforce", secret, "salesforce")
    path = f"/v1/connectors/salesforce/{tenant}"
    body = (SAMPLES / "salesforce" / "lead_contact_opportunity.json").read_bytes()
    response = await _post(platform, path, body, salesforce_headers(secret))
    assert response.status_code == 200, response.text
    doc = response.json()
    # lead traits, lead accepted, contact traits, opportunity (amount, stage), update (amount,
    # won), two leads known from the gap; the delete is ignored
    assert (doc["accepted"], doc["ignored"], doc["linked"]) == (9, 1, 1)
    assert [(g["changeType"], g["recordIds"]) for g in doc["gaps"]] == [
        ("GAP_CREATE", ["00Q5e00000GaPpEAA1", "00Q5e00000GaPpEAA2"]),
        ("GAP_OVERFLOW", []),
    ]
    await platform.wait_events(tenant, 9)
    lead_traits = await platform.admin.fetchval(
        "SELECT properties FROM events WHERE tenant_id = $1 AND lead_id = '00Q5e00000AbCdEAA1'"
        " AND type = 'lead_updated'",
        tenant,
    )
    assert orjson.loads(lead_traits)["traits"]["job_title"] == "Head of Growth"
    # the UPDATE's stale Title (not in changedFields) was not applied
    updates = await platform.admin.fetchval(
        "SELECT count(*) FROM events WHERE tenant_id = $1 AND type = 'lead_updated'", tenant
    )
    assert updates == 4  # lead, contact and the two gap-created leads

    await _wait_won(platform, tenant)
    opportunity = await platform.admin.fetchrow(
        "SELECT lead_id, won_amount FROM opportunities WHERE tenant_id = $1", tenant
    )
    assert dict(opportunity) == {"lead_id": "0035e00000XyZaBAAV", "won_amount": 52000}
    leads = await platform.leads(tenant)
    assert set(leads) == {
        "00Q5e00000AbCdEAA1",
        "0035e00000XyZaBAAV",
        "00Q5e00000GaPpEAA1",
        "00Q5e00000GaPpEAA2",
    }


async def test_salesforce_refuses_wrong_secrets_and_bad_events(platform: Platform) -> None:
    tenant, _ = await _connected(platform, "salesforce", "right", "sfbad")
    path = f"/v1/connectors/salesforce/{tenant}"
    body = (SAMPLES / "salesforce" / "lead_contact_opportunity.json").read_bytes()
    assert (await _post(platform, path, body, {})).status_code == 401
    assert (await _post(platform, path, body, salesforce_headers("wrong"))).status_code == 401
    response = await _post(platform, path, b"[]", salesforce_headers("right"))
    assert response.status_code == 400
    bad = orjson.dumps({"ChangeEventHeader": {"entityName": "Account", "changeType": "CREATE"}})
    response = await _post(platform, path, bad, salesforce_headers("right"))
    assert response.status_code == 400
    assert response.json()["rejected"][0]["errors"][0]["field"] == "ChangeEventHeader.entityName"
    # a rotated secret replaces the old one
    await _configure(platform, tenant, "salesforce", "rotated")
    await platform.wait_for(
        lambda: _refused(platform, path, body, "right"), 30, "the old secret to stop working"
    )


async def _refused(platform: Platform, path: str, body: bytes, secret: str) -> bool:
    return (await _post(platform, path, body, salesforce_headers(secret))).status_code == 401


def _cdc(
    entity: str, record: str, change: str, tx: int, changed: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    header = {
        "entityName": entity,
        "recordIds": [record],
        "changeType": change,
        "transactionKey": f"conv-{tx}",
        "sequenceNumber": 1,
        "commitTimestamp": 1795082400000 + tx * 60_000,
        "changedFields": changed or [],
        "nulledFields": [],
    }
    return {"ChangeEventHeader": header, **fields}


async def test_a_converted_salesforce_lead_keeps_its_journey_and_its_deal(
    platform: Platform,
) -> None:
    secret = "sf-conversion-secret"
    tenant, key = await _connected(platform, "salesforce", secret, "sfconv")
    path, headers = f"/v1/connectors/salesforce/{tenant}", salesforce_headers(secret)
    lead, contact, deal = "00Q5e00000CoNvEAA1", "0035e00000CoNvAAA1", "0065e00000CoNvAAA1"

    async def send(*changes: dict[str, Any]) -> dict[str, Any]:
        response = await _post(platform, path, orjson.dumps(list(changes)), headers)
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        return doc

    await send(_cdc("Lead", lead, "CREATE", 1, Email="ada@engines.example", Title="Analyst"))
    touch = {
        "event_id": "conv-touch-1",
        "type": "webinar_attended",
        # before the conversion (10:02), so it is eligible for the deal's credit
        "occurred_at": "2026-11-19T09:30:00Z",
        "lead_id": lead,
        "channel": "webinar",
    }
    await platform.post_events(key, [touch])
    # The conversion, one transaction: the contact and the opportunity it opens are created,
    # and the lead is marked converted to them.
    converted = await send(
        _cdc("Contact", contact, "CREATE", 2, Email="ada@engines.example", Title="Analyst"),
        _cdc("Opportunity", deal, "CREATE", 2, Amount=30000, StageName="Prospecting",
             ContactId=contact),
        _cdc("Lead", lead, "UPDATE", 2, ["IsConverted", "ConvertedContactId",
             "ConvertedOpportunityId"], IsConverted=True, ConvertedContactId=contact,
             ConvertedOpportunityId=deal),
    )  # fmt: skip
    assert (converted["accepted"], converted["linked"], converted["parked"]) == (3, 3, 0)
    # After it, the contact's changes and the deal's close reach the same lead.
    await send(_cdc("Contact", contact, "UPDATE", 3, ["Title"], Title="Head of Data"))
    await send(_cdc("Opportunity", deal, "UPDATE", 4, ["StageName"], StageName="Closed Won"))

    await platform.wait_events(tenant, 6)

    await _wait_won(platform, tenant)
    assert set(await platform.leads(tenant)) == {lead}
    opportunity = await platform.admin.fetchrow(
        "SELECT opportunity_id, lead_id FROM opportunities WHERE tenant_id = $1", tenant
    )
    assert dict(opportunity) == {"opportunity_id": deal, "lead_id": lead}
    traits = orjson.loads((await platform.leads(tenant))[lead]["traits"])
    assert traits["job_title"] == "Head of Data"
    # The deal is credited to the lead's own touch, not left unattributed.
    channels = await platform.admin.fetch(
        "SELECT DISTINCT channel FROM attribution_credits WHERE tenant_id = $1"
        " AND opportunity_id = $2",
        tenant,
        deal,
    )
    assert {r["channel"] for r in channels} == {"webinar"}
