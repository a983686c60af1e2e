"""Sending: per webhook, at most `concurrency` attempts in flight, each on the webhook's own
HTTP connection pool, so a slow or failing endpoint only ever waits on itself.

The loop asks PostgreSQL which webhooks have due deliveries, claims (leases) as many as
each webhook has free slots, and starts one task per attempt; it never awaits a receiver.
Outcomes are written back per attempt: 2xx → DELIVERED; anything else (status, timeout,
connection error) → retried with backoff until the retry window closes → FAILED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict
from datetime import UTC, datetime

import asyncpg
import httpx

from services.delivery import metrics, store
from services.delivery.retry import next_attempt_at
from services.delivery.settings import DeliverySettings
from shared.webhooks import SIGNATURE_HEADER, UrlRefused, check_url, signature

log = logging.getLogger("tandem.delivery")

# Enough for the attempt's timeout plus writing its outcome; after this the delivery is
# due again (the process that claimed it is presumed dead).
LEASE_MARGIN_S = 30.0
DUE_WEBHOOKS_PER_TICK = 1_000
RECORD_RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)
USER_AGENT = "Tandem-Webhooks/1"

WebhookKey = tuple[str, str]


class Dispatcher:
    def __init__(self, pool: asyncpg.Pool, settings: DeliverySettings) -> None:
        self._pool = pool
        self._settings = settings
        self._wake = asyncio.Event()
        self._inflight: dict[WebhookKey, int] = defaultdict(int)
        self._clients: dict[WebhookKey, tuple[str, httpx.AsyncClient]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._rand = random.Random()

    def wake(self) -> None:
        """New deliveries were recorded: look for due work now rather than at the next tick."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._claim_round()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("claiming deliveries failed; retrying", extra={"error": repr(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval_s)

    async def _claim_round(self) -> None:
        limit = self._settings.per_endpoint_concurrency
        lease = self._settings.timeout_s + LEASE_MARGIN_S
        for key in await store.due_webhooks(self._pool, DUE_WEBHOOKS_PER_TICK):
            free = limit - self._inflight[key]
            if free <= 0:
                continue
            for claimed in await store.claim(self._pool, *key, free, lease):
                self._inflight[key] += 1
                task = asyncio.create_task(self._slot(key, claimed))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _client(self, key: WebhookKey, url: str) -> httpx.AsyncClient:
        # One pool per webhook, as large as its concurrency: a receiver that holds its
        # connections open cannot take connections another receiver needs.
        current = self._clients.get(key)
        if current is not None and current[0] == url:
            return current[1]
        limits = httpx.Limits(
            max_connections=self._settings.per_endpoint_concurrency,
            max_keepalive_connections=self._settings.per_endpoint_concurrency,
        )
        client = httpx.AsyncClient(
            limits=limits, timeout=self._settings.timeout_s, follow_redirects=False
        )
        if current is not None:
            task = asyncio.create_task(current[1].aclose())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._clients[key] = (url, client)
        return client

    async def _slot(self, key: WebhookKey, claimed: store.Claimed | None) -> None:
        """One of the webhook's slots: sends, then takes the webhook's next due delivery
        itself, so a busy endpoint keeps its slots full without a round of the loop."""
        lease = self._settings.timeout_s + LEASE_MARGIN_S
        try:
            while claimed is not None:
                try:
                    await self._send_and_record(key, claimed)
                except Exception:
                    # The lease brings the delivery back; nothing is lost.
                    log.exception(
                        "delivery attempt failed unexpectedly",
                        extra={"tenant_id": claimed.tenant_id, "delivery_id": claimed.delivery_id},
                    )
                    return
                following = await store.claim(self._pool, *key, 1, lease)
                claimed = following[0] if following else None
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("claiming the next delivery failed", extra={"error": repr(exc)})
        finally:
            self._inflight[key] -= 1
            self.wake()

    async def _send_and_record(self, key: WebhookKey, claimed: store.Claimed) -> None:
        started_at = datetime.now(UTC)
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        permanent = False
        try:
            await check_url(claimed.url, self._settings.url_policy)
            timestamp = int(time.time())
            response = await self._client(key, claimed.url).post(
                claimed.url,
                content=claimed.body,
                headers={
                    "content-type": "application/json",
                    "user-agent": USER_AGENT,
                    SIGNATURE_HEADER: signature(claimed.secret, timestamp, claimed.body),
                    "Idempotency-Key": claimed.event_id,
                    "Tandem-Event-Id": claimed.event_id,
                    "Tandem-Event-Type": claimed.event_type,
                    "Tandem-Delivery-Id": claimed.delivery_id,
                    "Tandem-Delivery-Attempt": str(claimed.attempt),
                },
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except UrlRefused as exc:
            # The address is refused by policy; retrying would not change that.
            error, permanent = str(exc), True
        except httpx.TimeoutException:
            error = f"timeout after {self._settings.timeout_s:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        latency_ms = round((time.monotonic() - started) * 1000)
        now = datetime.now(UTC)
        retry_at = None
        if error is None:
            outcome = "DELIVERED"
        elif permanent:
            outcome = "FAILED"
        else:
            retry_at = next_attempt_at(
                claimed.attempt,
                claimed.created_at,
                now,
                base_s=self._settings.retry_base_s,
                max_s=self._settings.retry_max_s,
                window_s=self._settings.retry_for_s,
                rand=self._rand,
            )
            outcome = "PENDING" if retry_at is not None else "FAILED"
        metrics.observe_attempt(claimed.event_type, outcome, latency_ms / 1000, claimed.created_at)
        await self._record(
            claimed,
            store.AttemptOutcome(started_at, status_code, latency_ms, error, outcome, retry_at),
        )
        log.info(
            "delivery attempt",
            extra={
                "tenant_id": claimed.tenant_id,
                "event_id": claimed.event_id,
                "delivery_id": claimed.delivery_id,
                "attempt": claimed.attempt,
                "status_code": status_code,
                "outcome": outcome,
                "error": error,
                "latency_ms": latency_ms,
            },
        )

    async def _record(self, claimed: store.Claimed, outcome: store.AttemptOutcome) -> None:
        # Keep trying while PostgreSQL is away: if the lease expires first, the delivery is
        # sent again, which is the documented at-least-once.
        for delay in (*RECORD_RETRY_S, None):
            try:
                await store.record_attempt(self._pool, claimed, outcome)
                return
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for _, client in self._clients.values():
            await client.aclose()
