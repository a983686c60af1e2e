"""The consumer-lag gauge: one series per partition whose highwater the client knows."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from prometheus_client import generate_latest

from services.workers.observability import update_lag

HELD = TopicPartition("touchpoints.v1", 0)
UNFETCHED = TopicPartition("touchpoints.v1", 1)
ARRIVING = TopicPartition("touchpoints.v1", 2)


class Consumer:
    """Faust's consumer as update_lag sees it, mid-rebalance: partition 2 is in Faust's
    assignment but not yet in the Kafka client's, whose highwater() asserts on it."""

    def __init__(self) -> None:
        self._committed_offset: dict[Any, int | None] = {HELD: 40, UNFETCHED: None}

    def assignment(self) -> set[TopicPartition]:
        return {HELD, UNFETCHED, ARRIVING}

    def highwater(self, tp: TopicPartition) -> int | None:
        if tp == ARRIVING:
            raise AssertionError("Partition is not assigned")
        return 100 if tp == HELD else None


async def test_lag_is_highwater_minus_committed_and_a_partition_in_flux_is_skipped() -> None:
    await update_lag(Consumer())
    text = generate_latest().decode()
    assert 'tandem_worker_consumer_lag{partition="0",topic="touchpoints.v1"} 60.0' in text
    assert 'tandem_worker_consumer_lag{partition="1"' not in text
    assert 'tandem_worker_consumer_lag{partition="2"' not in text
