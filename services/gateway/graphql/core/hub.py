"""One Kafka consumer of lead-state.v1 per gateway process, fanned out in memory.

The consumer starts with the first subscriber, reads from the end of every partition (a
subscription shows what happens from now on), and stops after a while without subscribers.
It has no consumer group: each gateway process reads every partition for itself, and
nothing is committed. A change reaches only the subscribers of the tenant it names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from services.gateway.graphql.core.tasks import stop
from shared.kafka import LEAD_STATE, security_options

log = logging.getLogger("tandem.gateway.subscriptions")

START_TIMEOUT_S = 10.0
IDLE_STOP_S = 120.0
# A subscriber that falls this far behind loses its oldest changes, not the process memory.
QUEUE_SIZE = 1_000


class HubUnavailable(Exception):
    """Kafka could not be reached to follow lead changes."""


class LeadChangeHub:
    def __init__(
        self, bootstrap: str, topic: str = LEAD_STATE, idle_stop_s: float = IDLE_STOP_S
    ) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._idle_stop_s = idle_stop_s
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._idle_since = time.monotonic()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def subscribers(self, tenant_id: str) -> int:
        return len(self._queues.get(tenant_id, ()))

    @asynccontextmanager
    async def subscribe(self, tenant_id: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """A queue of the tenant's lead changes from now on, while the context is open."""
        queue = self.attach(tenant_id)
        try:
            await self._ensure_running()
            yield queue
        finally:
            self.detach(tenant_id, queue)

    def attach(self, tenant_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues[tenant_id].add(queue)
        return queue

    def detach(self, tenant_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        queues = self._queues.get(tenant_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[tenant_id]
        if not self._queues:
            self._idle_since = time.monotonic()

    async def _ensure_running(self) -> None:
        async with self._lock:
            if self.running:
                return
            consumer = AIOKafkaConsumer(
                self._topic,
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="latest",
                fetch_max_wait_ms=100,
                **security_options(),
            )
            try:
                await asyncio.wait_for(self._position_at_end(consumer), START_TIMEOUT_S)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                raise HubUnavailable(f"lead changes cannot be followed: {exc!r}") from exc
            self._task = asyncio.create_task(self._run(consumer), name="lead-change-hub")

    @staticmethod
    async def _position_at_end(consumer: AIOKafkaConsumer) -> None:
        # Without a group the consumer takes every partition of the topic at start. The end
        # offsets are resolved here rather than at the first fetch: once this returns,
        # every change published afterwards is delivered, so a client that subscribes and
        # then acts sees the effect of its own action.
        await consumer.start()
        await consumer.seek_to_end()
        for partition in consumer.assignment():
            await consumer.position(partition)

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1_000, max_records=1_000)
                for messages in batches.values():
                    for message in messages:
                        self.dispatch(message.value)
                idle = time.monotonic() - self._idle_since
                if not self._queues and idle > self._idle_stop_s:
                    # No await between this check and clearing _task: a subscriber arriving
                    # later finds the hub stopped and starts a new consumer.
                    self._task = None
                    return
        except Exception:
            log.exception("lead change consumer failed; the next subscriber restarts it")
        finally:
            await consumer.stop()

    def dispatch(self, value: bytes | None) -> int:
        """Hands one lead-state message to the subscribers of its tenant; returns how many."""
        try:
            change = orjson.loads(value or b"")
            tenant_id = change["tenant_id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring a malformed lead-state message", extra={"value": value})
            return 0
        queues = self._queues.get(tenant_id, ())
        for queue in queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(change)
        return len(queues)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop(task)
