"""The touchpoint topics' consumer: aiokafka fetches records in bulk, each fetch becomes
batches of one topic (the partitions' records taken one of each in turn, cut at the lane's
records or bytes), each batch goes to a slot of its topic's lane (InFlight), and a
partition's offset is committed only up to the end of its longest run of applied batches.

Why not a Faust agent: Faust makes a Message and an Event of every record and passes each
through its stream, 60 to 110 µs per record on the bench machine, as much as the rest of the
work of a record that holds one event. Faust still runs the worker's timers, the config
topic's agent and its lifecycle. The batches are the ones Faust's agents took: its
consumer hands an agent one record of each partition in turn, and the agent took up to
1,000 live records (about a mebibyte of array records) or 16 of an import's.

Contract, in the order things happen:
1. `getmany` returns what the client has fetched (it waits only when nothing is there, so a
   busy worker takes large batches and an idle one answers at once). A batch whose lane
   has no free slot waits, and its topic is paused meanwhile: an import filling the bulk
   lane never holds back live batches.
2. Each batch is registered with `Offsets` before it starts: per partition, the offset after
   its last record, in fetch order.
3. InFlight runs the batch (records.py, then the failure policy and checkpoint.py's order of
   effects) and, only once it has returned, marks it applied.
4. Every COMMIT_INTERVAL_S, when partitions are revoked (after the batches in flight have
   finished) and at stop, each partition's offset is committed up to the end of the batches
   applied without a gap before them. A batch applied after its partition moved to another
   worker is applied twice, which every effect tolerates (keyed by tenant and event id);
   its offset is no longer this worker's to commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from services.workers.inflight import InFlight
from shared.kafka import security_options

log = logging.getLogger("tandem.worker.intake")

# What one partition's fetch may bring (aiokafka's default): a fetch of every partition
# stays a few mebibytes, cut into batches as it is taken.
PARTITION_FETCH_BYTES = 1024 * 1024
# A fetch is one request for every partition without records waiting; one whose records
# arrived while it was out is asked for again only once that request returns, which the
# broker holds up to this long when nothing else came (aiokafka's default, 500 ms, put
# half a second on live events' freshness).
FETCH_MAX_WAIT_MS = 20
# How long `getmany` waits when nothing has been fetched (then offsets may be committed),
# and while batches wait for a lane's slot: a waiting batch starts as soon as a slot frees
# (`_start_next`), and its topic, paused meanwhile, is fetched again at the next turn.
IDLE_WAIT_MS = 200
BUSY_WAIT_MS = 10
COMMIT_INTERVAL_S = 1.0


class Record(Protocol):
    """What the worker reads of an aiokafka ConsumerRecord."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


