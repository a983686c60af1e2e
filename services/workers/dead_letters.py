"""Dead letters: failed records go to touchpoints.dlq.v1 with the cause in headers.

A few bad records are normal; a burst means something upstream is broken, and draining the
whole topic into the DLQ would turn an outage into data loss. So past a ratio of failures
over a window of recent events the worker stops, loudly, with its offsets uncommitted.
"""

from __future__ import annotations

import logging
from collections import deque

from aiokafka import AIOKafkaProducer

from services.workers.records import DeadLetter
from shared.kafka import DLQ

log = logging.getLogger("tandem.dlq")


class DeadLetterBurst(RuntimeError):
    pass


class DeadLetterQueue:
    def __init__(self, producer: AIOKafkaProducer, *, max_ratio: float, window: int) -> None:
        self._producer = producer
        self._max_ratio = max_ratio
        self._window = window
        self._recent: deque[bool] = deque(maxlen=window)

    def check_burst(self, good: int, bad: int) -> None:
        """Records the outcome of a batch; raises when failures exceed the allowed ratio."""
        self._recent.extend([False] * min(good, self._window))
        self._recent.extend([True] * min(bad, self._window))
        if len(self._recent) < self._window:
            return
        failures = sum(self._recent)
        if failures / len(self._recent) > self._max_ratio:
            raise DeadLetterBurst(
                f"{failures} of the last {len(self._recent)} events failed (limit "
                f"{self._max_ratio:.0%}); stopping instead of draining the topic into {DLQ}"
            )

    async def send(self, letters: list[DeadLetter]) -> None:
        futures = []
        for letter in letters:
            headers = [
                ("error", letter.error.encode()[:4096]),
                ("reason", letter.reason.encode()),
                ("original_topic", letter.source.topic.encode()),
                ("original_partition", str(letter.source.partition).encode()),
                ("original_offset", str(letter.source.offset).encode()),
            ]
            if letter.source.index is not None:
                headers.append(("original_index", str(letter.source.index).encode()))
            log.warning(
                "dead letter",
                extra={
                    "reason": letter.reason,
                    "error": letter.error[:500],
                    "partition": letter.source.partition,
                    "offset": letter.source.offset,
                    "index": letter.source.index,
                },
            )
            futures.append(await self._producer.send(DLQ, letter.payload, headers=headers))
        for future in futures:
            await future
