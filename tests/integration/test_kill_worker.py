"""SIGKILL a worker in the middle of a stream: the read model ends as if nothing happened."""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from shared.kafka import TOUCHPOINTS
from shared.validation import event_key
from tests.integration.conftest import Platform
from tests.worked_example import sample_events

COPIES = 25


def replicated(tenant: str) -> list[dict[str, Any]]:
    """The worked example's leads, COPIES times over, as single-event Kafka records."""
    out = []
    for copy in range(COPIES):
        for event in sample_events():
            e = {**event, "tenant_id": tenant, "event_id": f"{event['event_id']}-{copy}"}
            for field in ("lead_id", "anonymous_id", "campaign_id"):
                if field in e:
                    e[field] = f"{e[field]}-{copy}"
            if "opportunity_id" in e.get("properties", {}):
                opportunity = f"{e['properties']['opportunity_id']}-{copy}"
                e["properties"] = {**e["properties"], "opportunity_id": opportunity}
            out.append(e)
    return out


async def produce(bootstrap: str, events: list[dict[str, Any]], topic: str = TOUCHPOINTS) -> None:
    """Writes the events to the topic one record each, keyed as the gateway keys them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for e in events:
            await producer.send(topic, orjson.dumps(e), key=event_key(e).encode())
        await producer.flush()
    finally:
        await producer.stop()


async def snapshot(platform: Platform, tenant: str) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "leads": "SELECT * FROM leads WHERE tenant_id = $1 ORDER BY lead_id",
        "transitions": "SELECT * FROM stage_transitions WHERE tenant_id = $1"
        " ORDER BY lead_id, ordinal",
        "opportunities": "SELECT * FROM opportunities WHERE tenant_id = $1 ORDER BY 2",
        "credits": "SELECT * FROM attribution_credits WHERE tenant_id = $1"
        " ORDER BY lead_id, opportunity_id, kind, model, touch_event_id",
        "spend": "SELECT * FROM spend WHERE tenant_id = $1 ORDER BY event_id",
    }
    # Bookkeeping that differs between any two runs: write times and log positions.
    skip = {"tenant_id", "updated_at", "scored_at", "last_seq"}
    out = {}
    for name, sql in queries.items():
        rows = []
        for r in await platform.admin.fetch(sql, tenant):
            rows.append(tuple(v for k, v in r.items() if k not in skip))
        out[name] = rows
    return out


async def test_sigkill_mid_stream_leaves_the_read_model_as_an_uninterrupted_run(
    platform: Platform,
) -> None:
    killed, _ = await platform.create_tenant("killed")
    calm, _ = await platform.create_tenant("calm")
    killed_events = replicated(killed)
    lead_events = sum(1 for e in killed_events if e["type"] != "campaign_spend")

    await produce(platform.kafka_bootstrap, killed_events)

    async def partly_applied() -> bool:
        n = await platform.admin.fetchval(
            "SELECT count(*) FROM events WHERE tenant_id = $1", killed
        )
        return bool(n >= lead_events // 5)

    await platform.wait_for(partly_applied, 90, "a fifth of the stream to be applied")
    platform.restart_worker()
    await platform.wait_events(killed, lead_events, timeout=180)

    await produce(platform.kafka_bootstrap, replicated(calm))
    await platform.wait_events(calm, lead_events, timeout=180)

    got, want = await snapshot(platform, killed), await snapshot(platform, calm)

    def untenant(rows: list[tuple[Any, ...]]) -> list[str]:
        return [repr(r).replace(calm, "T").replace(killed, "T") for r in rows]

    for table in want:
        assert len(got[table]) == len(want[table]), table
        assert untenant(got[table]) == untenant(want[table]), table
