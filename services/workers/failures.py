"""The worker's failure policy (SPEC 11): what an error means, and who pays for it.

Two kinds of failure, told apart by `is_transient`:
- infrastructure (PostgreSQL or Kafka away): the worker pauses and retries with backoff,
  skipping nothing, until the dependency is back; then it resumes by itself;
- content (what an event holds cannot be stored or computed): the batch is retried in
  smaller parts until only the events that fail on their own are left. Those are
  dead-lettered with their tenant and cause; their neighbours are applied.
A tenant whose events fail in a burst (TANDEM_DLQ_MAX_RATIO of its last TANDEM_DLQ_MIN_WINDOW
events) is quarantined (services/workers/quarantine.py); other tenants never wait for it.
A dead letter is never lost: until the DLQ has acknowledged it, the batch is not done and
its records are not acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from functools import partial
from typing import TypeVar

import asyncpg
import orjson
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from services.workers.dead_letters import DeadLetterQueue
from services.workers.observability import EVENTS, PAUSED, QUARANTINED, QUARANTINES
from services.workers.quarantine import Quarantine
from services.workers.records import DeadLetter, Incoming

log = logging.getLogger("tandem.worker")

RETRY_BACKOFF_S = (0.5, 1, 2, 5)
# At most this many events of one tenant per transaction round of a batch.
TENANT_SHARE = 1_000
# At most this many events in one transaction, whoever sends them. A transaction holds an
# advisory lock per lead, anonymous id, domain and account it touches, and PostgreSQL's
# lock table is shared and fixed (max_locks_per_transaction x max_connections): a batch of
# 1,000 array records of one tenant took over 10,000 locks and failed "out of shared
# memory", to be redone in halves.
ROUND_EVENTS = 5_000

T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """Errors that mean "a dependency is away", to wait out rather than dead-letter."""
    return isinstance(
        exc,
        OSError
        | asyncio.TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.CannotConnectNowError
        | asyncpg.TooManyConnectionsError
        | asyncpg.DeadlockDetectedError
        | asyncpg.SerializationError
        | asyncpg.AdminShutdownError
        | KafkaConnectionError
        | KafkaTimeoutError,
    ) or (isinstance(exc, KafkaError) and exc.retriable)  # e.g. a broker restarting


class Outages:
    """How many duties are waiting out an outage right now (readiness reads it)."""

    waiting = 0


async def until_available(what: str, run: Callable[[], Awaitable[T]]) -> T:
    """Runs `run`, waiting out an unavailable PostgreSQL or Kafka: nothing is skipped."""
    attempt = 0
    try:
        while True:
            try:
                return await run()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)]
                log.warning(
                    "store or broker unavailable; pausing",
                    extra={
                        "duty": what,
                        "error": repr(exc),
                        "retry_in_s": delay,
                        "attempt": attempt,
                    },
                )
                if not attempt:
                    Outages.waiting += 1
                    PAUSED.set(Outages.waiting)
                attempt += 1
                await asyncio.sleep(delay)
    finally:
        if attempt:
            Outages.waiting -= 1
            PAUSED.set(Outages.waiting)


Project = Callable[[Sequence[Incoming]], Awaitable[list[DeadLetter]]]


def tenant_shares(
    items: Sequence[Incoming], share: int, most: int = ROUND_EVENTS
) -> list[list[Incoming]]:
    """The batch in rounds that hold at most `share` events of any one tenant, each
    tenant's events in their order: one tenant's backlog in a batch is applied a share at a
    time, and every other tenant's events are in the first round, not behind it. Once one
    tenant is left, its remaining events form a single round: nobody waits behind it.
    No round holds more than `most` events: a longer one goes in consecutive parts."""
    rounds: list[list[Incoming]] = []
    seen: Counter[str] = Counter()
    for item in items:
        at = seen[item.tenant_id] // share
        seen[item.tenant_id] += 1
        if at == len(rounds):
            rounds.append([])
        rounds[at].append(item)
    # A tenant in a round is in every round before it, so trailing rounds of one tenant
    # are all the same tenant's.
    alone = len(rounds)
    while alone > 0 and len({i.tenant_id for i in rounds[alone - 1]}) == 1:
        alone -= 1
    if len(rounds) - alone > 1:
        rounds = [*rounds[:alone], [i for r in rounds[alone:] for i in r]]
    return [r[i : i + most] for r in rounds for i in range(0, len(r), most)]


class TenantBursts:
    """Each tenant's recent outcomes: a tenant with more than `max_ratio` * `window` failed
    events among its last `window` is in a burst (its data, not the platform, is broken)."""

    def __init__(self, window: int, max_ratio: float) -> None:
        self.window = window
        self.limit = max(1, int(max_ratio * window))
        self._recent: dict[str, deque[bool]] = {}

    def record(self, tenant_id: str, good: int, bad: int) -> int | None:
        """Adds a batch's outcome; returns the failure count when it is over the limit."""
        recent = self._recent.get(tenant_id)
        if recent is None:
            if not bad:
                return None  # a tenant is only followed from its first failure on
            recent = self._recent[tenant_id] = deque(maxlen=self.window)
        recent.extend([False] * min(good, self.window))
        recent.extend([True] * min(bad, self.window))
        failures = sum(recent)
        if not failures:
            del self._recent[tenant_id]
            return None
        return failures if failures > self.limit else None

    def forget(self, tenant_id: str) -> None:
        self._recent.pop(tenant_id, None)


