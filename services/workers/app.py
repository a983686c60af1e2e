"""The worker: consumes the touchpoint topics, decodes, validates, calls the domain, emits
and projects; Faust runs its timers, the config topic's agent and its lifecycle.

Steps live in their own modules: intake (the touchpoint topics' consumer and its offsets),
records (decode + validate), project (apply to the read model), checkpoint (the one order
of a batch's effects), failures (what an error means: pause, isolate, dead-letter,
quarantine), dead_letters (the DLQ), quarantine (parking a tenant's events), runtime
(resources, config changes, re-score and decay sweep), sla (SLA breach alerts),
observability (health, readiness and metrics). This module only wires them to topics and
timers.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any

import faust
import mode.loop
from aiokafka import AIOKafkaConsumer
from faust.tables import TableManager
from faust.types import StreamT

from services.workers import compaction
from services.workers.failures import Outages
from services.workers.inflight import InFlight
from services.workers.intake import FETCH_MAX_WAIT_MS, Lane, Record, TouchpointConsumer
from services.workers.observability import (
    BATCH_EVENTS,
    BATCH_SECONDS,
    SLA_SWEEP_SECONDS,
    HealthServer,
    update_lag,
)
from services.workers.records import DeadLetter, Incoming, read_record
from services.workers.runtime import Runtime
from services.workers.watchdog import AssignmentWatchdog
from shared import data_driven
from shared.kafka import (
    PARTNER_TOPIC_PATTERN,
    TENANT_CONFIG,
    TOUCHPOINTS,
    TOUCHPOINTS_BULK,
    faust_credentials,
    security_options,
)
from shared.settings import load_settings
from shared.tracing import consume_span

log = logging.getLogger("tandem.worker")

# A batch's records, and the bytes of values at which it ends (intake.Lane says why).
LIVE_BATCH_RECORDS = 1_000
LIVE_BATCH_BYTES = 1024 * 1024
BULK_BATCH_RECORDS = 16
BULK_BATCH_BYTES = 16 * 1024 * 1024
EXIT_UNHANDLED = 70
GC_THRESHOLD = 100_000
# A new tenant's partner topic is found within this long (Faust cannot subscribe by pattern).
PARTNER_DISCOVERY_MS = 5_000
ASSIGNMENT_CHECK_S = 10.0
# SPEC 7 wants a breach out within 60 s of its deadline; a sweep this often leaves room for
# a slow sweep and a retry.


class EagerTableManager(TableManager):
    """Faust's table manager without the second it sleeps at start for tables defined
    after the app starts: ours has no tables, and a restarted worker should not wait."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


settings = load_settings()
# The touchpoint topics' consumer group (intake.py). Faust's own consumer, which reads only
# the config topic, is a group of its own beside it.
GROUP = os.environ.get("TANDEM_WORKER_GROUP", "tandem-workers")
app = faust.App(
    f"{GROUP}-config",
    broker=f"kafka://{settings.kafka_bootstrap}",
    broker_credentials=faust_credentials(),
    value_serializer="raw",
    key_serializer="raw",
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    # Faust's leader election (a one-partition topic in the subscription) serves only
    # `on_leader` timers, and we have none: without it a starting worker also skips two
    # CreateTopics round trips before it joins.
    topic_disable_leader=True,
    broker_commit_interval=1.0,
    # Recovery (SPEC 11: a SIGKILLed worker's partitions move within 10 s): the broker drops
    # a member that has not heartbeated for the session timeout (6 s is the broker's default
    # minimum), and a rebalance waits at most this long for members to rejoin. A dynamic
    # member that stops normally leaves the group at once (aiokafka sends LeaveGroup).
    broker_session_timeout=6.0,
    broker_heartbeat_interval=1.0,
    broker_rebalance_timeout=10.0,
    # Static membership (KIP-345): a worker restarted with its instance id takes its dead
    # predecessor's place and partitions at once, instead of its join waiting the session
    # timeout out for the broker to drop the dead member (SPEC 12: recovery within 3 s).
    # Two live workers must never share an id: the broker gives the membership to the one
    # that joined last, and the other (aiokafka does not stop on it) rejoins at its next
    # heartbeat, taking it back: the two take turns every second over the same partitions.
    # A static member does not leave the group when it stops; a worker removed for good
    # hands its partitions over one session timeout later.
    consumer_group_instance_id=settings.worker_instance,
    # Faust's table manager waits a second at start for tables defined late; we have none.
    TableManager=EagerTableManager,
    stream_buffer_maxsize=8_192,
    producer_acks=-1,
    datadir=os.environ.get("TANDEM_WORKER_DATADIR", ".state/faust"),
)
config_topic = app.topic(TENANT_CONFIG, key_type=bytes, value_type=bytes)
runtime = Runtime(settings)


