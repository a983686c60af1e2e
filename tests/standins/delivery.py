"""The delivery process as integration tests run it: `tandem delivery` beside the platform's
worker and gateway, on the run's topics, with a consumer group of its own, loopback
receivers allowed and retries quick enough for a test."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.webhooks import seal_secret
from tests.conftest import RUN_ID
from tests.integration.conftest import Platform, Process, _free_port


@dataclass
class Delivery:
    process: Process
    metrics_url: str

    def restart(self) -> None:
        self.process.kill(signal.SIGKILL)
        self.process.start()


def delivery_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "TANDEM_FIXED_NOW": "2026-11-20T00:00:00+00:00",
        "TANDEM_DELIVERY_GROUP": f"test-{RUN_ID}-delivery-{uuid.uuid4().hex[:6]}",
        "TANDEM_WEBHOOK_TIMEOUT_S": "3",
        # The restart test bounds its repeats by it.
        "TANDEM_WEBHOOK_CONCURRENCY": "4",
        "TANDEM_WEBHOOK_RETRY_BASE_S": "0.3",
        "TANDEM_WEBHOOK_RETRY_MAX_S": "2",
        "TANDEM_DELIVERY_POLL_INTERVAL_S": "0.5",
        "TANDEM_DELIVERY_SWEEP_INTERVAL_S": "1",
        "TANDEM_CRM_SYNC_INTERVAL_S": "0.5",
        "TANDEM_PUBLIC_URL": "http://dashboard.test",
        # No test reaches the real Monday.com: a board left by a test finds nothing here.
        "TANDEM_MONDAY_BASE_URL": "http://127.0.0.1:9",
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }


async def start_delivery(
    platform: Platform, log_dir: Path, extra: dict[str, str] | None = None
) -> Delivery:
    port = _free_port()
    env = delivery_env({"TANDEM_DELIVERY_HTTP_PORT": str(port), **(extra or {})})
    tandem = str(Path(sys.executable).with_name("tandem"))
    name = f"delivery-{uuid.uuid4().hex[:6]}"
    process = Process(name, [tandem, "delivery"], env, log_dir / f"{name}.log")
    process.start()
    delivery = Delivery(process, f"http://127.0.0.1:{port}")
    async with httpx.AsyncClient(base_url=delivery.metrics_url) as client:

        async def healthy() -> bool:
            if not process.alive():
                raise AssertionError(f"delivery process exited:\n{process.tail()}")
            try:
                return (await client.get("/healthz")).status_code == 200
            except httpx.HTTPError:
                return False

        await platform.wait_for(healthy, 60, "the delivery service to be healthy")
    return delivery


@pytest.fixture(scope="module")
async def delivery(platform: Platform, logs_dir: Path) -> AsyncIterator[Delivery]:
    running = await start_delivery(platform, logs_dir)
    try:
        yield running
    finally:
        running.process.kill(signal.SIGTERM)
        await forget_webhooks(platform)


async def forget_webhooks(platform: Platform) -> None:
    """The run's receivers are gone: its webhooks and their deliveries go too, or every
    delivery process on this database would retry them for a day."""
    await platform.admin.execute(
        "DELETE FROM webhooks WHERE tenant_id = ANY($1::text[])", platform.tenants
    )


async def add_webhook(
    admin: asyncpg.Pool,
    tenant: str,
    url: str,
    event_types: list[str],
    *,
    slack: bool = False,
    threshold: int = 10,
) -> tuple[str, str]:
    """A subscription written as the GraphQL mutation stores it; returns (id, secret)."""
    webhook_id = f"wh_{uuid.uuid4().hex[:12]}"
    secret = "whsec_" + secrets.token_urlsafe(24)
    await admin.execute(
        "INSERT INTO webhooks (tenant_id, webhook_id, url, event_types, secret, slack_format,"
        " score_threshold) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        tenant,
        webhook_id,
        url,
        event_types,
        seal_secret(secret, tenant),
        slack,
        threshold,
    )
    return webhook_id, secret


async def delivery_rows(admin: asyncpg.Pool, webhook_id: str) -> list[dict[str, Any]]:
    rows = await admin.fetch(
        "SELECT d.*, coalesce(array_agg(a.status_code ORDER BY a.attempt)"
        " FILTER (WHERE a.attempt IS NOT NULL), '{}') AS codes"
        " FROM webhook_deliveries d LEFT JOIN webhook_attempts a"
        " ON a.tenant_id = d.tenant_id AND a.delivery_id = d.delivery_id"
        " WHERE d.webhook_id = $1 GROUP BY d.tenant_id, d.delivery_id",
        webhook_id,
    )
    return [dict(r) for r in rows]
