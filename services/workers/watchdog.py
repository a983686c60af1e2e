"""Recovers from an empty partition assignment after a broker restart.

When the broker comes back, the group can rebalance while the consumer's metadata still
lacks the topics: Faust's assignor then skips them ("Ignoring missing topic"), the worker
is assigned nothing, and with aiokafka's metadata refreshed only every few minutes no new
rebalance comes for a long while. The watchdog notices a worker holding no partition of
the topic, refreshes the metadata and asks the group to rejoin, backing off so that a
worker that is idle by design (more workers than partitions) does not churn the group.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger("tandem.watchdog")

FIRST_BACKOFF_S = 10.0
MAX_BACKOFF_S = 300.0


class AssignmentWatchdog:
    def __init__(self, app: Any, topic: str) -> None:
        self._app = app
        self._topic = topic
        self._backoff = FIRST_BACKOFF_S
        self._next_kick = 0.0

    def check(self) -> None:
        if any(tp.topic == self._topic for tp in self._app.consumer.assignment()):
            self._backoff = FIRST_BACKOFF_S
            return
        now = time.monotonic()
        if now < self._next_kick:
            return
        thread = getattr(self._app.consumer, "_thread", None)
        consumer = getattr(thread, "_consumer", None)
        if thread is None or consumer is None:
            return
        log.warning(
            "no partition assigned; refreshing metadata and rejoining the group",
            extra={"topic": self._topic, "next_check_s": self._backoff},
        )

        async def kick() -> None:
            await consumer._client.force_metadata_update()
            consumer._coordinator.request_rejoin()

        asyncio.run_coroutine_threadsafe(kick(), thread.thread_loop)
        self._next_kick = now + self._backoff
        self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