async def handle_touchpoints(topic: str, records: Sequence[Record]) -> None:
    with consume_span(topic, (r.headers for r in records)):
        await handle_records((r.value, r.key, r.topic, r.partition, r.offset) for r in records)


async def handle_records(
    records: Iterable[tuple[bytes | None, bytes | None, str, int, int]],
) -> None:
    """(value, key, topic, partition, offset) records: decoded, validated, handled."""
    await runtime.ready()
    now = settings.now()
    incoming: list[Incoming] = []
    dead: list[DeadLetter] = []
    for value, key, topic, partition, offset in records:
        good, bad = read_record(value, key, topic, partition, offset, now=now)
        incoming.extend(good)
        dead.extend(bad)
    BATCH_EVENTS.observe(len(incoming) + len(dead))
    with BATCH_SECONDS.time():
        await runtime.policy.handle(incoming, dead)


# Each lane, live and bulk, has `batches_in_flight` slots of its own: an import overlaps
# its batches as live traffic does (with one bulk batch at a time the worker and PostgreSQL
# took turns on it, and it ran at a third of the live rate), and a live batch never waits
# behind an import. Partner batches are live traffic; they take any free slot.
in_flight = InFlight(
    2 * settings.batches_in_flight,
    lambda exc: _stop_unhandled("batch could not be handled; worker stopping", exc),
)
live_lane = asyncio.Semaphore(settings.batches_in_flight)
bulk_lane = asyncio.Semaphore(settings.batches_in_flight)


intake = TouchpointConsumer(
    settings.kafka_bootstrap,
    GROUP,
    settings.worker_instance,
    {
        TOUCHPOINTS: Lane(live_lane, LIVE_BATCH_RECORDS, LIVE_BATCH_BYTES),
        # Bulk records are the gateway's arrays (up to 1,000 events each): a few make a batch.
        TOUCHPOINTS_BULK: Lane(bulk_lane, BULK_BATCH_RECORDS, BULK_BATCH_BYTES),
    },
    in_flight,
    handle_touchpoints,
)
watchdog = AssignmentWatchdog(lambda: intake.consumer, TOUCHPOINTS)
health = HealthServer(
    lambda: runtime.started and not Outages.waiting, lambda: update_lag(intake.lag)
)


@app.task
async def consume_touchpoints() -> None:
    try:
        await intake.run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        _stop_unhandled("touchpoint consumer failed; worker stopping", exc)


def _stop_unhandled(message: str, exc: Exception) -> None:
    # The policy waits out outages and dead-letters bad content, so this is a bug. Faust's
    # supervisor would restart the agent past records it had taken; exit instead, offsets
    # uncommitted, so that a restarted worker reads them again.
    log.critical(message, exc_info=exc)
    print(f"tandem worker: {exc!r}", file=sys.stderr, flush=True)
    logging.shutdown()
    os._exit(EXIT_UNHANDLED)


