"""Recovers from an empty partition assignment after a broker restart.

When the broker comes back, the group can rebalance while the consumer's metadata still
lacks the topics: the assignor then skips them, the worker is assigned nothing, and with
the client's metadata refreshed only every few minutes no new rebalance comes for a long
while. The watchdog notices a worker holding no partition of the topic, refreshes the
metadata and asks the group to rejoin, backing off so that a worker that is idle by design
(more workers than partitions) does not churn the group.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

log = logging.getLogger("tandem.watchdog")

FIRST_BACKOFF_S = 10.0
MAX_BACKOFF_S = 300.0


class AssignmentWatchdog:
    def __init__(self, consumer: Callable[[], AIOKafkaConsumer | None], topic: str) -> None:
        self._consumer = consumer
        self._topic = topic
        self._backoff = FIRST_BACKOFF_S
        self._next_kick = 0.0
        self._kicks: set[asyncio.Task[None]] = set()

    def check(self) -> None:
        consumer = self._consumer()
        if consumer is None:
            return
        if any(tp.topic == self._topic for tp in consumer.assignment()):
            self._backoff = FIRST_BACKOFF_S
            return
        now = time.monotonic()
        if now < self._next_kick:
            return
        log.warning(
            "no partition assigned; refreshing metadata and rejoining the group",
            extra={"topic": self._topic, "next_check_s": self._backoff},
        )

        async def kick() -> None:
            await consumer._client.force_metadata_update()
            consumer._coordinator.request_rejoin()

        task = asyncio.create_task(kick())
        self._kicks.add(task)
        task.add_done_callback(self._kicks.discard)
        self._next_kick = now + self._backoff
        self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
