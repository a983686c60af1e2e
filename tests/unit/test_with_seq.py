"""The worker's fast copy of an event with its log seq keeps every other field."""

import dataclasses
from datetime import UTC, datetime

from services.workers.project import with_seq
from shared.domain.events import Event


def test_with_seq_equals_replace_for_every_field() -> None:
    # A value per field that differs from its default, so a field the copy forgot shows.
    event = Event(
        event_id="e1",
        type="page_view",
        occurred_at=datetime(2026, 1, 2, tzinfo=UTC),
        seq=1,
        lead_id="l1",
        anonymous_id="a1",
        account_id="acc",
        channel="organic_search",
        campaign_id="c1",
        content_id="k1",
        message_id="m1",
        properties={"url": "https://x"},
        stitched=True,
        config_version=3,
    )
    # Every field is given such a value here, so a field added to Event later fails this test
    # until it is given one (and the copy learns it).
    fields = dataclasses.fields(Event)
    assert [f.name for f in fields if getattr(event, f.name) == _default(f)] == []
    assert with_seq(event, 42) == dataclasses.replace(event, seq=42)


def _default(f: dataclasses.Field[object]) -> object:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default
