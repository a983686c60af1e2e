"""The gateway's overview cache: readers of a tenant share one answer of metrics + pipeline
until the tenant's read model changes, and then see the change."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.integration.conftest import Platform

QUERY = (
    "query ($from: DateTime!, $to: DateTime!) { metrics(from: $from, to: $to) { leadsCreated }"
    " pipeline { total } }"
)
PERIOD = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}


def lead(n: int) -> dict[str, Any]:
    return {
        "event_id": f"ov-{n}",
        "type": "form_submit",
        "occurred_at": f"2026-11-1{n}T10:00:00Z",
        "lead_id": f"OV-{n}",
        "channel": "webinar",
    }


async def overview(platform: Platform, key: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        answer = await client.post(
            "/graphql",
            content=orjson.dumps({"query": QUERY, "variables": PERIOD}),
            headers={"X-API-Key": key, "content-type": "application/json"},
        )
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


async def test_readers_share_an_answer_that_follows_every_change(platform: Platform) -> None:
    tenant, admin = await platform.create_tenant("overview")
    viewer = await platform.api_key(tenant, "viewer")
    _, other_admin = await platform.create_tenant("overview-other")
    await platform.post_events(admin, [lead(1)])
    await platform.wait_events(tenant, 1)

    first = await overview(platform, viewer)
    assert first == {"metrics": {"leadsCreated": 1}, "pipeline": {"total": 1}}
    assert await overview(platform, admin) == first
    # Same query text and variables, another tenant: its own answer, not the cached one.
    assert await overview(platform, other_admin) == {
        "metrics": {"leadsCreated": 0},
        "pipeline": {"total": 0},
    }

    await platform.post_events(admin, [lead(2)])
    await platform.wait_events(tenant, 2)

    async def shows_the_new_lead() -> bool:
        return await overview(platform, viewer) == {
            "metrics": {"leadsCreated": 2},
            "pipeline": {"total": 2},
        }

    await platform.wait_for(shows_the_new_lead, 10, "the overview to show the second lead")


async def test_an_ingest_key_is_refused_rather_than_served_from_the_cache(
    platform: Platform,
) -> None:
    tenant, admin = await platform.create_tenant("overview-ingest")
    ingest = await platform.api_key(tenant, "ingest")
    await overview(platform, admin)  # the answer is cached for readers
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        answer = await client.post(
            "/graphql",
            content=orjson.dumps({"query": QUERY, "variables": PERIOD}),
            headers={"X-API-Key": ingest, "content-type": "application/json"},
        )
    assert answer.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
