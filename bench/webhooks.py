"""SPEC 12: outbound webhooks, event → delivered to a local receiver: p99 ≤ 0.5 s at 100
deliveries/s.

Events are posted paced at the rate, a request of 10 every 100 ms; each is a demo request
that makes a new lead an MQL, so each yields one `lead.mql` delivery to a receiver on
loopback. The latency of an event is from just before its POST to the receiver getting its
delivery: gateway, Kafka, worker, the derived topic, the delivery service and the HTTP call
all count. An event whose delivery never arrives within the wait counts as infinitely
late: more than 1 % of them makes p99 infinite.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import httpx
import orjson

from bench import figures
from bench.procs import TANDEM, Processes, free_port
from tests.standins.http import Answer, Request, Server

RATE = 100
PER_REQUEST = 10
RETRIES = 5
WAIT_S = 60.0


@dataclass(frozen=True)
class WebhookFigure:
    deliveries: int
    seconds: float
    events_per_s: float
    samples: int
    lost: int  # events whose delivery never arrived: infinitely late
    p50_s: float
    p99_s: float


async def measure(
    procs: Processes,
    env: dict[str, str],
    gateway_url: str,
    tenant: str,
    ingest_key: str,
    admin_dsn: str,
    seconds: float,
    say: Callable[[str], None],
) -> WebhookFigure:
    arrived: dict[str, float] = {}

    async def receive(request: Request) -> Answer:
        lead = orjson.loads(request.body)["data"]["lead"]["id"]
        arrived.setdefault(lead, time.perf_counter())
        return Answer(200, b"ok")

    receiver = Server(receive)
    await receiver.start()
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(
            "INSERT INTO webhooks (tenant_id, webhook_id, url, event_types, secret)"
            " VALUES ($1, 'wh_bench', $2, '{lead.mql}', $3)",
            tenant,
            f"{receiver.base_url}/hook",
            "whsec_" + secrets.token_urlsafe(24),
        )
    finally:
        await admin.close()
    port = free_port()
    delivery = procs.start(
        "delivery",
        [TANDEM, "delivery"],
        {
            **env,
            "TANDEM_DELIVERY_GROUP": env["TANDEM_TOPIC_PREFIX"] + "delivery",
            "TANDEM_DELIVERY_HTTP_PORT": str(port),
            "TANDEM_WEBHOOK_ALLOW_LOOPBACK": "1",
        },
    )
    sent: dict[str, float] = {}
    async with httpx.AsyncClient(
        base_url=gateway_url,
        headers={"X-API-Key": ingest_key, "content-type": "application/json"},
        # Open loop: a slow gateway queues requests here rather than failing them.
        timeout=httpx.Timeout(30, pool=None),
        limits=httpx.Limits(max_connections=32),
    ) as client:

        async def post(batch: list[str]) -> None:
            at = datetime.now(UTC).isoformat(timespec="milliseconds")
            body = orjson.dumps(
                [
                    {
                        "event_id": f"{lead}-demo",
                        "type": "demo_request",
                        "occurred_at": at,
                        "lead_id": lead,
                        "channel": "paid_search",
                    }
                    for lead in batch
                ]
            )
            now = time.perf_counter()
            sent.update(dict.fromkeys(batch, now))
            for attempt in range(RETRIES):
                try:
                    response = await client.post("/v1/events", content=body)
                except httpx.TransportError:
                    # A kept-alive connection the gateway closed meanwhile.
                    if attempt == RETRIES - 1:
                        raise
                    continue
                # 503: Kafka did not acknowledge in time; event ids make a retry harmless.
                if response.status_code != 503 or attempt == RETRIES - 1:
                    break
                await asyncio.sleep(0.5)
            response.raise_for_status()

        async def delivered(leads: list[str], limit_s: float) -> bool:
            deadline = time.perf_counter() + limit_s
            while time.perf_counter() < deadline:
                if not delivery.alive():
                    raise RuntimeError(f"delivery service exited:\n{delivery.tail()}")
                if all(lead in arrived for lead in leads):
                    return True
                await asyncio.sleep(0.05)
            return False

        # Warm-up: the delivery service has joined its group and delivered once.
        await post(["wh-warm"])
        if not await delivered(["wh-warm"], 120):
            raise RuntimeError(f"no webhook delivered after 120 s:\n{delivery.tail()}")
        count = int(RATE * seconds)
        say(f"webhooks: {count:,} events at {RATE}/s, one lead.mql delivery each")
        leads = [f"wh-{i}" for i in range(count)]
        started = time.perf_counter()
        tasks = []
        for i in range(0, count, PER_REQUEST):
            pause = started + i / RATE - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            tasks.append(asyncio.create_task(post(leads[i : i + PER_REQUEST])))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        await delivered(leads, WAIT_S)
    procs.stop(delivery)
    await receiver.stop()
    latencies = [arrived[lead] - sent[lead] for lead in leads if lead in arrived]
    summary = figures.latency_summary(latencies, lost=count - len(latencies))
    figure = WebhookFigure(
        deliveries=len(latencies),
        seconds=round(elapsed, 2),
        events_per_s=count / elapsed,
        samples=count,
        lost=count - len(latencies),
        p50_s=summary["p50_s"],
        p99_s=summary["p99_s"],
    )
    say(
        f"  p50 {figure.p50_s * 1000:.0f} ms, p99 {figure.p99_s * 1000:.0f} ms, "
        f"{figure.lost} of {count} never delivered (counted as infinitely late)"
    )
    return figure
