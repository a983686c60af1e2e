"""The consumer-lag gauge: one series per assigned partition whose end offset the client
knows, its end less the offset committed (this worker's last commit, else the group's)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import TopicPartition
from prometheus_client import generate_latest

from services.workers.inflight import InFlight
from services.workers.intake import Record, TouchpointConsumer
from services.workers.observability import update_lag

HELD = TopicPartition("touchpoints.v1", 0)
UNFETCHED = TopicPartition("touchpoints.v1", 1)
COMMITTED_HERE = TopicPartition("touchpoints.v1", 2)


class Client:
    """The Kafka client as lag() sees it: partition 1's end offset is not known yet."""

    def __init__(self) -> None:
        self.asked: list[TopicPartition] = []

    def assignment(self) -> set[TopicPartition]:
        return {HELD, UNFETCHED, COMMITTED_HERE}

    def highwater(self, tp: TopicPartition) -> int | None:
        return None if tp == UNFETCHED else 100

    async def committed(self, tp: TopicPartition) -> int | None:
        self.asked.append(tp)
        return 40


def _never(exc: Exception) -> None:
    raise AssertionError(exc)


async def test_lag_is_the_end_offset_less_the_offset_committed() -> None:
    intake = TouchpointConsumer("kafka:9092", "g", None, {}, InFlight(1, _never), _handle)
    client = Client()
    intake.consumer = client  # type: ignore[assignment]
    intake._committed[COMMITTED_HERE] = 90  # what this worker committed last
    await update_lag(intake.lag)
    text = generate_latest().decode()
    assert 'tandem_worker_consumer_lag{partition="0",topic="touchpoints.v1"} 60.0' in text
    assert 'tandem_worker_consumer_lag{partition="2",topic="touchpoints.v1"} 10.0' in text
    assert 'tandem_worker_consumer_lag{partition="1"' not in text
    # The group's committed offset is asked once; afterwards this worker's commits count.
    await update_lag(intake.lag)
    assert client.asked == [HELD]


async def _handle(topic: str, records: Sequence[Record]) -> None:
    await asyncio.sleep(0)
