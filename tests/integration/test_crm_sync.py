"""SPEC 15 CRM sync end to end: leads through the real gateway, Kafka and worker; the
delivery process writes their numbers to local HubSpot and Salesforce stand-ins that check
the vendors' request shapes, auth and limits."""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.delivery.crm_sync import DEFAULT_FIELD_MAPS
from tests.integration.conftest import Platform
from tests.standins.delivery import Delivery, start_delivery
from tests.standins.hubspot import MAX_INPUTS, HubSpotStandIn
from tests.standins.salesforce import MAX_RECORDS, SalesforceStandIn

NOW = datetime(2026, 11, 20, tzinfo=UTC)
WAIT_S = 120
HS_TOKEN = "pat-na1-standin"
SF_TOKEN = "00Dstandin!token"
SF_FIELDS = {
    "stage": "Stage__c",
    "fit_score": "Fit_Score__c",
    "fit_grade": "Fit_Grade__c",
    "engagement_score": "Engagement__c",
    "matrix": "Matrix__c",
    "mql_at": "MQL_Time__c",
}


@dataclass
class Crms:
    hubspot: HubSpotStandIn
    salesforce: SalesforceStandIn
    delivery: Delivery


def hs_id(i: int) -> str:
    return str(5_000 + i)


def sf_id(i: int) -> str:
    return f"00Q{i:015d}"


@pytest.fixture(scope="module")
async def crms(platform: Platform, logs_dir: Path) -> AsyncIterator[Crms]:
    # Other apps of the portal used the first window: the sync's first request gets a 429.
    hubspot = await HubSpotStandIn(
        HS_TOKEN, {hs_id(i): {} for i in range(150)}, max_per_window=100, throttle_first=True
    ).start()
    salesforce = await SalesforceStandIn(
        SF_TOKEN,
        "Lead",
        {sf_id(i): {} for i in range(250)},
        frozenset(SF_FIELDS.values()),
        throttle_first=True,
    ).start()
    # HubSpot's address from the deployment setting; Salesforce's per tenant (its instance).
    delivery = await start_delivery(
        platform, logs_dir, {"TANDEM_HUBSPOT_BASE_URL": hubspot.base_url}
    )
    try:
        yield Crms(hubspot, salesforce, delivery)
    finally:
        delivery.process.kill(signal.SIGTERM)
        # The stand-ins are gone: no other delivery process should keep syncing to them.
        await platform.admin.execute(
            "DELETE FROM crm_connections WHERE tenant_id = ANY($1::text[])", platform.tenants
        )
        assert hubspot.server and salesforce.server
        await hubspot.server.stop()
        await salesforce.server.stop()


