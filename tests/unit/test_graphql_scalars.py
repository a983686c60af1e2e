"""DateTime is ISO 8601 in UTC; lead cursors are opaque but round-trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from graphql import GraphQLError

from services.gateway.graphql.core.relay import decode_cursor, encode_cursor, page_size
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


def test_page_size_defaults_and_bounds() -> None:
    assert page_size(None) == 100
    assert page_size(0) == 0
    assert page_size(500) == 500
    with pytest.raises(GraphQLError):
        page_size(501)
