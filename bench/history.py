"""SPEC 12's history figure: the cost of a new event must not grow with the lead's history.

Two leads of one tenant, each with an opportunity: a long one with the scale's touches
(20,000 at full scale) and a short one with SHORT_TOUCHES. Their histories go straight to
the phase's topic as array records and are applied before the clock starts. Then a new
page view is posted for each lead in turn, one at a time, through the gateway; its latency
runs from the HTTP acknowledgement until its row is in the read model (`events`, polled
every POLL_S through the owner's connection). A probe not there after WAIT_S is lost and
counts as infinitely late. The figure is the ratio of the two leads' p50s (target ≤ 1.5).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from bench import figures, workload
from bench.procs import wait_ready

if TYPE_CHECKING:
    from bench.run import Bench

SHORT_TOUCHES = 10
POLL_S = 0.01
WAIT_S = 30.0
PAUSE_S = 0.2  # between probes, so that each finds the worker idle
_CHANNELS = ("organic_search", "direct", "paid_search", "referral", "email")


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lead_history(tenant: str, lead: str, touches: int, now: datetime) -> list[dict[str, Any]]:
    """A known lead's events: its profile, `touches` page views spread over 75 days, and an
    opportunity opened half-way through them (so touches come before and after it)."""
    first = now - timedelta(days=80)
    step = timedelta(days=75) / max(1, touches)

    def event(suffix: str, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
        return {
            "event_id": f"{lead}-{suffix}",
            "tenant_id": tenant,
            "type": kind,
            "occurred_at": _iso(at),
            "lead_id": lead,
            **fields,
        }

    events = [
        event(
            "profile",
            "lead_updated",
            first,
            properties={"traits": {"email": f"{lead}@example.com", "job_title": "Director"}},
        )
    ]
    for i in range(touches):
        at = first + timedelta(minutes=1) + i * step
        if i == touches // 2:
            events.append(
                event(
                    "opp",
                    "opportunity_created",
                    at - timedelta(seconds=1),
                    properties={"opportunity_id": f"{lead}-O1", "amount": 25_000},
                )
            )
        events.append(event(f"t{i:06d}", "page_view", at, channel=_CHANNELS[i % len(_CHANNELS)]))
    return events


async def measure(bench: Bench) -> dict[str, Any]:
    touches = bench.scale.history_touches
    probes = bench.scale.history_probes
    tenant = await bench.tenant("hist")
    key = await bench.key(tenant, "ingest")
    now = datetime.now(UTC)
    leads = {"long": ("hist-long", touches), "short": ("hist-short", SHORT_TOUCHES)}
    bench.say(
        f"history: a lead with {touches:,} touches and one with {SHORT_TOUCHES}, each with"
        f" an opportunity, on {bench.prefix('hist')}*"
    )
    worker = await bench.start_worker("hist", tenant)
    gateway, url = bench.procs.gateway("gateway-hist", bench.env("hist"))
    try:
        await wait_ready(gateway, url)
        setup = workload.array_records(
            (e for lead, n in leads.values() for e in lead_history(tenant, lead, n, now)),
            bench.partitions,
        )
        await bench.timed_apply("hist", setup, [worker], "history set-up", min_rate=200)
        latencies: dict[str, list[float]] = {side: [] for side in leads}
        lost = dict.fromkeys(leads, 0)
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            for i in range(probes):
                for side, (lead, _) in leads.items():
                    event_id = f"{lead}-probe-{i:03d}"
                    body = {
                        "event_id": event_id,
                        "type": "page_view",
                        "occurred_at": _iso(datetime.now(UTC)),
                        "lead_id": lead,
                        "channel": "direct",
                    }
                    response = await client.post("/v1/events", content=orjson.dumps([body]))
                    acked = time.perf_counter()
                    if response.status_code != 200 or response.json()["rejected"]:
                        raise RuntimeError(f"history probe: {response.text[:300]}")
                    seconds = await _visible(bench, tenant, event_id, acked)
                    if seconds is None:
                        lost[side] += 1
                    else:
                        latencies[side].append(seconds)
                    await asyncio.sleep(PAUSE_S)
    finally:
        bench.procs.stop(gateway)
        bench.procs.stop(worker)
    result: dict[str, Any] = {
        "long_touches": touches,
        "short_touches": SHORT_TOUCHES,
        **{side: figures.latency_summary(latencies[side], lost[side]) for side in leads},
    }
    result["ratio"] = figures.ratio(result["long"]["p50_s"], result["short"]["p50_s"])
    bench.say(
        f"  ack → visible p50: {touches:,} touches {result['long']['p50_s'] * 1000:.0f} ms,"
        f" {SHORT_TOUCHES} touches {result['short']['p50_s'] * 1000:.0f} ms:"
        f" {result['ratio']:.2f}x; never seen: {lost['long']} and {lost['short']}"
    )
    return result


async def _visible(bench: Bench, tenant: str, event_id: str, acked: float) -> float | None:
    """Seconds from `acked` until the event's row is in the read model; None after WAIT_S."""
    while time.perf_counter() - acked < WAIT_S:
        if await bench.found([(tenant, event_id)]):
            return time.perf_counter() - acked
        await asyncio.sleep(POLL_S)
    return None
