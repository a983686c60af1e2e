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
    """Batches in flight that share a lead (or an anonymous id) run one after the other, in
    the order they asked; the others run side by side.

    PostgreSQL's lead locks would order them too, but the later batch would then find the
    lead's cached state gone (an applying batch takes it until its commit) and fold the
    lead's whole history again: with one event per record, whose journeys arrive in order,
    nearly every batch shares a lead with the one before it."""

    def __init__(self) -> None:
        self._busy: dict[Hashable, asyncio.Future[None]] = {}

    @asynccontextmanager
    async def turn(self, keys: Collection[Hashable]) -> AsyncIterator[None]:
        while waits := {self._busy[k] for k in keys if k in self._busy}:
            await asyncio.wait(waits)
        done = asyncio.get_running_loop().create_future()
        for key in keys:
            self._busy[key] = done
        try:
            yield
        finally:
            for key in keys:
                if self._busy.get(key) is done:
                    del self._busy[key]
            done.set_result(None)
