"""SPEC 12: Segment-compatible `/v1/batch` intake, batches of 100 messages: ≥ 20,000
messages/s sent to Kafka (mapped, validated and acknowledged by Kafka). Messages the
gateway ignores (unmapped track names) are printed apart and not counted in the rate.

The messages are what a Segment library sends for a site: anonymous page views with UTM
campaigns, identifies, tracks of mapped names (and some unmapped ones, which are counted
and not stored), groups. Each client authenticates with its own write key (HTTP Basic), as
separate sources do, so the per-key rate limit applies per source as in production.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import orjson

from bench import figures
from bench.procs import CpuMeter, Processes, wait_ready
from bench.workload import post_until_taken

BATCH = 100
CLIENTS = 8

_TRACKS = ("Demo Requested", "Form Submitted", "Email Opened", "Ad Clicked", "Video Played")
_MEDIUMS = (("google", "cpc"), ("linkedin", "cpc"), ("newsletter", "email"), ("bing", "organic"))


@dataclass(frozen=True)
class SegmentFigure:
    messages: int  # posted
    seconds: float
    messages_per_s: float  # sent to Kafka per second
    stored: int  # sent to Kafka
    ignored: int
    requests: int
    clients: int
    retried: int
    request_p99_ms: float
    gateway_cores: float


def messages(n: int, seed: int = 7) -> list[dict[str, object]]:
    """n Segment messages of one site: visitors browse, some identify and convert."""
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for i in range(n):
        visitor = rng.randrange(n // 10 + 1)
        anonymous, user = f"anon-{visitor}", f"user-{visitor}"
        stamp = f"2026-11-{1 + i % 18:02d}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}.000Z"
        base: dict[str, object] = {"messageId": f"bench-{seed}-{i}", "timestamp": stamp}
        kind = rng.random()
        if kind < 0.6:
            source, medium = _MEDIUMS[i % len(_MEDIUMS)]
            base |= {
                "type": "page",
                "anonymousId": anonymous,
                "name": "Pricing",
                "properties": {"url": f"https://example.com/p/{i % 50}", "path": f"/p/{i % 50}"},
                "context": {
                    "campaign": {"name": f"c-{i % 20}", "source": source, "medium": medium}
                },
            }
        elif kind < 0.7:
            base |= {
                "type": "identify",
                "anonymousId": anonymous,
                "userId": user,
                "traits": {"email": f"{user}@example.com", "title": "Director", "employees": 120},
            }
        elif kind < 0.95:
            base |= {"type": "track", "userId": user, "event": _TRACKS[i % len(_TRACKS)]}
        else:
            base |= {"type": "group", "userId": user, "groupId": f"acct-{visitor % 97}"}
        out.append(base)
    return out


def bodies(n: int) -> list[bytes]:
    items = messages(n)
    return [
        orjson.dumps({"batch": items[i : i + BATCH], "sentAt": "2026-11-19T00:00:00Z"})
        for i in range(0, len(items), BATCH)
    ]


async def measure(
    procs: Processes,
    env: dict[str, str],
    write_key: Callable[[], Awaitable[str]],
    n: int,
    say: Callable[[str], None],
) -> SegmentFigure:
    payloads = bodies(n)
    say(f"Segment /v1/batch: {n:,} messages, {len(payloads)} batches of {BATCH}, {CLIENTS} clients")
    gateway, url = procs.gateway("gateway-segment", env)
    await wait_ready(gateway, url)
    queue = iter(payloads)
    latencies: list[float] = []
    stored = ignored = retried = 0

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal stored, ignored, retried
        for body in queue:
            response, refused, latency = await post_until_taken(client, "/v1/batch", body)
            retried += refused
            latencies.append(latency)
            answer = response.json()
            stored += answer["accepted"]
            ignored += answer["ignored"]

    clients = [
        httpx.AsyncClient(
            base_url=url,
            auth=httpx.BasicAuth(await write_key(), ""),
            headers={"content-type": "application/json"},
            timeout=30,
        )
        for _ in range(CLIENTS)
    ]
    try:
        # A first batch per client opens its connection (the same message ids are posted
        # again in the timed part; no worker reads these topics).
        for client in clients:
            (await client.post("/v1/batch", content=payloads[0])).raise_for_status()
        meter = CpuMeter({"gateway": gateway})
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(c) for c in clients))
        elapsed = time.perf_counter() - started
        cores = meter.cores()["gateway"]
    finally:
        for client in clients:
            await client.aclose()
        procs.stop(gateway)
    rate = stored / elapsed
    say(
        f"  {stored:,} messages sent to Kafka ({ignored:,} ignored, not counted) in"
        f" {elapsed:.1f} s: {rate:,.0f} messages/s"
    )
    return SegmentFigure(
        messages=stored + ignored,
        seconds=elapsed,
        messages_per_s=rate,
        stored=stored,
        ignored=ignored,
        requests=len(latencies),
        clients=CLIENTS,
        retried=retried,
        request_p99_ms=figures.percentile(latencies, 0.99) * 1000,
        gateway_cores=cores,
    )
