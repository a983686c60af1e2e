"""DateTime is ISO 8601 in UTC; cursors are opaque but round-trip, each to its connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from graphql import GraphQLError

from services.gateway.graphql.core.relay import Keyset, decode_cursor, encode_cursor, page_size
from services.gateway.graphql.core.scalars import parse_datetime, serialize_datetime


def test_date_times_are_answered_in_utc_with_a_z() -> None:
    paris = timezone(timedelta(hours=2))
    assert serialize_datetime(datetime(2026, 10, 17, 12, 46, tzinfo=paris)) == (
        "2026-10-17T10:46:00.000Z"
    )
    assert serialize_datetime(datetime(2026, 10, 17, 10, 46, 0, 123456, tzinfo=UTC)) == (
        "2026-10-17T10:46:00.123456Z"
    )


@pytest.mark.parametrize(
    "text",
    ["2026-09-01T00:00:00Z", "2026-09-01T02:00:00+02:00", "2026-09-01T00:00:00", "2026-09-01"],
)
def test_date_time_inputs_are_read_as_utc_instants(text: str) -> None:
    assert parse_datetime(text) == datetime(2026, 9, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", ["yesterday", "", 1_700_000_000, None])
def test_anything_else_is_refused_with_the_expected_form(value: object) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_datetime(value)


@pytest.mark.parametrize("lead_id", ["L-1", "demo-L00000", "ünïcode/é", "a" * 128])
def test_cursors_round_trip(lead_id: str) -> None:
    assert decode_cursor("lead", encode_cursor("lead", lead_id)) == lead_id


def test_a_foreign_cursor_is_refused() -> None:
    with pytest.raises(GraphQLError) as caught:
        decode_cursor("lead", "bGVhZA")  # "lead" without the separator
    assert caught.value.extensions == {
        "code": "BAD_USER_INPUT",
        "fields": [{"path": "after", "message": "not a cursor of this connection"}],
    }


TOUCHES = Keyset("touch", {"occurred_at": datetime.fromisoformat, "seq": int})


def test_a_keyset_cursor_holds_its_row_position_typed_as_read() -> None:
    row = {"occurred_at": datetime(2026, 9, 1, 8, tzinfo=UTC), "seq": 42, "type": "page_view"}
    assert TOUCHES.position(TOUCHES.cursor(row)) == (row["occurred_at"], 42)
    assert TOUCHES.position(None) is None


def test_a_one_column_keyset_writes_the_plain_cursor() -> None:
    leads = Keyset("lead", {"lead_id": str})
    assert leads.cursor({"lead_id": "L-1"}) == encode_cursor("lead", "L-1")
    assert leads.position(encode_cursor("lead", "L-1")) == ("L-1",)


@pytest.mark.parametrize(
    "cursor",
    [
        encode_cursor("lead", "L-1"),  # another connection's
        encode_cursor("touch", "2026-09-01T08:00:00+00:00"),  # one part of two
        encode_cursor("touch", "2026-09-01T08:00:00+00:00", "not-a-seq"),  # refused by int
        encode_cursor("touch", "yesterday", "1"),  # refused by fromisoformat
        "%%%",
    ],
)
def test_a_cursor_its_keyset_cannot_read_is_bad_input(cursor: str) -> None:
    with pytest.raises(GraphQLError) as caught:
        TOUCHES.position(cursor)
    assert caught.value.extensions is not None
    assert caught.value.extensions["code"] == "BAD_USER_INPUT"


def test_a_page_keeps_limit_rows_and_tells_whether_more_follow() -> None:
    rows = [{"occurred_at": datetime(2026, 9, 1, h, tzinfo=UTC), "seq": h} for h in range(3)]
    edges, info = TOUCHES.page(rows, 2, None, lambda row: row["seq"])
    assert [e.node for e in edges] == [0, 1]
    assert info.has_next_page and not info.has_previous_page
    assert info.end_cursor == edges[-1].cursor
    assert TOUCHES.position(info.end_cursor) == (rows[1]["occurred_at"], 1)
    edges, info = TOUCHES.page(rows[2:], 2, info.end_cursor, lambda row: row["seq"])
    assert [e.node for e in edges] == [2]
    assert not info.has_next_page and info.has_previous_page


def test_page_size_defaults_and_bounds() -> None:
    assert page_size(None) == 100
    assert page_size(0) == 0
    assert page_size(500) == 500
    with pytest.raises(GraphQLError):
        page_size(501)