class FailurePolicy:
    """Applies a decoded batch so that a failure is paid for by whoever caused it."""

    def __init__(
        self,
        project: Project,
        dlq: DeadLetterQueue,
        quarantine: Quarantine,
        bursts: TenantBursts,
        is_known: Callable[[str], Awaitable[bool]],
        now: Callable[[], datetime],
    ) -> None:
        self._project = project
        self._dlq = dlq
        self._quarantine = quarantine
        self._bursts = bursts
        self._is_known = is_known
        self._now = now
        self._quarantined: frozenset[str] = frozenset()

    async def handle(self, incoming: Sequence[Incoming], dead: Sequence[DeadLetter]) -> None:
        """Parks the events of quarantined tenants, applies the others, dead-letters what
        fails, quarantines tenants in a burst; returns only once every dead letter is sent."""
        live = await self._park_quarantined(incoming)
        letters = list(dead)
        unapplied = 0
        for share in tenant_shares(live, TENANT_SHARE):
            isolated = await self.isolate(share)
            unapplied += len(isolated)
            letters.extend(isolated)
        await self._account(live, letters)
        if letters:
            await until_available("dead letters", partial(self._dlq.send, letters))
        EVENTS.labels("applied").inc(len(live) - unapplied)
        EVENTS.labels("parked").inc(len(incoming) - len(live))
        EVENTS.labels("dead_lettered").inc(len(letters))

    async def _park_quarantined(self, incoming: Sequence[Incoming]) -> list[Incoming]:
        quarantined = await until_available("quarantine", self._quarantine.tenants)
        for released in self._quarantined - quarantined:
            self._bursts.forget(released)  # released: its past failures are forgiven
        self._quarantined = quarantined
        QUARANTINED.set(len(quarantined))
        if not quarantined.intersection(i.tenant_id for i in incoming):
            return list(incoming)
        live: list[Incoming] = []
        held: dict[str, list[Incoming]] = defaultdict(list)
        for item in incoming:
            (held[item.tenant_id] if item.tenant_id in quarantined else live).append(item)
        for tenant_id, items in held.items():
            if not await until_available("park", partial(self._quarantine.park, tenant_id, items)):
                live.extend(items)  # released meanwhile: apply them after all
        return live

    async def isolate(self, items: Sequence[Incoming]) -> list[DeadLetter]:
        """Projects the events; on a content failure, retries each tenant's part, then
        halves of it, until the events that fail on their own are found: those are the
        dead letters, and everything else is applied. Outages are waited out throughout."""
        if not items:
            return []
        try:
            return await until_available("project", partial(self._project, items))
        except Exception as exc:
            if len(items) == 1:
                item = items[0]
                log.warning(
                    "event failed; dead-lettered",
                    extra={
                        "tenant_id": item.tenant_id,
                        "event_id": item.event.get("event_id"),
                        "error": repr(exc)[:500],
                    },
                )
                cause = f"{type(exc).__name__}: {exc}"
                return [
                    DeadLetter(
                        item.source, "failed", cause, orjson.dumps(item.event), item.tenant_id
                    )
                ]
            # Said once per split, so a failure that is not one event's (a resource limit)
            # shows as the cost it is: the batch is redone in parts.
            log.warning(
                "batch failed; applying it in parts",
                extra={"events": len(items), "error": repr(exc)[:500]},
            )
        by_tenant: dict[str, list[Incoming]] = defaultdict(list)
        for item in items:
            by_tenant[item.tenant_id].append(item)
        if len(by_tenant) > 1:
            parts: list[Sequence[Incoming]] = list(by_tenant.values())
        else:
            # Halves keep each lead's events in order: the first half commits first.
            middle = len(items) // 2
            parts = [items[:middle], items[middle:]]
        dead: list[DeadLetter] = []
        for part in parts:
            dead.extend(await self.isolate(part))
        return dead

    async def _account(self, live: Sequence[Incoming], letters: Sequence[DeadLetter]) -> None:
        good: Counter[str] = Counter(i.tenant_id for i in live)
        bad: Counter[str] = Counter()
        last_error: dict[str, str] = {}
        for letter in letters:
            if letter.tenant_id is not None and letter.reason != "unknown_tenant":
                bad[letter.tenant_id] += 1
                last_error[letter.tenant_id] = f"{letter.reason}: {letter.error}"
                if letter.reason == "failed":
                    good[letter.tenant_id] -= 1
        for tenant_id in good.keys() | bad.keys():
            failures = self._bursts.record(tenant_id, max(0, good[tenant_id]), bad[tenant_id])
            if failures is None or tenant_id in self._quarantined:
                continue
            if not await until_available("tenant check", partial(self._is_known, tenant_id)):
                self._bursts.forget(tenant_id)  # nobody to quarantine: a key naming no tenant
                continue
            await until_available(
                "quarantine",
                partial(
                    self._quarantine.enter,
                    tenant_id,
                    failures,
                    self._bursts.window,
                    last_error[tenant_id],
                    self._now(),
                ),
            )
            self._quarantined = self._quarantined | {tenant_id}
            QUARANTINES.inc()
            QUARANTINED.set(len(self._quarantined))
