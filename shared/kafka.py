"""Topics, partitioning and producers shared by the gateway and the workers."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

log = logging.getLogger("tandem.kafka")

# A prefix gives a test run or a second environment its own topics on a shared broker.
_PREFIX = os.environ.get("TANDEM_TOPIC_PREFIX", "")
TOUCHPOINTS = f"{_PREFIX}touchpoints.v1"
# Backfills (`POST /v1/events?lane=bulk`, `tandem import`): drained by the workers after
# live traffic, so an import never delays another tenant's fresh events (SPEC 11).
TOUCHPOINTS_BULK = f"{_PREFIX}touchpoints.bulk.v1"
DLQ = f"{_PREFIX}touchpoints.dlq.v1"
TENANT_CONFIG = f"{_PREFIX}tenant-config.v1"
LEAD_STATE = f"{_PREFIX}lead-state.v1"
TRANSITIONS = f"{_PREFIX}journey-transitions.v1"
ATTRIBUTION = f"{_PREFIX}attribution.v1"
ALERTS = f"{_PREFIX}alerts.v1"
# A partner writing events directly writes its own tenant's topic only (a prefixed ACL on
# `partner.<tenant>.`); the workers read every such topic by pattern and take the tenant
# from the topic's name, never from what the records say.
PARTNER_TOPIC_PATTERN = re.compile(
    "^" + re.escape(f"{_PREFIX}partner.") + r"([a-z0-9][a-z0-9-]{1,62})\.touchpoints\.v1$"
)


def partner_topic(tenant_id: str) -> str:
    return f"{_PREFIX}partner.{tenant_id}.touchpoints.v1"


def topic_tenant(topic: str) -> str | None:
    """The tenant whose partner topic `topic` is; None for the shared topics."""
    match = PARTNER_TOPIC_PATTERN.match(topic)
    return match[1] if match else None


# A record may carry up to this many bytes; the gateway splits larger partition batches.
MAX_RECORD_BYTES = 900_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


TOPICS = (
    TopicSpec(TOUCHPOINTS, 8, {"retention.ms": str(7 * 24 * 3600 * 1000)}),
    # As many partitions as the live topic: the gateway places both lanes' records alike.
    TopicSpec(TOUCHPOINTS_BULK, 8, {"retention.ms": str(7 * 24 * 3600 * 1000)}),
    TopicSpec(DLQ, 1, {"retention.ms": str(30 * 24 * 3600 * 1000), "max.message.bytes": "8388608"}),
    TopicSpec(TENANT_CONFIG, 1, {"cleanup.policy": "compact"}),
    TopicSpec(LEAD_STATE, 8, {"cleanup.policy": "compact"}),
    TopicSpec(TRANSITIONS, 8),
    TopicSpec(ATTRIBUTION, 8),
    TopicSpec(ALERTS, 1),
)


def security_options() -> dict[str, Any]:
    """TLS and SASL settings for every Kafka client, from TANDEM_KAFKA_SECURITY_PROTOCOL
    (PLAINTEXT locally; SASL_SSL in production, deploy/k8s), TANDEM_KAFKA_SASL_MECHANISM,
    TANDEM_KAFKA_SASL_USERNAME / _PASSWORD (each component its own principal, so the
    broker's ACLs decide who may write which topic) and TANDEM_KAFKA_CA_FILE."""
    env = os.environ
    protocol = env.get("TANDEM_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(cafile=env.get("TANDEM_KAFKA_CA_FILE"))
    if protocol.startswith("SASL_"):
        try:
            options["sasl_plain_username"] = env["TANDEM_KAFKA_SASL_USERNAME"]
            options["sasl_plain_password"] = env["TANDEM_KAFKA_SASL_PASSWORD"]
        except KeyError as exc:
            raise RuntimeError(f"{protocol} needs {exc.args[0]}") from exc
        options["sasl_mechanism"] = env.get("TANDEM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    return options


def faust_credentials() -> Any:
    """security_options() as Faust's broker credentials (None: plaintext)."""
    import faust

    options = security_options()
    if "sasl_mechanism" in options:
        return faust.SASLCredentials(
            username=options["sasl_plain_username"],
            password=options["sasl_plain_password"],
            mechanism=options["sasl_mechanism"],
            ssl_context=options.get("ssl_context"),
        )
    if "ssl_context" in options:
        return faust.SSLCredentials(options["ssl_context"])
    return None


def partition_for(key: str, partitions: int) -> int:
    """Kafka's default partitioner for a keyed record (murmur2, positive, modulo)."""
    return _keyed(key.encode(), partitions)


def _keyed(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's default partitioner (a keyed record by murmur2, as Java's; an unkeyed one
    on a random available partition) with the murmur2 below, for every producer here."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[_keyed(key, len(all_partitions))]


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (the Java client's `Utils.murmur2`, as unsigned 32 bits).

    The same function as aiokafka's (tests compare them), written for CPython: the 4-byte
    words are unpacked in one call and every product masked once. The gateway places each
    event by it, and aiokafka's version took 12 µs of the 90 µs a Segment message costs."""
    m = 0x5BD1E995
    length = len(data)
    h = 0x9747B28C ^ length
    words = length >> 2
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * m) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = length & 3
    if rest:
        tail = data[words << 2 :]
        if rest == 3:
            h ^= tail[2] << 16
        if rest >= 2:
            h ^= tail[1] << 8
        h = ((h ^ tail[0]) * m) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * m) & 0xFFFFFFFF
    return h ^ (h >> 15)


async def ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...] = TOPICS) -> list[str]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=10_000, **security_options()
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        # One broker locally; production runs 3 replicas with min.insync.replicas 2, so an
        # acknowledged event survives the loss of a broker (deploy/k8s/configmap.yaml).
        replication = int(os.environ.get("TANDEM_TOPIC_REPLICATION", "1"))
        min_isr = os.environ.get("TANDEM_TOPIC_MIN_ISR")
        durability = {"min.insync.replicas": min_isr} if min_isr else {}
        missing = [
            NewTopic(s.name, s.partitions, replication, topic_configs={**s.config, **durability})
            for s in specs
            if s.name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                response = await admin.create_topics(missing)
                # The broker answers per topic; a refusal (e.g. more replicas than brokers)
                # is an error code in the answer, not an exception.
                refused = [
                    f"{name}: {rest[0] if rest else code}"
                    for name, code, *rest in response.topic_errors
                    if code not in (0, TopicAlreadyExistsError.errno)
                ]
                if refused:
                    raise RuntimeError(f"topics not created: {'; '.join(refused)}")
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
        partitioner=partitioner,
        **security_options(),
    )
