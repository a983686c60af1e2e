"""Kafka or PostgreSQL going away and coming back loses nothing (SPEC 11)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import httpx
import orjson

from tests.conftest import REPO
from tests.integration.conftest import Platform

STACK = str(REPO / "deploy" / "local" / "stack.sh")


def stack(command: str) -> None:
    subprocess.run(["bash", STACK, command], check=True, capture_output=True, timeout=180)


def touches(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}-{i}",
            "type": "form_submit",
            "occurred_at": "2026-11-19T10:00:00Z",
            "lead_id": f"{prefix}-lead-{i % 7}",
            "channel": "webinar",
        }
        for i in range(n)
    ]


async def count(platform: Platform, tenant: str, like: str) -> int:
    return int(
        await platform.admin.fetchval(
            "SELECT count(*) FROM events WHERE tenant_id = $1 AND event_id LIKE $2", tenant, like
        )
    )


async def test_kafka_down_answers_503_fast_and_nothing_of_it_appears_later(
    platform: Platform,
) -> None:
    tenant, key = await platform.create_tenant("kafka-out")
    headers = {"X-API-Key": key, "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        ok = await client.post(
            "/v1/events", content=orjson.dumps(touches("before", 20)), headers=headers
        )
        assert ok.status_code == 200
        stack("stop-kafka")
        try:
            started = time.monotonic()
            refused = await client.post(
                "/v1/events", content=orjson.dumps(touches("during", 20)), headers=headers
            )
            elapsed = time.monotonic() - started
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"]
            assert elapsed < 5, elapsed
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["kafka"] != "ok"
        finally:
            stack("start-kafka")

        async def accepted_again() -> bool:
            response = await client.post(
                "/v1/events", content=orjson.dumps(touches("after", 20)), headers=headers
            )
            return response.status_code == 200

        await platform.wait_for(accepted_again, 60, "the gateway to accept again")

    async def after_applied() -> bool:
        return await count(platform, tenant, "after-%") == 20

    await platform.wait_for(after_applied, 90, "the events sent after the outage")
    assert await count(platform, tenant, "before-%") == 20
    await asyncio.sleep(3)
    assert await count(platform, tenant, "during-%") == 0


async def test_postgres_down_pauses_the_worker_and_loses_nothing(platform: Platform) -> None:
    tenant, key = await platform.create_tenant("pg-out")
    await platform.post_events(key, touches("first", 30))

    async def first_applied() -> bool:
        return await count(platform, tenant, "first-%") == 30

    await platform.wait_for(first_applied, 60, "the first events")
    await platform.admin.close()
    stack("stop-postgres")
    try:
        # Authentication needs PostgreSQL, so ingestion says "unavailable", not "error".
        async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
            response = await client.post(
                "/v1/events",
                content=orjson.dumps(touches("second", 30)),
                headers={"X-API-Key": key, "content-type": "application/json"},
            )
            assert response.status_code == 503, response.text
        # Records reaching Kafka while PostgreSQL is away wait in the log for the worker.
        from aiokafka import AIOKafkaProducer

        from shared.kafka import TOUCHPOINTS

        producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for event in touches("second", 30):
                record = {**event, "tenant_id": tenant}
                await producer.send_and_wait(
                    TOUCHPOINTS, orjson.dumps(record), key=f"{tenant}:{event['lead_id']}".encode()
                )
        finally:
            await producer.stop()
        await asyncio.sleep(5)
        assert platform.worker.alive(), platform.worker.tail()
    finally:
        stack("start-postgres")
        import asyncpg

        pool = await asyncpg.create_pool(platform.admin_url, min_size=1, max_size=4)
        assert pool is not None
        platform.admin = pool

    async def second_applied() -> bool:
        return await count(platform, tenant, "second-%") == 30

    await platform.wait_for(second_applied, 120, "the events sent while PostgreSQL was down")
    leads = await platform.leads(tenant)
    assert len(leads) == 14
