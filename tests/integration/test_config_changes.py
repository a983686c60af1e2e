"""Tenant configuration through the database/config path: applied to later events, and
existing leads re-scored within 60 s (SPEC 4)."""

from __future__ import annotations

from typing import Any

import asyncpg

from shared.config_store import save_config
from shared.db import create_pool
from shared.kafka import make_producer
from tests.integration.conftest import Platform
from tests.integration.test_worked_example import LEAD_EVENTS, assert_leads_match
from tests.worked_example import expected_leads, icp_config, sample_events


async def save(platform: Platform, tenant: str, section: str, patch: dict[str, Any]) -> None:
    """Saves config the way the API does: a version in PostgreSQL, a note on Kafka."""
    pool = await create_pool(platform.database_url, max_size=2)
    producer = make_producer(platform.kafka_bootstrap)
    await producer.start()
    try:
        await save_config(pool, tenant, section, patch, "test:admin", producer)
    finally:
        await producer.stop()
        await pool.close()


async def apply_icp(platform: Platform, tenant: str) -> None:
    await save(platform, tenant, "icp", icp_config())


async def test_a_config_set_before_the_events_gives_the_icp_example(platform: Platform) -> None:
    tenant, key = await platform.create_tenant("icp-first")
    await apply_icp(platform, tenant)
    await platform.post_events(key, sample_events())
    await platform.wait_events(tenant, LEAD_EVENTS)
    assert_leads_match(await platform.leads(tenant), expected_leads("expected-icp.json"))


async def test_an_icp_change_rescores_existing_leads_within_60_s(platform: Platform) -> None:
    tenant, key = await platform.create_tenant("icp-later")
    await platform.post_events(key, sample_events())
    await platform.wait_events(tenant, LEAD_EVENTS)
    before = await platform.leads(tenant)
    want = expected_leads("expected-icp.json")

    await apply_icp(platform, tenant)

    async def rescored() -> bool:
        rows = await platform.leads(tenant)
        return all(
            rows[lead]["fit_score"] == want[lead]["fitScore"]
            and rows[lead]["fit_grade"] == want[lead]["fitGrade"]
            and rows[lead]["disqualified"] == want[lead]["disqualified"]
            for lead in want
        )

    await platform.wait_for(rescored, 60, "every lead to be re-scored under the new ICP")
    after = await platform.leads(tenant)
    order = ["AWARE", "ENGAGED", "MQL", "SQL", "OPPORTUNITY", "CUSTOMER"]
    for lead, row in after.items():
        # Stages never move back because of a re-score; the flag is set, the stage kept.
        old: asyncpg.Record = before[lead]
        assert order.index(row["highest_stage"]) >= order.index(old["highest_stage"]), lead
        if row["stage"] != old["stage"]:
            assert row["stage"] == "MQL" and old["stage"] in {"AWARE", "ENGAGED", "NURTURE"}, lead
    versions = await platform.admin.fetch(
        "SELECT version, author, section FROM tenant_config_versions WHERE tenant_id = $1",
        tenant,
    )
    assert [(v["version"], v["author"], v["section"]) for v in versions] == [
        (1, "test:admin", "icp")
    ]
