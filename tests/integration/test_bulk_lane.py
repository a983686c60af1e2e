"""The bulk lane: `POST /v1/events?lane=bulk` answers like the live lane, travels on its own
topic, and its events are applied like live ones."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from shared.kafka import TOUCHPOINTS_BULK
from tests.integration.conftest import Platform, read_topic


def view(event_id: str, lead: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "page_view",
        "occurred_at": "2026-11-19T10:00:00Z",
        "lead_id": lead,
        "channel": "organic_search",
    }


async def bulk_topic_events(bootstrap: str) -> list[dict[str, Any]]:
    # A record of the bulk lane holds an array of events.
    return [e for m in await read_topic(bootstrap, TOUCHPOINTS_BULK) for e in orjson.loads(m.value)]


async def test_bulk_events_travel_apart_and_are_applied(platform: Platform) -> None:
    importer, importer_key = await platform.create_tenant("importer")
    live, live_key = await platform.create_tenant("live")
    backfill = [view(f"bulk-{i}", f"b-L{i % 40}") for i in range(1_500)]
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        headers = {"X-API-Key": importer_key, "content-type": "application/json"}
        for i in range(0, len(backfill), 500):
            response = await client.post(
                "/v1/events?lane=bulk", content=orjson.dumps(backfill[i : i + 500]), headers=headers
            )
            assert response.status_code == 200, response.text
            assert response.json() == {"accepted": 500, "rejected": []}
        refused = await client.post(
            "/v1/events?lane=fast", content=orjson.dumps(backfill[:1]), headers=headers
        )
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "BAD_LANE"
    await platform.post_events(live_key, [view(f"live-{i}", f"l-L{i}") for i in range(20)])
    await platform.wait_events(live, 20)
    await platform.wait_events(importer, len(backfill))
    on_bulk = await bulk_topic_events(platform.kafka_bootstrap)
    assert sorted(e["event_id"] for e in on_bulk if e["tenant_id"] == importer) == sorted(
        e["event_id"] for e in backfill
    )
    assert not [e for e in on_bulk if e["tenant_id"] == live]
    leads = await platform.leads(importer)
    assert len(leads) == 40