Handle = Callable[[str, Sequence[Record]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Lane:
    """A topic's slots in flight and the size of its batches: a batch ends at `records`
    records or once its values reach `bytes` (whichever comes first).

    Why these sizes: a batch touches more leads the larger it is, and one that touches
    more than the lead cache holds refolds, in the next batch, the leads it evicted; the
    event loop also decodes a whole batch before it yields. Batches of 16 MiB (60,000 array
    events) did both at full scale; about 4,000 events, as Faust's agents took, do not."""

    slots: asyncio.Semaphore
    records: int
    bytes: int


@dataclass(slots=True)
class _Taken:
    end: int  # the offset after the batch's last record of the partition
    applied: bool = False


class Offsets:
    """Per partition, the batches taken in fetch order, and how far all are applied."""

    def __init__(self) -> None:
        self._taken: dict[TopicPartition, deque[_Taken]] = {}
        self._ready: dict[TopicPartition, int] = {}

    def take(self, records: Iterable[Record]) -> Callable[[], None]:
        """Registers a batch; returns what marks it applied."""
        ends: dict[TopicPartition, int] = {}
        for r in records:
            ends[TopicPartition(r.topic, r.partition)] = r.offset + 1
        taken = [_Taken(end) for end in ends.values()]
        for tp, entry in zip(ends, taken, strict=True):
            self._taken.setdefault(tp, deque()).append(entry)

        def applied() -> None:
            for entry in taken:
                entry.applied = True

        return applied

    def committable(self) -> dict[TopicPartition, int]:
        """Per partition, the offset after its batches applied without a gap, where that
        moved since the last commit."""
        for tp, queue in self._taken.items():
            while queue and queue[0].applied:
                self._ready[tp] = queue.popleft().end
        return dict(self._ready)

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, end in offsets.items():
            if self._ready.get(tp) == end:
                del self._ready[tp]

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions no longer this worker's: their batches still running commit nothing."""
        for tp in partitions:
            self._taken.pop(tp, None)
            self._ready.pop(tp, None)


def batches(
    fetched: Mapping[TopicPartition, list[Record]], lanes: Mapping[str, Lane]
) -> list[tuple[str, list[Record]]]:
    """A fetch's records as batches of one topic each, one record of each partition in
    turn, cut at the topic's lane's records or bytes.

    A request's events go to several partitions at once (a lead's by the lead, an anonymous
    visitor's by the visitor), and an anonymous touch applied after its lead's later events
    arrives late and refolds the lead from its history. Taken one of each partition in
    turn (as Faust's consumer did), a request's records stay near each other in the batch;
    partition after partition, they were applied out of step (7,631 refolds in 200,000
    events against 428)."""
    by_topic: dict[str, list[list[Record]]] = {}
    for tp, records in fetched.items():
        if records:
            by_topic.setdefault(tp.topic, []).append(records)
    cut: list[tuple[str, list[Record]]] = []
    for topic, partitions in by_topic.items():
        lane = lanes[topic]
        batch: list[Record] = []
        size = 0
        for record in _one_of_each_in_turn(partitions):
            if len(batch) >= lane.records or size >= lane.bytes:
                cut.append((topic, batch))
                batch, size = [], 0
            batch.append(record)
            size += len(record.value or b"")
        cut.append((topic, batch))
    return cut


def _one_of_each_in_turn(partitions: list[list[Record]]) -> Iterator[Record]:
    for turn in itertools.zip_longest(*partitions):
        for record in turn:
            if record is not None:
                yield record


class TouchpointConsumer(ConsumerRebalanceListener):  # type: ignore[misc]
    """Consumes the lanes' topics in the worker's group (static member `instance` when
    given), each topic's batches in its own lane of `in_flight`."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        instance: str | None,
        lanes: Mapping[str, Lane],
        in_flight: InFlight,
        handle: Handle,
    ) -> None:
        self._bootstrap, self._group, self._instance = bootstrap, group, instance
        self._lanes = lanes
        self._in_flight = in_flight
        self._handle = handle
        self._offsets = Offsets()
        # Batches fetched and not started, per topic: their lane's slots were all taken.
        self._pending: dict[str, deque[list[Record]]] = {topic: deque() for topic in lanes}
        self._committed: dict[TopicPartition, int] = {}
        self._starting: set[asyncio.Task[None]] = set()
        self._next_commit = 0.0
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        # Made in `run`: the client binds to the running loop.
        self.consumer: AIOKafkaConsumer | None = None

    async def run(self) -> None:
        """Consumes until `stop`; then waits for the batches in flight and commits."""
        consumer = self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            # Static membership (KIP-345): a restarted worker takes its dead predecessor's
            # place and partitions at once (SPEC 12: recovery within 3 s). Two live workers
            # must never share an id.
            group_instance_id=self._instance,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # A SIGKILLed worker's partitions move within 10 s (SPEC 11): the broker drops a
            # member silent for the session timeout (6 s, the broker's default minimum).
            session_timeout_ms=6_000,
            heartbeat_interval_ms=1_000,
            rebalance_timeout_ms=10_000,
            max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            **security_options(),
        )
        consumer.subscribe(list(self._lanes), listener=self)
        try:
            await consumer.start()
            while not self._stopping.is_set():
                waiting = any(self._pending.values())
                fetched = await consumer.getmany(
                    timeout_ms=BUSY_WAIT_MS if waiting else IDLE_WAIT_MS
                )
                for topic, records in batches(fetched, self._lanes):
                    self._pending[topic].append(records)
                await self._start_what_fits()
                self._pause_full_lanes(consumer)
                if time.monotonic() >= self._next_commit:
                    await self._commit()
        finally:
            await self._finish_started()
            await self._commit()
            await consumer.stop()
            self._stopped.set()

    async def stop(self) -> None:
        """Ends `run` after its current fetch, once its batches are applied and committed."""
        self._stopping.set()
        if self.consumer is not None:
            await self._stopped.wait()

    async def _start_what_fits(self) -> None:
        """Starts each lane's pending batches while the lane has a free slot: a full lane
        (an import's) never holds back the other's batches."""
        for topic, pending in self._pending.items():
            slots = self._lanes[topic].slots
            while pending and not slots.locked():
                await self._start(topic, pending.popleft())

    def _pause_full_lanes(self, consumer: AIOKafkaConsumer) -> None:
        """A topic with batches waiting for its lane is not fetched until they start."""
        for topic, pending in self._pending.items():
            partitions = [tp for tp in consumer.assignment() if tp.topic == topic]
            if pending:
                consumer.pause(*partitions)
            else:
                consumer.resume(*partitions)

    async def _start(self, topic: str, records: list[Record]) -> None:
        applied = self._offsets.take(records)

        async def handle() -> None:
            await self._handle(topic, records)

        def done() -> None:
            applied()
            self._start_next(topic)

        await self._in_flight.start(handle, done, self._lanes[topic].slots)

    async def _finish_started(self) -> None:
        """Waits for every batch started to be applied; those not started are dropped (not
        taken, so not committed: read again from the committed offsets by whoever holds
        their partitions next, this worker too)."""
        for pending in self._pending.values():
            pending.clear()
        while self._starting:
            await asyncio.gather(*self._starting, return_exceptions=True)
        await self._in_flight.drain()

    def _start_next(self, topic: str) -> None:
        """A batch has finished and freed its lane's slot: the lane's next pending batch
        starts now, not when the fetch loop next wakes (up to BUSY_WAIT_MS later, a few
        per cent of the rate when every batch waits for a slot)."""
        pending = self._pending[topic]
        if pending and not self._lanes[topic].slots.locked():
            task = asyncio.create_task(self._start(topic, pending.popleft()))
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def _commit(self) -> None:
        self._next_commit = time.monotonic() + COMMIT_INTERVAL_S
        ready = self._offsets.committable()
        if not ready or self.consumer is None:
            return
        try:
            await self.consumer.commit(ready)
        except KafkaError as exc:
            # Kafka away or the group rebalancing: the next commit carries these offsets
            # (or the partition's next owner reads the batches again, which changes nothing).
            log.warning("offsets not committed", extra={"error": repr(exc)})
            return
        self._offsets.committed(ready)
        self._committed.update(ready)

    async def lag(self) -> dict[TopicPartition, int]:
        """Per assigned partition: its end offset less the offset committed."""
        lags: dict[TopicPartition, int] = {}
        if self.consumer is None:
            return lags
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue
            if tp not in self._committed:
                with contextlib.suppress(KafkaError):
                    self._committed[tp] = await self.consumer.committed(tp) or 0
            lags[tp] = max(0, highwater - self._committed.get(tp, 0))
        return lags

    # ConsumerRebalanceListener: awaited by the client inside a rebalance.

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._finish_started()
        await self._commit()
        self._offsets.forget(revoked)
        for tp in revoked:
            self._committed.pop(tp, None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None
