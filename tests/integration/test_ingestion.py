"""POST /v1/events against the real gateway and broker (SPEC 9.1)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from shared.kafka import TOPICS, TOUCHPOINTS, partition_for
from shared.validation import event_key
from tests.integration.conftest import Platform, read_topic
from tests.worked_example import sample_events


def touch(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "page_view",
        "occurred_at": "2026-11-19T10:00:00Z",
        "lead_id": "L-1",
        "channel": "organic_search",
        **extra,
    }


@pytest.fixture(scope="module")
async def acme(platform: Platform) -> tuple[str, str]:
    return await platform.create_tenant("acme")


async def post(platform: Platform, body: bytes, key: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if key:
        headers["X-API-Key"] = key
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        return await client.post("/v1/events", content=body, headers=headers)


async def test_sample_events_are_accepted_and_land_on_their_key_partitions(
    platform: Platform, acme: tuple[str, str]
) -> None:
    tenant, key = acme
    events = sample_events()
    for i in range(0, len(events), 200):
        response = await post(platform, orjson.dumps(events[i : i + 200]), key)
        assert response.status_code == 200
        assert response.json() == {"accepted": len(events[i : i + 200]), "rejected": []}

    found: dict[str, int] = {}
    for message in await read_topic(platform.kafka_bootstrap, TOUCHPOINTS):
        # Other tests write single events and poison to the same topic.
        try:
            decoded = orjson.loads(message.value)
        except orjson.JSONDecodeError:
            continue
        for event in decoded if isinstance(decoded, list) else [decoded]:
            if isinstance(event, dict) and event.get("tenant_id") == tenant:
                found[event["event_id"]] = message.partition
    assert len(found) == len(events)
    (partitions,) = [t.partitions for t in TOPICS if t.name == TOUCHPOINTS]
    for event in events:
        expected_partition = partition_for(event_key(event, tenant_id=tenant), partitions)
        assert found[event["event_id"]] == expected_partition, event["event_id"]


async def test_not_json_is_400(platform: Platform, acme: tuple[str, str]) -> None:
    response = await post(platform, b"{not json", acme[1])
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


async def test_not_an_array_is_400(platform: Platform, acme: tuple[str, str]) -> None:
    response = await post(platform, orjson.dumps(touch("e1")), acme[1])
    assert response.status_code == 400
    assert "array" in response.json()["error"]["message"]


async def test_1001_events_are_413(platform: Platform, acme: tuple[str, str]) -> None:
    body = orjson.dumps([touch(f"e{i}") for i in range(1001)])
    response = await post(platform, body, acme[1])
    assert response.status_code == 413
    assert "at most 1000" in response.json()["error"]["message"]


async def test_body_over_1_mib_is_413(platform: Platform, acme: tuple[str, str]) -> None:
    big = [touch(f"e{i}", properties={"pad": "x" * 2000}) for i in range(560)]
    body = orjson.dumps(big)
    assert len(body) > 1.1 * 1024 * 1024 - 20_000
    response = await post(platform, body, acme[1])
    assert response.status_code == 413
    assert "1 MiB" in response.json()["error"]["message"]


async def test_no_key_is_401(platform: Platform) -> None:
    response = await post(platform, orjson.dumps([touch("e1")]), None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_wrong_key_is_401(platform: Platform) -> None:
    response = await post(platform, orjson.dumps([touch("e1")]), "tdm_nope_nope")
    assert response.status_code == 401


async def test_event_of_another_tenant_is_rejected_by_field(
    platform: Platform, acme: tuple[str, str]
) -> None:
    response = await post(platform, orjson.dumps([touch("e1", tenant_id="globex")]), acme[1])
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 0
    [rejected] = body["rejected"]
    assert rejected["index"] == 0 and rejected["event_id"] == "e1"
    assert rejected["errors"][0]["field"] == "tenant_id"
    assert "globex" not in rejected["errors"][0]["reason"]


async def test_a_batch_with_three_invalid_events_accepts_the_seven_valid(
    platform: Platform, acme: tuple[str, str]
) -> None:
    tenant, key = acme
    events = [touch(f"mixed-{i}", lead_id=f"mixed-lead-{i}") for i in range(10)]
    events[2]["channel"] = "carrier_pigeon"
    del events[5]["occurred_at"]
    events[8]["type"] = "lead_rejected"  # lead_rejected needs properties.reason
    response = await post(platform, orjson.dumps(events), key)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 7
    by_index = {r["index"]: r for r in body["rejected"]}
    assert sorted(by_index) == [2, 5, 8]
    assert by_index[2]["event_id"] == "mixed-2"
    assert by_index[2]["errors"][0]["field"] == "channel"
    assert by_index[5]["errors"][0]["field"] == "occurred_at"
    assert "reason" in by_index[8]["errors"][0]["field"] + by_index[8]["errors"][0]["reason"]

    async def seven_leads() -> bool:
        n = await platform.admin.fetchval(
            "SELECT count(*) FROM leads WHERE tenant_id = $1 AND lead_id LIKE 'mixed-lead-%'",
            tenant,
        )
        return bool(n == 7)

    await platform.wait_for(seven_leads, 60, "the seven valid events to be applied")


async def test_occurred_at_two_days_ahead_is_rejected(
    platform: Platform, acme: tuple[str, str]
) -> None:
    # The platform's clock is pinned at 2026-11-20T00:00Z for the worked example.
    response = await post(
        platform, orjson.dumps([touch("future", occurred_at="2026-11-22T00:00:01Z")]), acme[1]
    )
    [rejected] = response.json()["rejected"]
    assert rejected["errors"][0]["field"] == "occurred_at"
    assert "future" in rejected["errors"][0]["reason"]


async def test_viewer_key_cannot_send_events(platform: Platform, acme: tuple[str, str]) -> None:
    viewer = await platform.api_key(acme[0], "viewer")
    response = await post(platform, orjson.dumps([touch("v1")]), viewer)
    assert response.status_code == 403
