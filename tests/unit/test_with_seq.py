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
    assert {f.name for f in dataclasses.fields(Event)} == {
        "event_id",
        "type",
        "occurred_at",
        "seq",
        "lead_id",
        "anonymous_id",
        "account_id",
        "channel",
        "campaign_id",
        "content_id",
        "message_id",
        "properties",
        "stitched",
        "config_version",
    }
    assert with_seq(event, 42) == dataclasses.replace(event, seq=42)
