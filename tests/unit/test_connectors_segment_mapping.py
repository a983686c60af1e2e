"""Segment message → Tandem event mapping (SPEC 14), as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.gateway.connectors.segment_mapping import (
    DEFAULT_MAPPING,
    Invalid,
    SegmentMapping,
    Unmapped,
    channel,
    message_id,
    to_event,
    translate_field,
)
from shared.validation import validate_event

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def test_track_maps_by_event_name_with_utm_channel_and_campaign() -> None:
    event = to_event(
        "track",
        {
            "messageId": "m-1",
            "userId": "L-1",
            "event": "Demo Requested",
            "timestamp": "2026-11-19T12:00:00+02:00",
            "context": {"campaign": {"name": "q4", "source": "google", "medium": "CPC"}},
            "properties": {"plan": "pro"},
        },
        DEFAULT_MAPPING,
        NOW,
    )
    assert event == {
        "event_id": "m-1",
        "occurred_at": "2026-11-19T10:00:00Z",
        "lead_id": "L-1",
        "type": "demo_request",
        "channel": "paid_search",
        "campaign_id": "q4",
        "properties": {"plan": "pro", "segment_event": "Demo Requested"},
    }
    assert validate_event(event, now=NOW, tenant_id="t-1") == []


def test_unmapped_track_is_unmapped_and_tenant_map_adds_and_removes_names() -> None:
    message = {"userId": "L-1", "event": "Trial Started"}
    assert isinstance(to_event("track", message, DEFAULT_MAPPING, NOW), Unmapped)
    tenant = SegmentMapping.for_tenant(
        {"event_names": {"Trial Started": "form_submit", "Demo Requested": None}}
    )
    mapped = to_event("track", message, tenant, NOW)
    assert not isinstance(mapped, Unmapped) and mapped["type"] == "form_submit"
    demo = {"userId": "L-1", "event": "Demo Requested"}
    assert isinstance(to_event("track", demo, tenant, NOW), Unmapped)


def test_timestamp_falls_back_to_original_timestamp_then_receipt() -> None:
    base = {"userId": "L-1", "messageId": "m"}
    page = to_event(
        "page", {**base, "originalTimestamp": "2026-11-18T08:00:00"}, DEFAULT_MAPPING, NOW
    )
    assert not isinstance(page, Unmapped) and page["occurred_at"] == "2026-11-18T08:00:00Z"
    page = to_event("page", base, DEFAULT_MAPPING, NOW)
    assert not isinstance(page, Unmapped) and page["occurred_at"] == "2026-11-20T00:00:00Z"
    with pytest.raises(Invalid) as err:
        to_event("page", {**base, "timestamp": "soon"}, DEFAULT_MAPPING, NOW)
    assert err.value.field == "timestamp"


def test_identify_links_anonymous_id_else_updates_the_lead() -> None:
    traits = {"email": "a@b.co", "title": "CTO", "employees": 50, "website": "https://www.b.co/x"}
    linked = to_event(
        "identify", {"userId": "L-1", "anonymousId": "A-1", "traits": traits}, DEFAULT_MAPPING, NOW
    )
    assert not isinstance(linked, Unmapped)
    assert linked["type"] == "identify" and linked["anonymous_id"] == "A-1"
    assert linked["properties"]["traits"] == {
        "email": "a@b.co",
        "job_title": "CTO",
        "company_size": 50,
        "company_domain": "b.co",
    }
    update = to_event("identify", {"userId": "L-1", "traits": traits}, DEFAULT_MAPPING, NOW)
    assert not isinstance(update, Unmapped) and update["type"] == "lead_updated"
    assert (
        validate_event(linked, now=NOW, tenant_id="t-1") == []
        and validate_event(update, now=NOW, tenant_id="t-1") == []
    )


def test_page_screen_group_alias() -> None:
    page = to_event(
        "page",
        {"anonymousId": "A-1", "name": "Home", "properties": {"url": "https://x.co/", "path": "/"}},
        DEFAULT_MAPPING,
        NOW,
    )
    assert not isinstance(page, Unmapped)
    assert page["type"] == "page_view" and "lead_id" not in page
    assert page["properties"] == {"url": "https://x.co/", "path": "/", "name": "Home"}
    screen = to_event("screen", {"userId": 42, "name": "Settings"}, DEFAULT_MAPPING, NOW)
    assert not isinstance(screen, Unmapped)
    assert screen["lead_id"] == "42" and screen["properties"]["screen"] is True
    group = to_event(
        "group",
        {"userId": "L-1", "groupId": "ACME", "traits": {"name": "Acme", "employees": 900}},
        DEFAULT_MAPPING,
        NOW,
    )
    assert not isinstance(group, Unmapped)
    assert group["type"] == "lead_updated" and group["account_id"] == "ACME"
    assert group["properties"]["traits"] == {"company_name": "Acme", "company_size": 900}
    alias = to_event("alias", {"userId": "L-1", "previousId": "old"}, DEFAULT_MAPPING, NOW)
    assert not isinstance(alias, Unmapped)
    assert (alias["type"], alias["anonymous_id"], alias["lead_id"]) == ("identify", "old", "L-1")
    with pytest.raises(Invalid):
        to_event("alias", {"userId": "L-1"}, DEFAULT_MAPPING, NOW)
    with pytest.raises(Invalid):
        to_event("group", {"userId": "L-1"}, DEFAULT_MAPPING, NOW)
    with pytest.raises(Invalid):
        to_event("track", {"event": "Demo Requested"}, DEFAULT_MAPPING, NOW)


def test_utm_table_source_medium_first_then_medium_then_other() -> None:
    assert channel({"source": "LinkedIn", "medium": "cpc"}, DEFAULT_MAPPING) == "paid_social"
    assert channel({"source": "bing", "medium": "cpc"}, DEFAULT_MAPPING) == "paid_search"
    assert channel({"medium": "carrier-pigeon"}, DEFAULT_MAPPING) == "other"
    assert channel({"name": "no utm"}, DEFAULT_MAPPING) is None
    tenant = SegmentMapping.for_tenant({"utm_medium": {"Carrier-Pigeon": "outbound"}})
    assert channel({"medium": "carrier-pigeon"}, tenant) == "outbound"


def test_translate_field_names_the_segment_field() -> None:
    assert translate_field("occurred_at") == "timestamp"
    assert translate_field("properties.traits.company_size") == "traits.company_size"
    assert translate_field("properties.form_id") == "properties.form_id"


@given(
    st.dictionaries(
        st.text(max_size=8), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8), max_size=5
    )
)
def test_message_id_is_deterministic_for_messages_without_one(message: dict[str, object]) -> None:
    message.pop("messageId", None)
    assert message_id(message) == message_id(dict(reversed(list(message.items()))))
    assert message_id({**message, "messageId": "given"}) == "given"


def test_a_message_json_cannot_carry_is_invalid_not_an_error() -> None:
    with pytest.raises(Invalid):
        message_id({"userId": "L-1", "n": 2**64})


@given(st.sampled_from(sorted(DEFAULT_MAPPING.event_names)), st.sampled_from(["L-1", None]))
def test_every_default_name_maps_to_a_valid_event(name: str, user: str | None) -> None:
    message = {"event": name, "userId": user, "anonymousId": "A-1", "messageId": "m"}
    event = to_event("track", message, DEFAULT_MAPPING, NOW)
    assert not isinstance(event, Unmapped)
    assert validate_event(event, now=NOW, tenant_id="t-1") == []


def test_docs_list_every_default_mapping() -> None:
    """docs/connectors.md is the documented table: it must say what the code does."""
    from services.gateway.connectors.overrides import TABLES
    from tests.conftest import REPO

    doc = (REPO / "docs" / "connectors.md").read_text()
    for tables in TABLES.values():
        for _, default in tables.values():
            if isinstance(default, dict):
                for name, value in default.items():
                    assert f"| `{name}` | `{value}` |" in doc, (name, value)
