"""Array records: how touchpoints travel on Kafka (SPEC 1), written and read in one place.

A record's value is one event object or a JSON array of events. Intakes write arrays: one
record per partition and tenant per request, at most MAX_RECORD_BYTES each, keyed by the
tenant (the partition is chosen explicitly from each event's own "tenant:lead" key, so the
events of one lead stay in one partition and in order). Partners producing one event per
record key it "tenant:lead" and let the default partitioner place it. Either way the key
names the tenant before its first colon, which lets the workers refuse a record whose
events claim another tenant than its key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import orjson

from shared.kafka import MAX_RECORD_BYTES, partition_for
from shared.validation import event_key


class Record(NamedTuple):
    partition: int
    key: bytes
    value: bytes


class MalformedRecord(ValueError):
    """The record's value is neither an event object nor an array of them."""


def encode_records(
    events: Iterable[Mapping[str, Any]], partitions: int, *, max_bytes: int = MAX_RECORD_BYTES
) -> list[Record]:
    """Groups events by (partition of their key, tenant), in order, into array records of
    at most `max_bytes` (a single event larger than that still gets a record of its own)."""
    groups: dict[tuple[int, str], list[bytes]] = {}
    # A lead's events tend to come together: its key is hashed once per call.
    placed: dict[str, int] = {}
    for event in events:
        tenant = event["tenant_id"]
        routing_key = event_key(event)
        partition = placed.get(routing_key)
        if partition is None:
            partition = placed[routing_key] = partition_for(routing_key, partitions)
        groups.setdefault((partition, tenant), []).append(orjson.dumps(event))
    records = []
    for (partition, tenant), encoded in groups.items():
        key = tenant.encode()
        batch: list[bytes] = []
        size = 2  # the brackets
        for item in encoded:
            if batch and size + len(item) + 1 > max_bytes:
                records.append(Record(partition, key, b"[" + b",".join(batch) + b"]"))
                batch, size = [], 2
            batch.append(item)
            size += len(item) + 1
        records.append(Record(partition, key, b"[" + b",".join(batch) + b"]"))
    return records


def decode_record(value: bytes | None) -> list[tuple[int | None, Any]]:
    """The items of a record with their index in the array (None for a one-event record).

    Items are returned as decoded, not yet validated: each is an event candidate."""
    if not value:
        raise MalformedRecord("empty record")
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise MalformedRecord(f"not JSON: {exc}") from exc
    if isinstance(decoded, dict):
        return [(None, decoded)]
    if isinstance(decoded, list):
        return list(enumerate(decoded))
    raise MalformedRecord("record must be an event object or an array of events")


def key_tenant(key: bytes | None) -> str | None:
    """The tenant a record's key names ("tenant" or "tenant:..."), None for no key."""
    if not key:
        return None
    return key.split(b":", 1)[0].decode(errors="replace")
