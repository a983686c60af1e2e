"""`tandem demo`: a demo tenant with realistic journeys, sent through the public API.

The events go through POST /v1/events like a partner tool's, so the demo exercises the
whole path (gateway, Kafka, workers, read model) rather than writing rows behind its back.
The admin key goes to stdout (deploy/local/platform.sh greps it from there); progress goes
to stderr.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson

from services.admin.progress import progress
from services.admin.tenants import SLUG, TenantError, create_api_key, create_tenant
from shared.settings import load_settings
from simulation.generator import JourneyGenerator

BATCH = 500
# The demo is a fixed story: the same seed gives the same leads on every machine.
SEED = 20_261_120
MAX_ATTEMPTS = 8
# How long to wait for the workers to show the events before summarising without them.
SETTLE_S = 30.0
# A year of history: enough leads reach an outcome (won, lost, or 90 days old) for the
# predictive model and the forecast's backtest, with as many leads in the last 90 days as
# the dashboard's default period has always shown.
SPAN_DAYS = 365


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def load_demo(slug: str, url: str | None, leads: int = 1200) -> int:
    settings = load_settings()
    base = (url or f"http://127.0.0.1:{settings.http_port}").rstrip("/")
    if not SLUG.match(slug):
        raise TenantError(f"tenant slug {slug!r} must match {SLUG.pattern}")
    try:
        key = await create_tenant(settings.database_admin_url, slug)
        _progress(f"[demo] tenant {slug} created")
    except TenantError:
        key = await create_api_key(settings.database_admin_url, slug, "admin")
        _progress(f"[demo] tenant {slug} exists already; created a fresh admin key")
    print(f"demo admin API key: {key}", flush=True)

    generator = JourneyGenerator(
        slug, seed=SEED, now=datetime.now(UTC), span_days=SPAN_DAYS, include_tenant_id=False
    )
    events = generator.time_ordered(leads)
    _progress(f"[demo] sending {len(events)} events of {leads} leads to {base}/v1/events")
    started = time.monotonic()
    accepted, rejected = 0, 0
    client = httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=30)
    async with client:
        with progress() as bar:
            task = bar.add_task("[demo] sending events", total=len(events))
            for offset in range(0, len(events), BATCH):
                try:
                    result = await _post(client, events[offset : offset + BATCH])
                except (httpx.HTTPError, RuntimeError) as exc:
                    _progress(f"[demo] sending failed after {accepted} accepted events: {exc}")
                    return 1
                accepted += result["accepted"]
                rejected += len(result["rejected"])
                for problem in result["rejected"][:3]:
                    _progress(f"[demo] rejected: {orjson.dumps(problem).decode()}")
                bar.update(task, completed=accepted + rejected)
    elapsed = time.monotonic() - started
    _progress(f"[demo] {accepted} events accepted in {elapsed:.1f} s")

    stages = await _wait_for_read_model(settings.database_admin_url, slug, accepted)
    print(f"demo tenant {slug}: {leads} leads, {accepted} events accepted, {rejected} rejected")
    if stages:
        print("  pipeline: " + ", ".join(f"{stage} {count}" for stage, count in stages))
    else:
        print("  the workers have not shown the events yet; they appear as they are processed")
    return 0 if rejected == 0 else 1


async def _post(client: httpx.AsyncClient, batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Posts one batch, waiting out rate limits and a briefly unavailable Kafka."""
    body = orjson.dumps(batch)
    status = 0
    for _ in range(MAX_ATTEMPTS):
        response = await client.post(
            "/v1/events", content=body, headers={"Content-Type": "application/json"}
        )
        status = response.status_code
        if status == 200:
            result: dict[str, Any] = response.json()
            return result
        if status not in (429, 503):
            raise RuntimeError(f"HTTP {status}: {response.text[:300]}")
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    raise RuntimeError(f"gave up after {MAX_ATTEMPTS} attempts (last answer HTTP {status})")


async def _wait_for_read_model(admin_dsn: str, slug: str, accepted: int) -> list[tuple[str, int]]:
    """The tenant's leads per stage once the workers have applied every accepted event."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        deadline = time.monotonic() + SETTLE_S
        while True:
            applied = await conn.fetchval(
                "SELECT (SELECT count(*) FROM events WHERE tenant_id = $1)"
                " + (SELECT count(*) FROM spend WHERE tenant_id = $1)",
                slug,
            )
            if applied >= accepted:
                break
            if time.monotonic() > deadline:
                return []
            _progress(f"[demo] waiting for the workers: {applied}/{accepted} events applied")
            await asyncio.sleep(2)
        rows = await conn.fetch(
            "SELECT stage, count(*) AS n FROM leads WHERE tenant_id = $1"
            " GROUP BY stage ORDER BY n DESC",
            slug,
        )
        return [(r["stage"], r["n"]) for r in rows]
    finally:
        await conn.close()
