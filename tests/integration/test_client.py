"""The Python client against the real gateway: gzipped batches, both background flavours,
rejections reported, and the GraphQL helper reading the leads back."""

from __future__ import annotations

import asyncio

import pytest
from tandem_client import AsyncTandemClient, BatchResult, GraphQLError, TandemClient, TandemError

from tests.integration.conftest import Platform


def _events(prefix: str, n: int) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"{prefix}-{i}",
            "type": "demo_request",
            "occurred_at": "2026-11-19T10:00:00Z",
            "lead_id": f"{prefix}-lead-{i % 7}",
            "channel": "paid_search",
        }
        for i in range(n)
    ]


async def test_thread_client_sends_gzipped_batches_and_reads_leads_back(
    platform: Platform,
) -> None:
    tenant, admin = await platform.create_tenant("client")

    def work() -> tuple[int, list[object], dict[str, object]]:
        with TandemClient(admin, platform.gateway_url, batch_size=100) as client:
            result = client.send([*_events("sync", 1200), {"event_id": "bad", "type": "nope"}])
            for event in _events("queued", 250):
                client.enqueue(event)
            assert client.flush(timeout=60)
            data = client.graphql("{ pipeline { stages { stage count } } }")
            return result.accepted, [r.event_id for r in result.rejected], data

    accepted, rejected, data = await asyncio.to_thread(work)
    # 1,201 events split into two requests by the gateway's 1,000-event limit
    assert (accepted, rejected) == (1_200, ["bad"])
    await platform.wait_events(tenant, 1_450)
    assert len(await platform.leads(tenant)) == 14
    assert isinstance(data["pipeline"], dict)


async def test_async_client_flushes_from_a_task_and_raises_typed_errors(
    platform: Platform,
) -> None:
    tenant, admin = await platform.create_tenant("aclient")
    results: list[BatchResult] = []
    async with AsyncTandemClient(
        admin, platform.gateway_url, batch_size=50, on_result=results.append
    ) as client:
        for event in _events("async", 120):
            await client.enqueue(event)
        await client.flush()
        with pytest.raises(GraphQLError) as err:
            await client.graphql("{ lead(id: 1) { nope } }")
        assert err.value.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
        lead = await client.graphql('{ lead(id: "async-lead-0") { id } }')
    assert sum(r.accepted for r in results) == 120
    await platform.wait_events(tenant, 120)
    assert lead["lead"] is None or lead["lead"]["id"] == "async-lead-0"
    async with AsyncTandemClient("tdm_wrong_key", platform.gateway_url) as bad:
        with pytest.raises(TandemError) as refused:
            await bad.send(_events("x", 1))
    assert refused.value.status == 401
