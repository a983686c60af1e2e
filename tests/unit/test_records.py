"""The array-record codec (shared/records.py) and the worker's record step on top of it."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference_murmur2
from hypothesis import given
from hypothesis import strategies as st

from services.workers.records import read_record
from services.workers.store import LEADS, Table
from shared.kafka import (
    TOUCHPOINTS,
    murmur2,
    partition_for,
    partitioner,
    partner_topic,
    topic_tenant,
)
from shared.records import MalformedRecord, decode_record, encode_records, key_tenant
from shared.validation import event_key

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def view(tenant: str, lead: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"e-{lead}-{n}",
        "tenant_id": tenant,
        "type": "page_view",
        "occurred_at": "2026-11-19T10:00:00Z",
        "lead_id": lead,
        **extra,
    }


def test_events_are_grouped_by_partition_in_request_order() -> None:
    events = [view("acme", f"L{i % 7}", i) for i in range(60)]
    records = encode_records(events, 8)
    seen: list[dict[str, Any]] = []
    for record in records:
        items = [event for _, event in decode_record(record.value)]
        assert {partition_for(event_key(e), 8) for e in items} == {record.partition}
        assert record.key == b"acme"
        # Within a record, events keep the order they came in.
        assert [events.index(e) for e in items] == sorted(events.index(e) for e in items)
        seen.extend(items)
    assert sorted(e["event_id"] for e in seen) == sorted(e["event_id"] for e in events)
    assert len({r.partition for r in records}) == len(records)


def test_tenants_never_share_a_record() -> None:
    events = [view("acme", "L1", 1), view("beta", "L1", 1), view("acme", "L1", 2)]
    records = encode_records(events, 1)
    assert sorted(r.key for r in records) == [b"acme", b"beta"]
    for record in records:
        tenants = {e["tenant_id"] for _, e in decode_record(record.value)}
        assert tenants == {record.key.decode()}


def test_a_partition_batch_over_the_size_limit_is_split_without_loss() -> None:
    events = [view("acme", "L1", i, properties={"pad": "x" * 200}) for i in range(50)]
    limit = 2_000
    records = encode_records(events, 4, max_bytes=limit)
    assert len(records) > 1
    assert all(len(r.value) <= limit for r in records)
    assert len({r.partition for r in records}) == 1
    ids = [e["event_id"] for r in records for _, e in decode_record(r.value)]
    assert ids == [e["event_id"] for e in events]


def test_an_event_larger_than_the_limit_gets_a_record_of_its_own() -> None:
    big = view("acme", "L1", 1, properties={"pad": "x" * 5_000})
    records = encode_records(
        [view("acme", "L1", 0), big, view("acme", "L1", 2)], 1, max_bytes=1_000
    )
    assert [len(decode_record(r.value)) for r in records] == [1, 1, 1]


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        (b"", "empty record"),
        (None, "empty record"),
        (b"{not json", "not JSON"),
        (b'"a string"', "event object or an array"),
        (b"42", "event object or an array"),
    ],
)
def test_malformed_records_say_why(value: bytes | None, cause: str) -> None:
    with pytest.raises(MalformedRecord, match=cause):
        decode_record(value)


def test_one_event_records_have_no_index_and_arrays_do() -> None:
    assert decode_record(b'{"a": 1}') == [(None, {"a": 1})]
    assert decode_record(b'[{"a": 1}, 2]') == [(0, {"a": 1}), (1, 2)]


def test_key_tenant() -> None:
    assert key_tenant(b"acme") == "acme"
    assert key_tenant(b"acme:L-1") == "acme"
    assert key_tenant(b"acme:anon:a-1") == "acme"
    assert key_tenant(None) is None
    assert key_tenant(b"") is None


def test_read_record_splits_valid_events_from_dead_letters() -> None:
    value = orjson.dumps(
        [view("acme", "L1", 1), {**view("acme", "L1", 2), "channel": "fax"}, "not an event"]
    )
    good, bad = read_record(value, b"acme", "touchpoints.v1", 3, 17, now=NOW)
    assert [g.event["event_id"] for g in good] == ["e-L1-1"]
    assert good[0].source.index == 0 and good[0].source.offset == 17
    assert [(d.reason, d.source.index, d.tenant_id) for d in bad] == [
        ("invalid", 1, "acme"),
        ("invalid", 2, "acme"),
    ]
    assert "channel" in bad[0].error


def test_read_record_dead_letters_a_malformed_record_whole() -> None:
    good, bad = read_record(b"{oops", b"acme:L1", "touchpoints.v1", 0, 5, now=NOW)
    assert good == []
    assert [(d.reason, d.source.index, d.payload, d.tenant_id) for d in bad] == [
        ("malformed", None, b"{oops", "acme")
    ]


def test_read_record_refuses_events_of_another_tenant_than_the_key() -> None:
    value = orjson.dumps([view("acme", "L1", 1), view("victim", "L1", 1)])
    good, bad = read_record(value, b"acme", "touchpoints.v1", 0, 1, now=NOW)
    assert [g.event["tenant_id"] for g in good] == ["acme"]
    assert [(d.reason, d.tenant_id, d.source.index) for d in bad] == [
        ("tenant_mismatch", "acme", 1)
    ]
    forged = orjson.dumps(view("victim", "L1", 2))
    good, bad = read_record(forged, b"acme:L1", "touchpoints.v1", 0, 2, now=NOW)
    assert good == [] and bad[0].reason == "tenant_mismatch"


def test_a_keyless_record_is_read_by_its_events_tenant() -> None:
    good, bad = read_record(orjson.dumps(view("acme", "L1", 1)), None, "t", 0, 0, now=NOW)
    assert len(good) == 1 and bad == []
    assert good[0].tenant_id == "acme"


def test_rows_are_built_by_column_name() -> None:
    table = Table("t", "a", "b", "c")
    source = SimpleNamespace(a=10, b=20, c=30, z=0)
    assert table.row(source) == (10, 20, 30)
    assert table.row(source, c=3, a=1) == (1, 20, 3)
    with pytest.raises(AttributeError, match="'c'"):
        table.row(SimpleNamespace(a=1, b=2))
    with pytest.raises(ValueError, match=r"unknown \['d'\]"):
        table.row(source, d=4)
    assert len(LEADS.row(None, **dict.fromkeys(LEADS.columns))) == len(LEADS.columns)


@given(st.binary(max_size=200))
def test_murmur2_is_kafkas(data: bytes) -> None:
    assert murmur2(data) == reference_murmur2(data)


# The Java client's own test vectors (UtilsTest.testMurmur2), as signed 32-bit ints.
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "signed"), JAVA_MURMUR2.items())
def test_murmur2_gives_the_java_clients_hash(data: bytes, signed: int) -> None:
    assert murmur2(data) == signed & 0xFFFFFFFF


@given(st.binary(min_size=1, max_size=80), st.integers(min_value=1, max_value=64))
def test_the_producers_place_a_keyed_record_as_aiokafkas_default(key: bytes, n: int) -> None:
    partitions = list(range(n))
    assert partitioner(key, partitions, partitions) == DefaultPartitioner()(
        key, partitions, partitions
    )


def test_an_unkeyed_record_goes_to_an_available_partition() -> None:
    assert {partitioner(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}


def test_a_partner_topic_names_its_tenant_whatever_the_record_says() -> None:
    topic = partner_topic("acme")
    assert topic_tenant(topic) == "acme" and topic_tenant(TOUCHPOINTS) is None
    assert topic_tenant(topic.replace("acme", "Not_A_Slug")) is None
    # acme's own events on acme's topic are applied, keyed or not
    good, bad = read_record(orjson.dumps(view("acme", "L1", 1)), None, topic, 0, 0, now=NOW)
    assert len(good) == 1 and bad == []
    # an event naming globex on acme's topic is a forgery: dead-lettered, whatever its key
    forged = orjson.dumps([view("acme", "L1", 1), view("globex", "L9", 2)])
    for key in (None, b"globex", b"globex:L9"):
        good, bad = read_record(forged, key, topic, 0, 3, now=NOW)
        assert [i.tenant_id for i in good] == ["acme"]
        assert [(d.reason, d.tenant_id) for d in bad] == [("tenant_mismatch", "acme")]
        assert "partner topic of 'acme'" in bad[0].error
