"""The touchpoint consumer's batches and offsets (services/workers/intake.py): a fetch is cut
into batches of one topic, one record of each partition in turn, at the lane's records or
bytes, and a partition's offset is committed only past batches that are all applied,
whatever order they finish in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka import TopicPartition

from services.workers.inflight import InFlight
from services.workers.intake import Lane, Offsets, Record, TouchpointConsumer, batches

LIVE, BULK = "touchpoints.v1", "touchpoints.bulk.v1"


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    timestamp: int
    value: bytes | None = b"x" * 10
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


def fetch(*records: Rec) -> dict[TopicPartition, list[Record]]:
    fetched: dict[TopicPartition, list[Record]] = {}
    for r in records:
        fetched.setdefault(TopicPartition(r.topic, r.partition), []).append(r)
    return fetched


def names(batch: list[Record]) -> list[tuple[int, int]]:
    return [(r.partition, r.offset) for r in batch]


def lanes(records: int = 1_000, size: int = 1_000_000) -> dict[str, Lane]:
    return {
        LIVE: Lane(asyncio.Semaphore(1), records, size),
        BULK: Lane(asyncio.Semaphore(1), records, size),
    }


def test_a_fetch_is_one_batch_per_topic_one_record_of_each_partition_in_turn() -> None:
    fetched = fetch(
        Rec(LIVE, 0, 10, timestamp=1),
        Rec(LIVE, 0, 11, timestamp=5),
        Rec(LIVE, 0, 12, timestamp=6),
        Rec(LIVE, 1, 3, timestamp=2),
        Rec(LIVE, 2, 8, timestamp=0),
        Rec(LIVE, 2, 9, timestamp=1),
        Rec(BULK, 0, 7, timestamp=0),
    )
    cut = batches(fetched, lanes())
    assert [(topic, names(batch)) for topic, batch in cut] == [
        (LIVE, [(0, 10), (1, 3), (2, 8), (0, 11), (2, 9), (0, 12)]),
        (BULK, [(0, 7)]),
    ]


def test_a_batch_ends_at_its_lanes_records_or_bytes() -> None:
    fetched = fetch(*(Rec(LIVE, n % 2, n // 2, timestamp=n) for n in range(7)))
    by_bytes = [len(batch) for _, batch in batches(fetched, lanes(size=25))]
    assert by_bytes == [3, 3, 1]  # 10 bytes a record: ends after the third reaches 30
    by_records = [len(batch) for _, batch in batches(fetched, lanes(records=2))]
    assert by_records == [2, 2, 2, 1]
    # Each topic by its own lane's limit.
    mixed = {LIVE: Lane(asyncio.Semaphore(1), 4, 1_000), BULK: Lane(asyncio.Semaphore(1), 1, 1)}
    fetched[TopicPartition(BULK, 0)] = [Rec(BULK, 0, n, 0) for n in range(3)]
    sizes = [(topic, len(batch)) for topic, batch in batches(fetched, mixed)]
    assert sizes == [(LIVE, 4), (LIVE, 3), (BULK, 1), (BULK, 1), (BULK, 1)]


def _batch(offsets: Offsets, partition: int, first: int, last: int) -> Callable[[], None]:
    return offsets.take(Rec(LIVE, partition, o, 0) for o in range(first, last + 1))


def test_offsets_are_committed_only_past_batches_all_applied() -> None:
    offsets = Offsets()
    p0 = TopicPartition(LIVE, 0)
    first = _batch(offsets, 0, 0, 9)
    second = _batch(offsets, 0, 10, 19)
    third = _batch(offsets, 0, 20, 29)
    second()
    assert offsets.committable() == {}  # the first is still being applied
    first()
    assert offsets.committable() == {p0: 20}
    offsets.committed({p0: 20})
    assert offsets.committable() == {}
    third()
    assert offsets.committable() == {p0: 30}


def test_offsets_not_committed_are_offered_again() -> None:
    offsets = Offsets()
    p0, p1 = TopicPartition(LIVE, 0), TopicPartition(LIVE, 1)
    both = offsets.take([Rec(LIVE, 0, 4, 0), Rec(LIVE, 1, 8, 0), Rec(LIVE, 0, 5, 0)])
    both()
    assert offsets.committable() == {p0: 6, p1: 9}
    # The commit failed (Kafka away): the next one carries them, and what came since.
    later = _batch(offsets, 1, 9, 12)
    later()
    assert offsets.committable() == {p0: 6, p1: 13}


def test_a_revoked_partition_commits_nothing_more() -> None:
    offsets = Offsets()
    p0, p1 = TopicPartition(LIVE, 0), TopicPartition(LIVE, 1)
    running = _batch(offsets, 0, 0, 4)
    other = _batch(offsets, 1, 0, 4)
    offsets.forget([p0])
    running()
    other()
    assert offsets.committable() == {p1: 5}


class PausingClient:
    """The Kafka client as the lanes see it: which partitions are paused."""

    def __init__(self, *assigned: TopicPartition) -> None:
        self.assigned = set(assigned)
        self.paused: set[TopicPartition] = set()

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused.difference_update(partitions)


async def test_a_full_lane_waits_paused_and_never_holds_back_the_other() -> None:
    started: list[str] = []
    gates: dict[str, asyncio.Event] = {}

    async def handle(topic: str, records: Sequence[Record]) -> None:
        name = f"{topic}:{records[0].offset}"
        started.append(name)
        await gates.setdefault(name, asyncio.Event()).wait()

    def fatal(exc: Exception) -> None:
        raise AssertionError(exc)

    consumer = TouchpointConsumer("kafka:9092", "g", None, lanes(), InFlight(2, fatal), handle)
    client = PausingClient(TopicPartition(LIVE, 0), TopicPartition(BULK, 0))
    for offset in (0, 1):  # an import's two batches, one slot for them
        consumer._pending[BULK].append([Rec(BULK, 0, offset, 0)])
    async with asyncio.timeout(5):  # starting the second would wait for the first's slot
        await consumer._start_what_fits()
    consumer._pause_full_lanes(client)  # type: ignore[arg-type]
    assert client.paused == {TopicPartition(BULK, 0)}
    # A live batch fetched meanwhile starts at once, beside the import.
    consumer._pending[LIVE].append([Rec(LIVE, 0, 5, 0)])
    await consumer._start_what_fits()
    await asyncio.sleep(0)
    assert started == [f"{BULK}:0", f"{LIVE}:5"]
    gates.setdefault(f"{BULK}:0", asyncio.Event()).set()
    for _ in range(5):
        await asyncio.sleep(0)
    await consumer._start_what_fits()
    consumer._pause_full_lanes(client)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert started[-1] == f"{BULK}:1" and client.paused == set()
    for gate in (f"{BULK}:1", f"{LIVE}:5"):
        gates.setdefault(gate, asyncio.Event()).set()


async def test_a_finished_batch_starts_its_lanes_next_at_once() -> None:
    """The next pending batch starts when a slot frees, not at the fetch loop's next turn;
    and once the consumer settles (a rebalance, a stop), nothing pending starts."""
    started: list[int] = []
    gates: dict[int, asyncio.Event] = {}

    async def handle(topic: str, records: Sequence[Record]) -> None:
        started.append(records[0].offset)
        await gates.setdefault(records[0].offset, asyncio.Event()).wait()

    def fatal(exc: Exception) -> None:
        raise AssertionError(exc)

    consumer = TouchpointConsumer("kafka:9092", "g", None, lanes(), InFlight(2, fatal), handle)
    for offset in (0, 1, 2):
        consumer._pending[LIVE].append([Rec(LIVE, 0, offset, 0)])
    await consumer._start_what_fits()
    await asyncio.sleep(0)
    assert started == [0]
    gates.setdefault(0, asyncio.Event()).set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert started == [0, 1]  # the fetch loop did not run meanwhile
    settling = asyncio.create_task(consumer._finish_started())
    await asyncio.sleep(0)
    gates.setdefault(1, asyncio.Event()).set()
    await asyncio.wait_for(settling, 5)
    assert started == [0, 1] and not consumer._pending[LIVE]