def journey(lead: str, trait: str, record_id: str) -> list[dict[str, Any]]:
    at = NOW - timedelta(hours=2)
    return [
        {
            "event_id": f"{lead}-id",
            "type": "identify",
            "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "lead_id": lead,
            "properties": {"traits": {trait: record_id, "company_size": 250}},
        },
        {
            "event_id": f"{lead}-demo",
            "type": "demo_request",
            "occurred_at": (at + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "lead_id": lead,
            "channel": "paid_search",
            "campaign_id": "c-crm",
        },
    ]


def iso(value: Any) -> str:
    return "" if value is None else value.isoformat().replace("+00:00", "Z")


async def test_hubspot_gets_batched_changed_values_and_its_429_is_honoured(
    platform: Platform, crms: Crms
) -> None:
    hubspot = crms.hubspot
    tenant, key = await platform.create_tenant("crm")
    await platform.admin.execute(
        "INSERT INTO crm_connections (tenant_id, provider, token, id_trait, field_map)"
        " VALUES ($1, 'hubspot', $2, 'hubspot_id', '{}')",
        tenant,
        HS_TOKEN,
    )
    events = [e for i in range(150) for e in journey(f"L-{i}", "hubspot_id", hs_id(i))]
    await platform.post_events(key, events)
    names = DEFAULT_FIELD_MAPS["hubspot"]

    async def synced() -> bool:
        leads = await platform.leads(tenant)
        if len(leads) < 150:
            return False
        return all(
            hubspot.contacts[hs_id(i)].get(names["stage"]) == leads[f"L-{i}"]["stage"]
            and hubspot.contacts[hs_id(i)].get(names["engagement_score"])
            == str(leads[f"L-{i}"]["engagement_score"])
            for i in range(150)
        )

    await platform.wait_for(synced, WAIT_S, "150 HubSpot contacts to hold the leads' values")
    leads = await platform.leads(tenant)
    for i in range(150):
        lead, props = leads[f"L-{i}"], hubspot.contacts[hs_id(i)]
        assert props == {
            names["stage"]: lead["stage"],
            names["fit_score"]: str(lead["fit_score"]),
            names["fit_grade"]: lead["fit_grade"],
            names["engagement_score"]: str(lead["engagement_score"]),
            names["matrix"]: lead["matrix"],
            names["mql_at"]: iso(lead["mql_at"]),
        }
    assert hubspot.refused == []
    assert len(hubspot.batches) >= 2
    assert all(1 <= len(b) <= MAX_INPUTS for b in hubspot.batches)
    assert hubspot.throttled >= 1 and hubspot.early == 0  # 429 seen, Retry-After kept

    # Idempotent: a change of stage alone sends that property alone, for that contact alone.
    before = len(hubspot.batches)
    await platform.post_events(
        key,
        [
            {
                "event_id": "L-7-accept",
                "type": "lead_accepted",
                "lead_id": "L-7",
                "occurred_at": (NOW - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
        ],
    )

    async def accepted() -> bool:
        return hubspot.contacts[hs_id(7)].get(names["stage"]) == "SQL"

    await platform.wait_for(accepted, WAIT_S, "the accepted lead's stage in HubSpot")
    later = [item for batch in hubspot.batches[before:] for item in batch]
    assert later == [{"id": hs_id(7), "properties": {names["stage"]: "SQL"}}]


async def test_salesforce_gets_composite_batches_of_200(platform: Platform, crms: Crms) -> None:
    salesforce = crms.salesforce
    tenant, key = await platform.create_tenant("crm")
    await platform.admin.execute(
        "INSERT INTO crm_connections (tenant_id, provider, base_url, token, object_type,"
        " id_trait, field_map, api_version)"
        " VALUES ($1, 'salesforce', $2, $3, 'Lead', 'sfdc_id', $4::jsonb, 'v61.0')",
        tenant,
        salesforce.base_url,
        SF_TOKEN,
        json.dumps(SF_FIELDS),
    )
    events = [e for i in range(250) for e in journey(f"S-{i}", "sfdc_id", sf_id(i))]
    await platform.post_events(key, events)

    async def synced() -> bool:
        leads = await platform.leads(tenant)
        return len(leads) == 250 and all(
            salesforce.records[sf_id(i)].get("Stage__c") == leads[f"S-{i}"]["stage"]
            and salesforce.records[sf_id(i)].get("Engagement__c")
            == leads[f"S-{i}"]["engagement_score"]
            for i in range(250)
        )

    await platform.wait_for(synced, WAIT_S, "250 Salesforce leads to hold the leads' values")
    leads = await platform.leads(tenant)
    for i in range(250):
        lead, record = leads[f"S-{i}"], salesforce.records[sf_id(i)]
        assert record == {
            "Stage__c": lead["stage"],
            "Fit_Score__c": lead["fit_score"],
            "Fit_Grade__c": lead["fit_grade"],
            "Engagement__c": lead["engagement_score"],
            "Matrix__c": lead["matrix"],
            "MQL_Time__c": iso(lead["mql_at"]),
        }
    assert salesforce.refused == []
    assert len(salesforce.batches) >= 2
    for batch in salesforce.batches:
        assert batch["allOrNone"] is False
        assert 1 <= len(batch["records"]) <= MAX_RECORDS
        assert all(r["attributes"] == {"type": "Lead"} for r in batch["records"])
    assert salesforce.throttled >= 1 and salesforce.early == 0


async def test_cli_sets_the_connection_and_mapping(platform: Platform) -> None:
    from services.admin.crm import disable_connection, parse_mapping, set_connection
    from services.admin.tenants import TenantError

    tenant, _ = await platform.create_tenant("crm")
    fields = await set_connection(
        platform.admin_url,
        tenant,
        "salesforce",
        token="00Dtok",
        base_url="https://acme.my.salesforce.com",
        id_trait="sfdc_id",
        object_type="Contact",
        mapping=parse_mapping(["stage=Lifecycle__c"]),
    )
    assert fields["stage"] == "Lifecycle__c"
    assert fields["fit_score"] == DEFAULT_FIELD_MAPS["salesforce"]["fit_score"]
    row = await platform.admin.fetchrow(
        "SELECT * FROM crm_connections WHERE tenant_id = $1", tenant
    )
    assert row["enabled"] and row["object_type"] == "Contact" and row["id_trait"] == "sfdc_id"
    assert json.loads(row["field_map"]) == fields
    assert await disable_connection(platform.admin_url, tenant, "salesforce")
    assert not await platform.admin.fetchval(
        "SELECT enabled FROM crm_connections WHERE tenant_id = $1", tenant
    )
    with pytest.raises(TenantError, match="field must be one of"):
        parse_mapping(["score=X"])
    # a tenant's CRM address is under the outbound policy: no metadata service, no NAT64
    for refused in ("http://169.254.169.254/latest", "https://[64:ff9b::a9fe:a9fe]/"):
        with pytest.raises(TenantError, match="resolves to"):
            await set_connection(
                platform.admin_url, tenant, "salesforce", token="t", base_url=refused
            )
    with pytest.raises(TenantError, match="must be one of Lead, Contact"):
        await set_connection(
            platform.admin_url, tenant, "salesforce", token="t", object_type="Deal"
        )
