"""The worker's health, readiness and Prometheus metrics (SPEC 13), on TANDEM_WORKER_HTTP_PORT.

    GET /healthz   200 while the event loop answers (a liveness probe)
    GET /readyz    200 once PostgreSQL and Kafka are connected and no outage is being
                   waited out; 503 otherwise (the worker resumes by itself: not a restart)
    GET /metrics   Prometheus text: consumer lag per partition, batch size and latency,
                   events by outcome, dead letters by reason, quarantined tenants, SLA
                   sweep duration, lead-cache hits

No label carries a tenant: the endpoint says how the worker does, not whose data it holds.
Unset or 0, the port serves nothing (several workers on one machine, tests).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger("tandem.worker.http")

BATCH_SECONDS = Histogram(
    "tandem_worker_batch_seconds",
    "Time to apply one batch of records, dead letters and parking included",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_EVENTS = Histogram(
    "tandem_worker_batch_events",
    "Events per batch",
    buckets=(1, 10, 50, 100, 500, 1_000, 5_000, 20_000, 100_000),
)
EVENTS = Counter(
    "tandem_worker_events_total", "Events handled, by outcome", ["outcome"]
)  # applied, dead_lettered, parked
DEAD_LETTERS = Counter(
    "tandem_worker_dead_letters_total", "Dead letters sent, by reason", ["reason"]
)
QUARANTINED = Gauge("tandem_worker_quarantined_tenants", "Tenants quarantined now")
QUARANTINES = Counter("tandem_worker_quarantines_total", "Tenants this worker quarantined")
SLA_SWEEP_SECONDS = Histogram(
    "tandem_worker_sla_sweep_seconds",
    "Duration of one SLA breach sweep",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CACHE = Counter("tandem_worker_lead_cache_total", "Lead-state cache lookups", ["result"])
LAG = Gauge(
    "tandem_worker_consumer_lag",
    "Records in the partition not yet committed by this worker",
    ["topic", "partition"],
)
PAUSED = Gauge("tandem_worker_paused", "1 while an outage of PostgreSQL or Kafka is waited out")


async def update_lag(lags: Callable[[], Awaitable[Mapping[Any, int]]]) -> None:
    """Refreshes the lag gauge (per assigned partition, its end offset less the offset
    committed); run on every scrape, so the figure is as fresh as the client's last fetch."""
    LAG.clear()
    for tp, lag in (await lags()).items():
        LAG.labels(tp.topic, str(tp.partition)).set(lag)


class HealthServer:
    def __init__(
        self, ready: Callable[[], bool], before_scrape: Callable[[], Awaitable[None]]
    ) -> None:
        self._ready = ready
        self._before_scrape = before_scrape
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        port = int(os.environ.get("TANDEM_WORKER_HTTP_PORT", "0") or 0)
        if not port:
            return
        # Every interface by default: probes and scrapes come from outside the pod.
        host = os.environ.get("TANDEM_WORKER_HTTP_HOST", "0.0.0.0")
        self._server = await asyncio.start_server(self._serve, host, port)
        log.info("worker health and metrics listening", extra={"host": host, "port": port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing here depends on them
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) > 1 else ""
            if path == "/healthz":
                status, body, kind = "200 OK", b"ok\n", "text/plain"
            elif path == "/readyz":
                ready = self._ready()
                status = "200 OK" if ready else "503 Service Unavailable"
                body, kind = (b"ready\n" if ready else b"not ready\n"), "text/plain"
            elif path == "/metrics":
                try:
                    await self._before_scrape()
                except Exception:  # the other figures still answer
                    log.exception("refreshing the scraped gauges failed")
                status, body, kind = "200 OK", generate_latest(), CONTENT_TYPE_LATEST
            else:
                status, body, kind = "404 Not Found", b"not found\n", "text/plain"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
