"""Workloads, encoded before the clock starts so that the bench measures Tandem, not itself.

Array records are built by the gateway's own codec (shared/records.py), one batch of 500
at a time as HTTP requests would bring them; single records carry one event keyed
"tenant:lead". Each workload knows the last lead event it put on every partition:
partitions are consumed in order, so once those are in the read model, everything before
them is too.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from shared.kafka import partition_for
from shared.records import encode_records
from shared.validation import event_key
from simulation.generator import JourneyGenerator

HTTP_BATCH = 500


@dataclass
class Workload:
    events: int = 0
    # (partition, key, value): one-event records carry no partition (the producer's murmur2
    # partitioner places them, as it would a partner's records).
    records: list[tuple[int | None, bytes | None, bytes]] = field(default_factory=list)
    last_event_per_partition: dict[int, str] = field(default_factory=dict)

    @property
    def probes(self) -> list[str]:
        return list(self.last_event_per_partition.values())


def generated(generator: JourneyGenerator, count: int) -> Iterator[dict[str, Any]]:
    """`count` events: the tenant's weekly spend first, then lead after lead."""
    return itertools.islice(generator.events(None), count)


def _chunks(events: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(events)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def array_records(events: Iterable[dict[str, Any]], partitions: int) -> Workload:
    workload = Workload()
    for chunk in _chunks(events, HTTP_BATCH):
        for event in chunk:
            if event["type"] != "campaign_spend":  # spend lands in its own table
                partition = partition_for(event_key(event), partitions)
                workload.last_event_per_partition[partition] = event["event_id"]
        workload.records.extend(encode_records(chunk, partitions))
        workload.events += len(chunk)
    return workload


def single_records(events: Iterable[dict[str, Any]], partitions: int) -> Workload:
    workload = Workload()
    for event in events:
        key = event_key(event)
        if event["type"] != "campaign_spend":
            workload.last_event_per_partition[partition_for(key, partitions)] = event["event_id"]
        workload.records.append((None, key.encode(), orjson.dumps(event)))
        workload.events += 1
    return workload


def http_bodies(events: Iterable[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(chunk) for chunk in _chunks(events, HTTP_BATCH)]
