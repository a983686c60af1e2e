"""Sending: per webhook, one runner with at most `concurrency` attempts in flight, each on
the webhook's own HTTP connection pool, so a slow or failing endpoint only ever waits on
itself.

A runner works in batches, one transaction each: it records the outcomes of the attempts
that finished since its last batch (one statement) and, in the same transaction, claims
(leases) as many due deliveries as it has free slots; then it sends them without holding
any transaction. 2xx → DELIVERED; anything else (status, timeout, connection error) →
retried with backoff until the retry window closes → FAILED. A crash between sending and
recording leaves the lease to expire, and the delivery is sent again with the same id
(at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from services.delivery import metrics, store
from services.delivery.retry import next_attempt_at
from services.delivery.settings import DeliverySettings
from shared.egress import UrlRefused, pinned_client
from shared.secret_box import SecretsKeyError
from shared.webhooks import SIGNATURE_HEADER, open_secret, signature

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
        # A running webhook's "look again" flag: set when it was seen with due work.
        self._runners: dict[WebhookKey, asyncio.Event] = {}
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
                await self._start_runners()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("finding due deliveries failed; retrying", extra={"error": repr(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval_s)

    async def _start_runners(self) -> None:
        for key in await store.due_webhooks(self._pool, DUE_WEBHOOKS_PER_TICK):
            more = self._runners.get(key)
            if more is not None:
                more.set()
                continue
            more = self._runners[key] = asyncio.Event()
            self._spawn(self._runner(key, more))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _runner(self, key: WebhookKey, more: asyncio.Event) -> None:
        """The webhook's batches, until it has nothing in flight and nothing due."""
        limit = self._settings.per_endpoint_concurrency
        lease = self._settings.timeout_s + LEASE_MARGIN_S
        sending: set[asyncio.Task[tuple[store.Claimed, store.AttemptOutcome]]] = set()
        done: list[tuple[store.Claimed, store.AttemptOutcome]] = []
        try:
            while True:
                free = limit - len(sending)
                if done or free:
                    # Cleared before the claim: work recorded after this shows in the claim
                    # or sets the flag again, and the runner looks once more.
                    more.clear()
                    for one in await self._record_and_claim(key, done, free, lease):
                        sending.add(asyncio.create_task(self._send(key, one)))
                    done = []
                if not sending:
                    if more.is_set():
                        continue
                    return
                finished = await self._next_finished(sending, more if free else None)
                sending -= finished
                done = [result for task in finished if (result := self._outcome(task))]
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The leases bring the unrecorded deliveries back; nothing is lost.
            log.warning("recording or claiming deliveries failed", extra={"error": repr(exc)})
        finally:
            for task in sending:
                task.cancel()
            del self._runners[key]
            self.wake()

    @staticmethod
    async def _next_finished(
        sending: set[asyncio.Task[tuple[store.Claimed, store.AttemptOutcome]]],
        more: asyncio.Event | None,
    ) -> set[asyncio.Task[tuple[store.Claimed, store.AttemptOutcome]]]:
        """Waits for an attempt to finish or, when slots are free, for new due work."""
        waiter = asyncio.create_task(more.wait()) if more is not None else None
        try:
            await asyncio.wait(
                {*sending, *([waiter] if waiter else [])}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if waiter is not None:
                waiter.cancel()
        return {t for t in sending if t.done()}

    @staticmethod
    def _outcome(
        task: asyncio.Task[tuple[store.Claimed, store.AttemptOutcome]],
    ) -> tuple[store.Claimed, store.AttemptOutcome] | None:
        error = task.exception()
        if error is None:
            return task.result()
        # Not recorded: the lease brings the delivery back; nothing is lost.
        log.error("delivery attempt failed unexpectedly", exc_info=error)
        return None

    async def _record_and_claim(
        self,
        key: WebhookKey,
        done: list[tuple[store.Claimed, store.AttemptOutcome]],
        limit: int,
        lease: float,
    ) -> list[store.Claimed]:
        # Keep trying while PostgreSQL is away: if the lease expires first, the delivery is
        # sent again, which is the documented at-least-once.
        for delay in RECORD_RETRY_S:
            try:
                return await store.record_and_claim(self._pool, *key, done, limit, lease)
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                await asyncio.sleep(delay)
        return await store.record_and_claim(self._pool, *key, done, limit, lease)

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
        # Each request is sent to the address its host was checked to resolve to.
        client = pinned_client(
            self._settings.url_policy,
            limits=limits,
            timeout=self._settings.timeout_s,
            follow_redirects=False,
        )
        if current is not None:
            self._spawn(current[1].aclose())
        self._clients[key] = (url, client)
        return client

    async def _send(
        self, key: WebhookKey, claimed: store.Claimed
    ) -> tuple[store.Claimed, store.AttemptOutcome]:
        """One attempt and its outcome (recorded by the runner with its next batch)."""
        started_at = datetime.now(UTC)
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        permanent = False
        try:
            timestamp = int(time.time())
            response = await self._client(key, claimed.url).post(
                claimed.url,
                content=claimed.body,
                headers={
                    "content-type": "application/json",
                    "user-agent": USER_AGENT,
                    SIGNATURE_HEADER: signature(
                        open_secret(claimed.secret, claimed.tenant_id), timestamp, claimed.body
                    ),
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
        except SecretsKeyError as exc:
            # The key that sealed the signing secret is missing here: an operator's fix
            # (TANDEM_SECRETS_KEY / _OLD_KEYS), so the delivery is retried, never unsigned.
            error = f"signing secret cannot be opened: {exc}"
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
        return claimed, store.AttemptOutcome(
            started_at, status_code, latency_ms, error, outcome, retry_at
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for _, client in self._clients.values():
            await client.aclose()
