"""shared.validation beyond the schema: clock, tenant of the credential, the domain Event and
the Kafka key (SPEC 1, 2.1, 2.4), and that no JSON value makes validation raise."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import validation
from shared.domain.events import EVENT_TYPES, MARKETING_TOUCHES, Event
from shared.validation import FieldError, event_key, to_domain_event, validate_event

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "e1",
        "tenant_id": "acme",
        "type": "page_view",
        "occurred_at": "2026-11-20T12:00:00Z",
        "lead_id": "L1",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def test_field_error_is_frozen_and_readable() -> None:
    error = FieldError("properties.amount", "must be ≥ 0 (got -1)")
    assert str(error) == "properties.amount: must be ≥ 0 (got -1)"
    assert str(FieldError("", "an event must be a JSON object, not array")).startswith("an event")
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.field = "x"  # type: ignore[misc]


def test_naive_clock_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_event(event(), now=datetime(2026, 11, 20))


# -- clock -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ahead", "accepted"),
    [
        (timedelta(hours=23, minutes=59), True),
        (timedelta(hours=24), True),
        (timedelta(hours=24, seconds=1), False),
        (timedelta(days=400), False),
        (-timedelta(days=3650), True),
    ],
)
def test_at_most_24_hours_ahead(ahead: timedelta, accepted: bool) -> None:
    occurred_at = (NOW + ahead).isoformat()
    errors = validate_event(event(occurred_at=occurred_at), now=NOW)
    assert (errors == []) is accepted, errors


def test_future_check_uses_the_offset() -> None:
    # 2026-11-21T14:00+05:00 is 09:00 UTC: 21 h ahead, although its wall time is 26 h ahead.
    assert validate_event(event(occurred_at="2026-11-21T14:00:00+05:00"), now=NOW) == []
    (error,) = validate_event(event(occurred_at="2026-11-21T10:00:00-05:00"), now=NOW)
    assert error == FieldError(
        "occurred_at",
        "is 27 h 0 min in the future; at most 24 h ahead of the receiving clock is accepted",
    )


def test_future_check_against_a_clock_in_another_zone() -> None:
    clock = NOW.astimezone(timezone(timedelta(hours=-8)))
    (error,) = validate_event(event(occurred_at="2026-11-23T12:00:00Z"), now=clock)
    assert error.reason.startswith("is 3 days in the future")


@pytest.mark.parametrize(
    ("occurred_at", "fragment"),
    [
        ("2026-02-30T10:00:00Z", "is not a valid date-time: day is out of range for month"),
        ("0000-01-01T00:00:00Z", "is not a valid date-time"),
        ("9999-12-31T23:59:59-23:59", "outside the range of representable dates"),
        ("0001-01-01T00:00:00+01:00", "outside the range of representable dates"),
    ],
)
def test_dates_that_match_the_pattern_but_do_not_exist(occurred_at: str, fragment: str) -> None:
    (error,) = validate_event(event(occurred_at=occurred_at), now=NOW)
    assert error.field == "occurred_at"
    assert fragment in error.reason


# -- tenant ------------------------------------------------------------------------------


def test_http_event_may_omit_its_tenant() -> None:
    assert validate_event(event(tenant_id=None), now=NOW, tenant_id="acme") == []
    assert validate_event(event(), now=NOW, tenant_id="acme") == []


def test_http_event_of_another_tenant() -> None:
    (error,) = validate_event(event(tenant_id="globex"), now=NOW, tenant_id="acme")
    assert error.field == "tenant_id"
    assert "does not match the tenant of the credential" in error.reason
    assert "acme" not in error.reason


def test_http_event_with_a_bad_slug_gets_one_error() -> None:
    (error,) = validate_event(event(tenant_id="Acme"), now=NOW, tenant_id="acme")
    assert error.field == "tenant_id"
    assert "slug" in error.reason


def test_kafka_event_must_name_its_tenant() -> None:
    assert validate_event(event(), now=NOW) == []
    (error,) = validate_event(event(tenant_id=None), now=NOW)
    assert error.field == "tenant_id"
    assert "required property 'tenant_id' is missing" in error.reason


# -- several errors ----------------------------------------------------------------------


def test_every_broken_field_is_reported_once() -> None:
    broken = event(
        type="deal_won",
        event_id="",
        channel="tv",
        occurred_at="2026-11-20T12:00:00",
        properties={"amount": -1},
        extra=True,
    )
    errors = validate_event(broken, now=NOW, tenant_id="globex")
    fields = [e.field for e in errors]
    assert sorted(fields) == sorted(
        [
            "event_id",
            "channel",
            "occurred_at",
            "extra",
            "properties.amount",
            "properties.opportunity_id",
            "tenant_id",
        ]
    )


def test_non_finite_amount() -> None:
    spend = {
        "event_id": "s1",
        "type": "campaign_spend",
        "occurred_at": "2026-11-20T00:00:00Z",
        "campaign_id": "c1",
        "channel": "email",
        "tenant_id": "acme",
    }
    for amount in (float("inf"), float("nan")):
        (error,) = validate_event({**spend, "properties": {"amount": amount}}, now=NOW)
        assert error == FieldError("properties.amount", "must be a finite number")


# -- what the worker could not store or compute -----------------------------------------


@pytest.mark.parametrize("field", ["event_id", "lead_id", "anonymous_id", "account_id",
                                   "campaign_id", "content_id", "message_id"])  # fmt: skip
@pytest.mark.parametrize(
    ("value", "fragment"),
    [("a\x00b", "NUL character"), ("é\x00", "NUL character"), ("é\ud800", "unpaired surrogate")],
)
def test_envelope_strings_postgresql_refuses(field: str, value: str, fragment: str) -> None:
    (error,) = validate_event(event(**{field: value}), now=NOW)
    assert error.field == field
    assert fragment in error.reason


@pytest.mark.parametrize(
    ("properties", "field", "fragment"),
    [
        ({"note": "a\x00"}, "properties.note", "NUL character"),
        ({"a": {"b": ["ok", "\udfff"]}}, "properties.a.b.1", "unpaired surrogate"),
        ({"a": {"k\x00": 1}}, "properties.a", "keys must not contain the NUL character"),
        ({"\ud83d": 1}, "properties", "keys must not contain an unpaired surrogate"),
        ({"traits": {"company_size": 2**63}}, "properties.traits.company_size", "2^63-1"),
        ({"n": -(2**63) - 1}, "properties.n", "between -2^63 and 2^63-1"),
        ({"n": [float("nan")]}, "properties.n.0", "finite"),
        ({"n": {"m": float("-inf")}}, "properties.n.m", "finite"),
    ],
)
def test_properties_the_read_model_cannot_hold(
    properties: dict[str, Any], field: str, fragment: str
) -> None:
    (error,) = validate_event(event(type="identify", properties=properties), now=NOW)
    assert error.field == field
    assert fragment in error.reason


def test_what_the_read_model_holds_is_accepted() -> None:
    properties = {
        "traits": {"company_size": 2**63 - 1, "annual_revenue": 1e308, "email": "😀@é.de"},
        "n": -(2**63),
        "tiny": 5e-324,
        "": "empty keys are fine",
        "deep": [[[{"x": None, "y": True}]]],
    }
    assert validate_event(event(type="identify", properties=properties), now=NOW) == []


def test_amounts_are_bounded() -> None:
    opportunity = event(type="opportunity_created", properties={"opportunity_id": "O1"})
    opportunity["properties"]["amount"] = 10**15
    assert validate_event(opportunity, now=NOW) == []
    opportunity["properties"]["amount"] = 10**15 + 1
    (error,) = validate_event(opportunity, now=NOW)
    assert error == FieldError(
        "properties.amount", "must be ≤ 1000000000000000 (got 1000000000000001)"
    )


@pytest.mark.parametrize(
    ("occurred_at", "accepted"),
    [
        ("1970-01-01T00:00:00Z", True),
        ("1970-01-01T01:00:00+01:00", True),
        ("1969-12-31T23:59:59.999Z", False),
        ("1970-01-01T00:30:00+01:00", False),
        ("0001-01-01T00:00:00Z", False),
    ],
)
def test_nothing_before_the_epoch(occurred_at: str, accepted: bool) -> None:
    errors = validate_event(event(occurred_at=occurred_at), now=NOW)
    reason = "is before 1970-01-01T00:00:00Z, the earliest time an event may carry"
    assert errors == ([] if accepted else [FieldError("occurred_at", reason)])


def test_ids_of_worker_events_cannot_be_sent() -> None:
    (error,) = validate_event(event(event_id="rescore:3:L1"), now=NOW)
    assert error.field == "event_id"
    assert "reserved" in error.reason
    assert validate_event(event(event_id="my-rescore:3"), now=NOW) == []


# -- to_domain_event ---------------------------------------------------------------------


def test_to_domain_event_normalises_to_utc() -> None:
    raw = event(
        occurred_at="2026-11-20t14:30:00.250+02:00",
        anonymous_id="cookie-1",
        account_id="A1",
        channel="email",
        campaign_id="c1",
        content_id="k1",
        message_id="m1",
        properties={"url": "https://example.com", "custom": [1, 2]},
    )
    assert validate_event(raw, now=NOW) == []
    domain = to_domain_event(raw, seq=7)
    assert domain == Event(
        event_id="e1",
        type="page_view",
        occurred_at=datetime(2026, 11, 20, 12, 30, 0, 250000, tzinfo=UTC),
        seq=7,
        lead_id="L1",
        anonymous_id="cookie-1",
        account_id="A1",
        channel="email",
        campaign_id="c1",
        content_id="k1",
        message_id="m1",
        properties={"url": "https://example.com", "custom": [1, 2]},
    )
    assert domain.occurred_at.tzinfo is UTC


def test_to_domain_event_leaves_missing_fields_empty() -> None:
    domain = to_domain_event(event(tenant_id=None), seq=0)
    assert (domain.anonymous_id, domain.channel, domain.content_id) == (None, None, None)
    assert domain.properties == {}
    assert not domain.stitched


def test_content_shared_names_its_content() -> None:
    shared = event(type="content_shared", properties={"content_id": "k9"})
    assert to_domain_event(shared, seq=0).content_id == "k9"
    both = event(type="content_shared", content_id="k1", properties={"content_id": "k9"})
    assert to_domain_event(both, seq=0).content_id == "k1"


# -- event_key ---------------------------------------------------------------------------


def test_event_keys() -> None:
    assert event_key(event()) == "acme:L1"
    assert event_key(event(type="identify", anonymous_id="cookie-1")) == "acme:L1"
    assert event_key(event(lead_id=None, anonymous_id="cookie-1")) == "acme:anon:cookie-1"
    spend = event(type="campaign_spend", lead_id=None, campaign_id="c1", channel="email")
    assert event_key(spend) == "acme:campaign:c1"


def test_event_key_takes_the_tenant_of_the_credential() -> None:
    assert event_key(event(tenant_id=None), tenant_id="acme") == "acme:L1"
    domain = to_domain_event(event(lead_id=None, anonymous_id="x"), seq=0)
    assert event_key(domain, tenant_id="acme") == "acme:anon:x"


@pytest.mark.parametrize(
    ("raw", "tenant_id"),
    [
        (event(tenant_id=None), None),
        (event(lead_id=None), None),
        (event(type="campaign_spend", lead_id=None), None),
    ],
)
def test_event_key_of_an_unkeyable_event(raw: dict[str, Any], tenant_id: str | None) -> None:
    with pytest.raises(ValueError):
        event_key(raw, tenant_id=tenant_id)


def test_event_key_of_a_domain_event_needs_the_tenant() -> None:
    with pytest.raises(ValueError):
        event_key(to_domain_event(event(), seq=0))


# -- any JSON value ----------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
envelope_keys = st.sampled_from(
    [
        "event_id",
        "tenant_id",
        "type",
        "occurred_at",
        "lead_id",
        "anonymous_id",
        "account_id",
        "channel",
        "campaign_id",
        "content_id",
        "message_id",
        "properties",
        "extra",
    ]
)
# Values that are often right, so that validation gets past the first checks.
plausible = (
    st.sampled_from(sorted(EVENT_TYPES))
    | st.sampled_from(
        ["2026-11-20T12:00:00Z", "2026-02-30T00:00:00+01:00", "9999-12-31T23:59:59-23:59"]
    )
    | st.sampled_from(["acme", "L1", "email", ""])
    | st.fixed_dictionaries(
        {},
        optional={
            "amount": json_values,
            "opportunity_id": json_values,
            "reason": json_values,
            "traits": st.dictionaries(
                st.sampled_from(["email", "company_size", "annual_revenue", "x"]), json_values
            )
            | json_values,
        },
    )
    | json_values
)
near_events = st.dictionaries(envelope_keys, plausible, max_size=13)


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with one envelope field or property replaced by any JSON value."""
    raw = event(
        type=draw(st.sampled_from(sorted(EVENT_TYPES))),
        properties={"opportunity_id": "O1", "amount": 1, "traits": {"company_size": 5}},
    )
    if draw(st.booleans()):
        raw[draw(envelope_keys)] = draw(json_values)
    else:
        raw["properties"][draw(st.text(max_size=10) | st.sampled_from(["amount", "traits"]))] = (
            draw(json_values)
        )
    return raw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values | near_events | mutated_events(), tenant_id=st.none() | st.just("acme"))