@app.task
async def apply_partner_topics() -> None:
    """Every tenant's partner topic (`partner.<tenant>.touchpoints.v1`), subscribed by
    pattern with a consumer of its own (Faust's subscriptions are by name only): read as
    the live topic is, the tenant taken from each topic's name (records.read_record), the
    offsets committed once a batch is handled."""
    await runtime.ready()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{GROUP}-partners",
        # Static as the touchpoint consumer (intake.py), named after it.
        group_instance_id=settings.worker_instance and f"{settings.worker_instance}-partners",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        metadata_max_age_ms=PARTNER_DISCOVERY_MS,
        # As the touchpoint consumer's (intake.FETCH_MAX_WAIT_MS says why).
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        **security_options(),
    )
    consumer.subscribe(pattern=PARTNER_TOPIC_PATTERN.pattern)
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1_000, max_records=LIVE_BATCH_RECORDS)
            records = [r for batch in batches.values() for r in batch]
            if not records:
                continue
            # Waited for: this consumer commits by position, so a partner batch is applied
            # before the next is taken.
            await in_flight.run(
                partial(
                    handle_records,
                    [(r.value, r.key, r.topic, r.partition, r.offset) for r in records],
                )
            )
            await consumer.commit()
    finally:
        await consumer.stop()


@app.agent(config_topic)
async def apply_config_changes(stream: StreamT[bytes]) -> None:
    async for value in stream:
        await _periodic("config change", partial(runtime.on_config_message, value))


async def _periodic(duty: str, run: Callable[[], Awaitable[None]]) -> None:
    # A config change or sweep that fails is picked up again by the next poll or sweep; it
    # must never take the worker (and the touchpoint stream it consumes) down with it.
    try:
        await runtime.ready()
        await run()
    except Exception:
        log.exception("periodic duty failed; retrying at the next tick", extra={"duty": duty})


@app.timer(interval=settings.config_poll_interval_s)
async def poll_config_versions() -> None:
    await _periodic("config poll", runtime.poll_configs)


@app.timer(interval=settings.sweep_interval_s)
async def decay_sweep() -> None:
    await _periodic("decay sweep", runtime.decay_sweep)


@app.timer(interval=settings.sla_sweep_interval_s)
async def sla_sweep() -> None:
    async def timed() -> None:
        with SLA_SWEEP_SECONDS.time():
            await runtime.sla.sweep(runtime.pool, runtime.producer, runtime.configs, settings.now())

    await _periodic("sla sweep", timed)


@app.task
async def serve_health() -> None:
    await health.start()


@app.timer(interval=data_driven.REFRESH_SWEEP_S)
async def data_driven_refresh() -> None:
    # The tenants this worker serves, as the decay and SLA sweeps.
    await _periodic(
        "data-driven refresh",
        lambda: data_driven.refresh_stale(
            runtime.pool, sorted(runtime.configs.cached_tenants()), settings.now()
        ),
    )


@app.timer(interval=compaction.INTERVAL_S)
async def merge_appended_rows() -> None:
    async def merge() -> None:
        await compaction.compact(runtime.pool)

    await _periodic("merge of appended rows", merge)


@app.timer(interval=ASSIGNMENT_CHECK_S)
async def check_assignment() -> None:
    watchdog.check()


@app.on_before_shutdown.connect
async def close_runtime(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    await intake.stop()
    await health.stop()
    await in_flight.drain()
    await runtime.close()


def run_worker() -> None:
    # The worker holds many long-lived objects (modules, cached lead states) and a batch
    # allocates hundreds of thousands of short-lived ones that form few cycles: with the
    # default thresholds the collector ran every 700 allocations and rescanned survivors.
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 50, 100)
    # uvloop, as the gateway runs: the worker spends a tenth of its time in the event loop
    # (timers, sockets); on the default loop it used 5 to 8 % more CPU per event.
    mode.loop.use("uvloop")
    # Our JSON logging (configured by the CLI) stays: Faust would install its own format.
    worker = faust.Worker(app, loglevel="INFO", quiet=True, override_logging=False)
    worker.execute_from_commandline()
