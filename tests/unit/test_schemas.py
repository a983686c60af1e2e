"""SPEC 2.1-2.3: the event contract as written in schemas/events, checked through the one
compiled validator. The expectations below are copied from SPEC, not read from the schema
files, so that a schema drifting from the contract fails here."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.domain.events import EVENT_TYPES, MARKETING_TOUCHES
from shared.validation import SCHEMA_DIR, FieldError, validate_event

NOW = datetime(2026, 11, 20, tzinfo=UTC)
# The worked example of SPEC, kept next to it outside the repository.
SAMPLES = Path(__file__).resolve().parents[3] / "shared/spec/examples/sample-events.jsonl"

CHANNELS = [
    "organic_search",
    "paid_search",
    "organic_social",
    "paid_social",
    "email",
    "direct",
    "referral",
    "webinar",
    "event",
    "content_syndication",
    "partner",
    "review_site",
    "outbound",
    "other",
]

# The smallest `properties` each type accepts (SPEC 2.2); None means properties may be absent.
MINIMAL_PROPERTIES: dict[str, dict[str, Any] | None] = {
    **dict.fromkeys(MARKETING_TOUCHES),
    "identify": None,
    "lead_updated": {"traits": {}},
    "sales_email": None,
    "sales_call": None,
    "meeting_held": None,
    "content_shared": {"content_id": "k1"},
    "lead_accepted": None,
    "lead_rejected": {"reason": "no_budget"},
    "lead_disqualified": {"reason": "junk"},
    "lead_requalified": None,
    "opportunity_created": {"opportunity_id": "O1", "amount": 0},
    "opportunity_stage_changed": {"opportunity_id": "O1", "stage": "proposal"},
    "deal_won": {"opportunity_id": "O1"},
    "deal_lost": {"opportunity_id": "O1", "reason": "price"},
    "objection_logged": {"category": "pricing"},
    "competitor_mentioned": {"competitor": "Acme"},
    "campaign_spend": {"amount": 0},
}
LEAD_TYPES = sorted(EVENT_TYPES - MARKETING_TOUCHES - {"campaign_spend"})
AMOUNT_TYPES = ["opportunity_created", "deal_won", "campaign_spend"]


def minimal(event_type: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "e1",
        "tenant_id": "acme",
        "type": event_type,
        "occurred_at": "2026-11-19T12:00:00Z",
    }
    if event_type == "campaign_spend":
        event.update(campaign_id="c1", channel="paid_search")
    else:
        event["lead_id"] = "L1"
    properties = MINIMAL_PROPERTIES[event_type]
    if properties is not None:
        event["properties"] = copy.deepcopy(properties)
    event.update(fields)
    return event


def without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    target = event
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return event


def errors_of(event: Any, tenant_id: str | None = None) -> list[FieldError]:
    return validate_event(event, now=NOW, tenant_id=tenant_id)


def assert_rejected(event: Any, field: str, fragment: str) -> None:
    errors = errors_of(event)
    assert any(e.field == field and fragment in e.reason for e in errors), errors


# -- the files ---------------------------------------------------------------------------


def test_one_schema_file_per_event_type() -> None:
    files = {p.name.removesuffix(".schema.json") for p in (SCHEMA_DIR / "events/types").iterdir()}
    assert files == EVENT_TYPES == set(MINIMAL_PROPERTIES)


def test_envelope_enums_match_spec() -> None:
    envelope = json.loads((SCHEMA_DIR / "events/envelope.schema.json").read_text())
    assert set(envelope["properties"]["type"]["enum"]) == EVENT_TYPES
    assert envelope["properties"]["channel"]["enum"] == CHANNELS


def test_schema_ids_match_their_paths() -> None:
    for path in (SCHEMA_DIR / "events").rglob("*.schema.json"):
        schema = json.loads(path.read_text())
        assert schema["$id"].endswith("/schemas/" + str(path.relative_to(SCHEMA_DIR)))
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_every_sample_event_is_valid() -> None:
    lines = SAMPLES.read_text().splitlines()
    assert len(lines) == 397
    for line in lines:
        event = json.loads(line)
        assert errors_of(event) == [], event
        assert errors_of(event, tenant_id="demo") == [], event
        event.pop("tenant_id")
        assert errors_of(event, tenant_id="demo") == [], event


# -- valid events ------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_minimal_event_is_valid(event_type: str) -> None:
    assert errors_of(minimal(event_type)) == []


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_unknown_property_keys_are_kept(event_type: str) -> None:
    event = minimal(event_type)
    event.setdefault("properties", {})["utm_source"] = {"any": ["json", 1, None]}
    assert errors_of(event) == []


def test_every_optional_envelope_field() -> None:
    event = minimal(
        "form_submit",
        anonymous_id="cookie-1",
        account_id="A1",
        channel="review_site",
        campaign_id="c1",
        content_id="k1",
        message_id="m1",
        properties={"form_id": "contact"},
    )
    assert errors_of(event) == []


@pytest.mark.parametrize("event_type", sorted(MARKETING_TOUCHES))
def test_touch_may_carry_anonymous_id_instead_of_lead_id(event_type: str) -> None:
    event = without(minimal(event_type, anonymous_id="cookie-1"), "lead_id")
    assert errors_of(event) == []


def test_identify_needs_no_anonymous_id_nor_traits() -> None:
    assert errors_of(minimal("identify")) == []
    event = minimal("identify", anonymous_id="cookie-1", properties={"traits": {"email": "a@b.c"}})
    assert errors_of(event) == []


@pytest.mark.parametrize("slug", ["ab", "0-x", "acme-corp-2", "a" * 63, "a-"])
def test_valid_tenant_slugs(slug: str) -> None:
    assert errors_of(minimal("page_view", tenant_id=slug)) == []


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2026-11-19T12:00:00Z",
        "2026-11-19t12:00:00z",
        "2026-11-19T12:00:00.123456789Z",
        "2026-11-19T12:00:00+05:30",
        "2026-11-19T12:00:00-00:00",
        "2026-11-20T23:59:59+00:00",
    ],
)
def test_valid_occurred_at(occurred_at: str) -> None:
    assert errors_of(minimal("page_view", occurred_at=occurred_at)) == []


def test_traits_of_every_kind_and_null() -> None:
    traits = {
        "email": "ada@example.com",
        "job_title": "CTO",
        "seniority": "c_level",
        "department": "engineering",
        "industry": "software",
        "country": "GB",
        "company_domain": "example.com",
        "company_size": 250,
        "annual_revenue": 12.5e6,
        "crm_segment": ["smb", 3],
    }
    assert errors_of(minimal("lead_updated", properties={"traits": traits})) == []
    removed = dict.fromkeys(traits)
    assert errors_of(minimal("lead_updated", properties={"traits": removed})) == []


@pytest.mark.parametrize("event_type", ["opportunity_created", "deal_won"])
def test_optional_and_zero_amounts(event_type: str) -> None:
    event = minimal(event_type, properties={"opportunity_id": "O1", "amount": 12000.5})
    assert errors_of(event) == []


def test_optional_properties_of_feedback_and_deals() -> None:
    objection = {"category": "pricing", "text": "too expensive", "opportunity_id": "O1"}
    assert errors_of(minimal("objection_logged", properties=objection)) == []
    lost = {"opportunity_id": "O1", "reason": "price", "competitor": "Acme"}
    assert errors_of(minimal("deal_lost", properties=lost)) == []


# -- invalid events ----------------------------------------------------------------------

REQUIRED_PROPERTIES = [
    (event_type, key)
    for event_type, properties in MINIMAL_PROPERTIES.items()
    if properties
    for key in properties
]


@pytest.mark.parametrize(("event_type", "key"), REQUIRED_PROPERTIES)
def test_missing_required_property(event_type: str, key: str) -> None:
    event = without(minimal(event_type), "properties", key)
    assert_rejected(event, f"properties.{key}", f"required property '{key}' is missing")


@pytest.mark.parametrize("event_type", sorted({t for t, _ in REQUIRED_PROPERTIES}))
def test_missing_properties_names_what_is_required(event_type: str) -> None:
    event = without(minimal(event_type), "properties")
    first_key = next(iter(MINIMAL_PROPERTIES[event_type] or {}))
    assert_rejected(event, "properties", f"requires properties.{first_key}")


@pytest.mark.parametrize("field", ["event_id", "type", "occurred_at"])
@pytest.mark.parametrize("event_type", ["page_view", "deal_won", "campaign_spend"])
def test_missing_envelope_field(event_type: str, field: str) -> None:
    event = without(minimal(event_type), field)
    assert_rejected(event, field, f"required property '{field}' is missing")


@pytest.mark.parametrize("event_type", LEAD_TYPES)
def test_lead_id_required(event_type: str) -> None:
    event = without(minimal(event_type, anonymous_id="cookie-1"), "lead_id")
    assert_rejected(event, "lead_id", "required property 'lead_id' is missing")


@pytest.mark.parametrize("event_type", sorted(MARKETING_TOUCHES))
def test_touch_without_lead_id_or_anonymous_id(event_type: str) -> None:
    event = without(minimal(event_type), "lead_id")
    assert_rejected(event, "lead_id", "needs lead_id or")


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_unknown_top_level_field(event_type: str) -> None:
    assert_rejected(minimal(event_type, utm_source="x"), "utm_source", "not an envelope field")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("event_id", 42, "must be a string (got integer)"),
        ("lead_id", ["L1"], "must be a string (got array)"),
        ("anonymous_id", None, "must be a string (got null)"),
        ("account_id", True, "must be a string (got boolean)"),
        ("campaign_id", 1.5, "must be a string (got number)"),
        ("occurred_at", 1763550000, "must be a string"),
        ("properties", "reason=x", "must be an object (got string)"),
        ("properties", [], "must be an object (got array)"),
        ("tenant_id", 7, "must be a string"),
    ],
)
def test_wrong_envelope_types(field: str, value: Any, fragment: str) -> None:
    assert_rejected(minimal("lead_rejected", **{field: value}), field, fragment)


@pytest.mark.parametrize(
    ("event_type", "key", "value", "fragment"),
    [
        ("opportunity_created", "amount", "40000", "must be a number (got string)"),
        ("opportunity_created", "amount", True, "must be a number (got boolean)"),
        ("campaign_spend", "amount", None, "must be a number (got null)"),
        ("deal_won", "opportunity_id", 7, "must be a string"),
        ("deal_lost", "reason", ["price"], "must be a string"),
        ("lead_rejected", "reason", "", "must not be empty"),
        ("opportunity_stage_changed", "stage", "", "must not be empty"),
        ("lead_updated", "traits", ["email"], "must be an object (got array)"),
        ("page_view", "url", 3, "must be a string"),
        ("form_submit", "form_id", {}, "must be a string"),
        ("objection_logged", "text", 1, "must be a string"),
        ("deal_lost", "competitor", "", "must not be empty"),
        ("content_shared", "content_id", "k" * 129, "at most 128 characters"),
    ],
)
def test_wrong_property_types(event_type: str, key: str, value: Any, fragment: str) -> None:
    event = minimal(event_type)
    event.setdefault("properties", {})[key] = value
    assert_rejected(event, f"properties.{key}", fragment)


@pytest.mark.parametrize("channel", ["tv", "Email", "", None, 3])
def test_bad_channel(channel: Any) -> None:
    assert_rejected(
        minimal("ad_click", channel=channel), "channel", "must be one of: organic_search"
    )


@pytest.mark.parametrize(
    "slug", ["Acme", "-acme", "a", "a" * 64, "ac me", "acme\n", "acmé", "ac_me", ""]
)
def test_bad_tenant_slug(slug: str) -> None:
    assert_rejected(minimal("page_view", tenant_id=slug), "tenant_id", "must be a tenant slug")


@pytest.mark.parametrize("field", ["event_id", "lead_id", "anonymous_id"])
def test_id_lengths(field: str) -> None:
    assert errors_of(minimal("page_view", **{field: "x" * 128})) == []
    assert_rejected(minimal("page_view", **{field: "x" * 129}), field, "at most 128 characters")
    assert_rejected(minimal("page_view", **{field: ""}), field, "must not be empty")


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2026-11-19T12:00:00",
        "2026-11-19T12:00:00.5",
        "2026-11-19",
        "2026-11-19 12:00:00Z",
        "2026-11-19T12:00Z",
        "2026-11-19T12:00:00+0100",
        "2026-11-19T12:00:00+01",
        "2026-13-19T12:00:00Z",
        "2026-11-19T24:00:00Z",
        "2026-11-19T12:00:60Z",
        "1763550000",
        "",
    ],
)
def test_occurred_at_needs_rfc3339_with_offset(occurred_at: str) -> None:
    assert_rejected(minimal("page_view", occurred_at=occurred_at), "occurred_at", "with an offset")


def test_occurred_at_two_days_in_the_future() -> None:
    event = minimal("page_view", occurred_at="2026-11-22T00:00:00Z")
    assert errors_of(event) == [
        FieldError(
            "occurred_at",
            "is 2 days in the future; at most 24 h ahead of the receiving clock is accepted",
        )
    ]


def test_campaign_spend_with_lead_id() -> None:
    assert_rejected(minimal("campaign_spend", lead_id="L1"), "lead_id", "not allowed")


@pytest.mark.parametrize("field", ["campaign_id", "channel"])
def test_campaign_spend_needs_campaign_and_channel(field: str) -> None:
    event = without(minimal("campaign_spend"), field)
    assert_rejected(event, field, f"required property '{field}' is missing")


@pytest.mark.parametrize("event_type", AMOUNT_TYPES)
def test_negative_amount(event_type: str) -> None:
    event = minimal(event_type)
    event["properties"]["amount"] = -0.01
    assert_rejected(event, "properties.amount", "must be ≥ 0 (got -0.01)")


@pytest.mark.parametrize(
    ("trait", "value", "fragment"),
    [
        ("company_size", "250", "must be an integer or null (got string)"),
        ("company_size", 2.5, "must be an integer or null (got number)"),
        ("company_size", -1, "must be ≥ 0"),
        ("annual_revenue", "1M", "must be a number or null (got string)"),
        ("annual_revenue", -5, "must be ≥ 0"),
        ("email", 42, "must be a string or null (got integer)"),
        ("company_domain", ["example.com"], "must be a string or null (got array)"),
    ],
)
@pytest.mark.parametrize("event_type", ["identify", "lead_updated"])
def test_bad_traits(event_type: str, trait: str, value: Any, fragment: str) -> None:
    event = minimal(event_type, properties={"traits": {trait: value}})
    assert_rejected(event, f"properties.traits.{trait}", fragment)


def test_unknown_type() -> None:
    (error,) = errors_of(minimal("page_view", type="x"))
    assert error.field == "type"
    assert str(error).startswith("type: unknown event type 'x'; must be one of: ad_click")
    (typo,) = errors_of(minimal("page_view", type="page_veiw"))
    assert typo.reason == "unknown event type 'page_veiw'; did you mean 'page_view'?"
    (wrong,) = errors_of(minimal("page_view", type=["page_view"]))
    assert wrong == FieldError("type", "must be a string (got array)")


@pytest.mark.parametrize("value", [None, [], "page_view", 1, 2.5, True])
def test_not_an_object(value: Any) -> None:
    (error,) = errors_of(value)
    assert error.field == ""
    assert "must be a JSON object" in error.reason