def test_any_json_value_gives_errors_not_exceptions(value: Any, tenant_id: str | None) -> None:
    errors = validate_event(value, now=NOW, tenant_id=tenant_id)
    assert all(isinstance(e, FieldError) and e.reason for e in errors)
    if not errors:
        to_domain_event(value, seq=0)
        assert event_key(value, tenant_id=tenant_id)


_TOUCH_VARIANTS: list[dict[str, Any]] = [
    {"anonymous_id": "a-1", "lead_id": None},
    {},
    {"anonymous_id": "a-1"},
    {"lead_id": None},
    {"anonymous_id": "", "lead_id": None},
    {"lead_id": 5},
    {"anonymous_id": "a-1", "lead_id": None, "channel": "carrier_pigeon"},
    {"anonymous_id": "a-1", "lead_id": None, "utm": "x"},
    {"anonymous_id": None, "lead_id": None, "properties": {"url": 3}},
]


@pytest.mark.parametrize("variant", _TOUCH_VARIANTS)
@pytest.mark.parametrize("event_type", sorted(validation._TOUCH_RULE_HOLDS))
def test_a_touch_that_names_its_lead_or_visitor_is_judged_as_by_the_whole_schema(
    event_type: str, variant: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    candidate = event(type=event_type, **variant)
    fast = validate_event(candidate, now=NOW)
    monkeypatch.setattr(validation, "_TOUCH_RULE_HOLDS", {})
    assert fast == validate_event(candidate, now=NOW)


def test_every_marketing_touch_has_the_touch_rule() -> None:
    assert set(validation._TOUCH_RULE_HOLDS) == set(MARKETING_TOUCHES)
