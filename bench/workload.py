"""Workloads, encoded before the clock starts so that the bench measures Tandem, not itself.

Array records are built by the gateway's own codec (shared/records.py), one batch of 500
at a time as HTTP requests would bring them; single records carry one event keyed
"tenant:lead". Each workload knows the last lead event it put on every partition and
tenant: partitions are consumed in order, so once those are in the read model, everything
before them is too. HTTP bodies are posted by `post_until_taken`, which waits out the
gateway's 429/503 as told.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
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
    # (partition, tenant) -> the id of the last lead event put there
    last_event: dict[tuple[int, str], str] = field(default_factory=dict)

    @property
    def probes(self) -> list[tuple[str, str]]:
        """(tenant, event id) of the last event of each partition: all in, and the applied
        events counted, the workload is applied."""
        return [(tenant, event_id) for (_, tenant), event_id in self.last_event.items()]

    def note(self, event: dict[str, Any], partition: int) -> None:
        if event["type"] != "campaign_spend":  # spend lands in its own table
            self.last_event[(partition, event["tenant_id"])] = event["event_id"]


def generated(generator: JourneyGenerator, count: int) -> Iterator[dict[str, Any]]:
    """`count` events: the tenant's weekly spend first, then lead after lead."""
    return itertools.islice(generator.events(None), count)


def _chunks(events: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(events)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def array_records(events: Iterable[dict[str, Any]], partitions: int) -> Workload:
    """The events as HTTP batches of 500 of one tenant bring them."""
    return batch_records(_chunks(events, HTTP_BATCH), partitions)


def batch_records(batches: Iterable[list[dict[str, Any]]], partitions: int) -> Workload:
    """Each batch as one HTTP request brings it (a request carries one tenant's events)."""
    workload = Workload()
    for batch in batches:
        for event in batch:
            workload.note(event, partition_for(event_key(event), partitions))
        workload.records.extend(encode_records(batch, partitions))
        workload.events += len(batch)
    return workload


def single_records(events: Iterable[dict[str, Any]], partitions: int) -> Workload:
    workload = Workload()
    for event in events:
        key = event_key(event)
        workload.note(event, partition_for(key, partitions))
        workload.records.append((None, key.encode(), orjson.dumps(event)))
        workload.events += 1
    return workload


def journeys_of_tenants(
    journeys: list[list[dict[str, Any]]], tenants: list[str], leads_per_tenant: int
) -> list[list[dict[str, Any]]]:
    """The same journeys spread over `tenants`, `leads_per_tenant` each, in order: the
    events are the same but for their tenant (lead, account and event ids may repeat
    across tenants, as they would). One batch of at most 500 per tenant's request."""
    batches: list[list[dict[str, Any]]] = []
    for index, tenant in enumerate(tenants):
        mine = journeys[index * leads_per_tenant : (index + 1) * leads_per_tenant]
        events = [{**event, "tenant_id": tenant} for journey in mine for event in journey]
        batches.extend(_chunks(events, HTTP_BATCH))
    return batches


def http_bodies(events: Iterable[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(chunk) for chunk in _chunks(events, HTTP_BATCH)]


async def post_until_taken(
    client: httpx.AsyncClient, path: str, body: bytes
) -> tuple[httpx.Response, int, float]:
    """Posts the body until the gateway answers 200, sleeping its Retry-After after a 429 or
    503: the answer, how many tries were refused so, and the seconds the taken try took.
    Any other status stops the bench."""
    retried = 0
    while True:
        sent = time.perf_counter()
        response = await client.post(path, content=body)
        if response.status_code == 200:
            return response, retried, time.perf_counter() - sent
        if response.status_code not in (429, 503):
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
        retried += 1
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
