"""Per-tenant intake quotas, set with `tandem tenant quota` and held in total across
gateway replicas: a request past the quota is refused whole with 429 and Retry-After, and
counts nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from tests.integration.conftest import Platform
from tests.integration.test_graphql_operation_limits import replicas

__all__ = ["replicas"]  # the two extra gateways of that module, a fixture here too


def _quota(*args: str) -> subprocess.CompletedProcess[str]:
    tandem = str(Path(sys.executable).with_name("tandem"))
    return subprocess.run(
        [tandem, "tenant", "quota", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _events(prefix: str, n: int) -> bytes:
    return orjson.dumps(
        [
            {
                "event_id": f"{prefix}-{i}",
                "type": "page_view",
                "lead_id": f"L-{prefix}",
                "occurred_at": "2026-11-19T10:00:00Z",
            }
            for i in range(n)
        ]
    )


async def test_a_daily_quota_holds_in_total_across_replicas(
    platform: Platform, replicas: list[str]
) -> None:
    tenant, key = await platform.create_tenant("quota")
    done = _quota(tenant, "--events-per-day", "10")
    assert done.returncode == 0, done.stderr
    assert "10 events per day" in done.stdout and "no limit" in done.stdout
    headers = {"X-API-Key": key, "content-type": "application/json"}
    accepted = 0
    answers = []
    for n in range(12):
        url = replicas[n % 2]
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            response = await client.post("/v1/events", content=_events(f"d{n}", 1), headers=headers)
        answers.append(response.status_code)
        if response.status_code == 200:
            accepted += response.json()["accepted"]
        else:
            assert response.status_code == 429, response.text
            assert response.json()["error"]["code"] == "QUOTA_EXCEEDED"
            assert int(response.headers["retry-after"]) >= 1
    # the two gateways together admit exactly the day's 10
    assert accepted == 10 and answers == [200] * 10 + [429] * 2
    stored = _quota(tenant, "--events-per-day", "0", "--events-per-second", "4")
    assert "4 events per second" in stored.stdout, stored.stderr

    async def too_large_refused() -> bool:
        # a request larger than the per-second quota can never pass: said so
        async with httpx.AsyncClient(base_url=replicas[0], timeout=30) as client:
            response = await client.post("/v1/events", content=_events("big", 5), headers=headers)
        return response.status_code == 429 and "send smaller requests" in response.text

    await platform.wait_for(too_large_refused, 30, "the per-second quota")
    # within the quota, the tenant sends again (once the gateways have read the change)

    async def open_again() -> bool:
        async with httpx.AsyncClient(base_url=replicas[1], timeout=30) as client:
            response = await client.post("/v1/events", content=_events("after", 1), headers=headers)
        return response.status_code == 200

    await platform.wait_for(open_again, 30, "the changed quota")


async def test_quota_refuses_an_unknown_tenant_and_a_negative_limit(platform: Platform) -> None:
    unknown = _quota("no-such-tenant-xyz", "--events-per-day", "5")
    assert unknown.returncode != 0 and "no tenant" in unknown.stderr
    tenant, _ = await platform.create_tenant("quotabad")
    negative = _quota(tenant, "--events-per-second", "-1")
    assert negative.returncode != 0 and "must be 0" in negative.stderr
