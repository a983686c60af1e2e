"""Topics, partitioning and producers shared by the gateway and the workers."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

log = logging.getLogger("tandem.kafka")

# A prefix gives a test run or a second environment its own topics on a shared broker.
_PREFIX = os.environ.get("TANDEM_TOPIC_PREFIX", "")
TOUCHPOINTS = f"{_PREFIX}touchpoints.v1"
DLQ = f"{_PREFIX}touchpoints.dlq.v1"
TENANT_CONFIG = f"{_PREFIX}tenant-config.v1"
LEAD_STATE = f"{_PREFIX}lead-state.v1"
TRANSITIONS = f"{_PREFIX}journey-transitions.v1"
ATTRIBUTION = f"{_PREFIX}attribution.v1"
ALERTS = f"{_PREFIX}alerts.v1"

# A record may carry up to this many bytes; the gateway splits larger partition batches.
MAX_RECORD_BYTES = 900_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


TOPICS = (
    TopicSpec(TOUCHPOINTS, 8, {"retention.ms": str(7 * 24 * 3600 * 1000)}),
    TopicSpec(DLQ, 1, {"retention.ms": str(30 * 24 * 3600 * 1000), "max.message.bytes": "8388608"}),
    TopicSpec(TENANT_CONFIG, 1, {"cleanup.policy": "compact"}),
    TopicSpec(LEAD_STATE, 8, {"cleanup.policy": "compact"}),
    TopicSpec(TRANSITIONS, 8),
    TopicSpec(ATTRIBUTION, 8),
    TopicSpec(ALERTS, 1),
)


def partition_for(key: str, partitions: int) -> int:
    """Kafka's default partitioner for a keyed record (murmur2, positive, modulo)."""
    return (int(murmur2(key.encode())) & 0x7FFFFFFF) % partitions


async def ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...] = TOPICS) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(s.name, s.partitions, 1, topic_configs=s.config)
            for s in specs
            if s.name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


def make_producer(bootstrap: str, *, request_timeout_ms: int = 4_000) -> AIOKafkaProducer:
    # A send not acknowledged within request_timeout_ms is dropped from the accumulator and
    # fails, so an answer of 503 never turns into a record that appears later.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        max_batch_size=1_048_576,
        max_request_size=4_194_304,
        request_timeout_ms=request_timeout_ms,
        compression_type=None,
    )
