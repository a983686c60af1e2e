"""Dead letters: failed events go to touchpoints.dlq.v1 with their cause in headers.

Headers: reason (malformed, invalid, tenant_mismatch, unknown_tenant, failed), error, the
tenant when one is known, and the original topic, partition, offset and array index, so
`tandem dlq replay` can send a fixed event back where it came from.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer

from services.workers.observability import DEAD_LETTERS
from services.workers.records import DeadLetter
from shared.kafka import DLQ

log = logging.getLogger("tandem.dlq")


class DeadLetterQueue:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def send(self, letters: list[DeadLetter]) -> None:
        """Returns once the broker has every letter; raises (for the caller to retry) if not."""
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
            if letter.tenant_id is not None:
                headers.append(("tenant_id", letter.tenant_id.encode()))
            log.warning(
                "dead letter",
                extra={
                    "tenant_id": letter.tenant_id,
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
        for letter in letters:
            DEAD_LETTERS.labels(letter.reason).inc()
