"""Batches in flight: the worker works on the next batch while PostgreSQL works on this one.

Contract: `start(handle, acknowledge)` returns once a slot is free and `handle` has begun;
`acknowledge` runs only after `handle` has returned, so a batch's offsets never run ahead of
its effects (checkpoint.py's order holds per batch). Batches may finish out of order: the
caller's offsets must tolerate that (intake.Offsets commits a partition's offset only past
batches that are all acknowledged). A handler that raises stops the process through
`fatal`, its batch unacknowledged, so that a restarted worker reads it again.

Why two: with one batch at a time the worker sat idle while PostgreSQL applied its batch,
and PostgreSQL while the worker decoded and folded the next. Two batches in flight are two
writers, as two workers are: lead locks order them, and a fold takes events that arrive
out of order into account, so they may share leads.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Hashable
from contextlib import asynccontextmanager

Handle = Callable[[], Awaitable[None]]


class InFlight:
    def __init__(self, slots: int, fatal: Callable[[Exception], None]) -> None:
        # asyncio's semaphore serves its waiters in order: a batch of one topic never waits
        # behind several of another that asked later.
        self._slots = asyncio.Semaphore(slots)
        self._fatal = fatal
        self._running: set[asyncio.Task[None]] = set()

    async def start(
        self,
        handle: Handle,
        acknowledge: Callable[[], None],
        lane: asyncio.Semaphore | None = None,
    ) -> None:
        """Waits for a free slot (and first for one of `lane`'s, which it holds as long),
        then runs `handle` and, once it has returned, `acknowledge`, without waiting for
        either."""
        if lane is not None:
            await lane.acquire()
        await self._slots.acquire()
        task = asyncio.create_task(self._run(handle, acknowledge, lane))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def run(self, handle: Handle) -> None:
        """Runs `handle` in a slot and waits for it (a caller that commits by position)."""
        async with self._slots:
            await self._guarded(handle)

    async def _run(
        self, handle: Handle, acknowledge: Callable[[], None], lane: asyncio.Semaphore | None
    ) -> None:
        try:
            await self._guarded(handle)
        finally:
            self._slots.release()
            if lane is not None:
                lane.release()
        acknowledge()

    async def _guarded(self, handle: Handle) -> None:
        try:
            await handle()
        except Exception as exc:
            self._fatal(exc)
            raise

    async def drain(self) -> None:
        """Waits until every started batch has finished."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


class Turns:
    """Batches in flight that share a lead (or an anonymous id) apply it in the order they
    were taken from Kafka; the others run side by side.

    PostgreSQL's lead locks would order them too, but in whichever order their transactions
    reach the lead: a batch is applied in several transactions (failures.tenant_shares), and
    a later batch's transaction could apply a lead's later events before an earlier batch's
    applied its earlier ones, which then arrive late and refold the lead from its history.
    Each batch reserves its keys when it is taken (`reserve`, before its first await, so in
    the order taken); a transaction of it proceeds once no earlier reservation holds any of
    its keys (`turn`), and the batch gives them back when it is done (`release`)."""

    def __init__(self) -> None:
        self._queues: dict[Hashable, deque[object]] = {}
        self._released = asyncio.Event()

    def reserve(self, keys: Collection[Hashable]) -> object:
        ticket = object()
        for key in keys:
            self._queues.setdefault(key, deque()).append(ticket)
        return ticket

    def release(self, ticket: object, keys: Collection[Hashable]) -> None:
        for key in keys:
            queue = self._queues.get(key)
            if queue is None:
                continue
            queue.remove(ticket)
            if not queue:
                del self._queues[key]
        # Wakes every waiter to look again; a batch's keys are released once.
        self._released.set()
        self._released = asyncio.Event()

    async def turn(self, ticket: object, keys: Collection[Hashable]) -> None:
        """Returns once `ticket` is first for each of `keys` it reserved (one it did not
        reserve is no reason to wait: waiting on a later batch could wait forever)."""
        while any(self._behind(ticket, key) for key in keys):
            await self._released.wait()

    def _behind(self, ticket: object, key: Hashable) -> bool:
        queue = self._queues.get(key)
        return queue is not None and queue[0] is not ticket and ticket in queue

    @asynccontextmanager
    async def one_off(self, keys: Collection[Hashable]) -> AsyncIterator[None]:
        """A reservation, turn and release around one transaction not taken from Kafka (a
        re-score, an import's replay, a test): behind every batch taken before it."""
        ticket = self.reserve(keys)
        try:
            await self.turn(ticket, keys)
            yield
        finally:
            self.release(ticket, keys)
