"""SPEC 4: fit, grade, disqualifiers, engagement, tiers and the matrix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.conditions import Condition
from shared.domain.config import (
    DEFAULT_CONFIG,
    EngagementRule,
    FitRule,
    GradeThresholds,
    TenantConfig,
)
from shared.domain.events import MARKETING_TOUCHES, Event
from shared.domain.scoring import (
    EngagementEvidence,
    EngagementWindow,
    FitEvidence,
    disqualifier_match,
    engagement,
    engagement_rule_index,
    engagement_tier,
    fit,
    grade,
    matrix,
)

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def touch(kind: str, at: datetime, seq: int = 0, **properties: Any) -> Event:
    return Event(f"e{seq}-{kind}", kind, at, seq=seq, lead_id="L", properties=properties)


FIT_CONFIG = TenantConfig(
    fit_rules=(
        FitRule("company_size", "gte", 500, 45),
        FitRule("department", "in", ("Marketing", "Sales"), 35),
        FitRule("country", "not_in", ("in",), 10),
        FitRule("job_title", "contains", "head", 15),
        FitRule("seniority", "eq", "intern", -40),
    ),
    disqualifiers=(
        Condition("seniority", "eq", "ENTRY"),
        Condition("email", "contains", "@gmail."),
    ),
)


def test_fit_sums_the_holding_rules_with_evidence() -> None:
    result = fit({"company_size": 600, "country": "US"}, FIT_CONFIG)
    assert result.score == 55
    assert result.evidence == (
        FitEvidence(0, "company_size gte 500", 45),
        FitEvidence(2, "country not_in ['in']", 10),
    )


def test_fit_is_clamped_to_100() -> None:
    traits = {"company_size": 900, "department": "sales", "country": "GB", "job_title": "Head"}
    result = fit(traits, FIT_CONFIG)
    assert result.score == 100
    assert sum(item.points for item in result.evidence) == 105


def test_fit_is_clamped_to_0_with_negative_points() -> None:
    result = fit({"seniority": "Intern"}, FIT_CONFIG)
    assert result.score == 0
    assert result.evidence == (FitEvidence(4, "seniority eq 'intern'", -40),)
    assert fit({"seniority": "intern", "company_size": 1000}, FIT_CONFIG).score == 5


def test_no_traits_no_fit() -> None:
    assert fit({}, FIT_CONFIG).score == 0
    assert fit({"company_size": 10_000}, DEFAULT_CONFIG).score == 0


@pytest.mark.parametrize(
    ("score", "expected"),
    [(100, "A"), (75, "A"), (74, "B"), (50, "B"), (49, "C"), (25, "C"), (24, "D"), (0, "D")],
)
def test_default_grades(score: int, expected: str) -> None:
    assert grade(score, DEFAULT_CONFIG.grade_thresholds) == expected


@pytest.mark.parametrize(
    ("score", "expected"), [(90, "A"), (89, "B"), (60, "B"), (59, "C"), (1, "C"), (0, "D")]
)
def test_configured_grades(score: int, expected: str) -> None:
    assert grade(score, GradeThresholds(90, 60, 1)) == expected


def test_disqualifier_match_gives_the_first_matching_condition() -> None:
    assert disqualifier_match({"seniority": "entry"}, FIT_CONFIG) == Condition(
        "seniority", "eq", "ENTRY"
    )
    both = {"seniority": "Entry", "email": "x@GMAIL.com"}
    assert disqualifier_match(both, FIT_CONFIG) == FIT_CONFIG.disqualifiers[0]
    assert disqualifier_match({"email": "x@gmail.com"}, FIT_CONFIG) == FIT_CONFIG.disqualifiers[1]
    assert disqualifier_match({"seniority": "director"}, FIT_CONFIG) is None
    assert disqualifier_match({}, FIT_CONFIG) is None


@pytest.mark.parametrize(("score", "tier"), [(100, 1), (60, 1), (59, 2), (30, 2), (29, 3), (0, 3)])
def test_engagement_tier(score: int, tier: int) -> None:
    assert engagement_tier(score) == tier


def test_matrix() -> None:
    assert matrix("B", 61) == "B1"
    assert matrix("A", 30) == "A2"
    assert matrix("D", 0) == "D3"


def test_default_points_per_touch() -> None:
    expected = {
        "page_view": 1,
        "email_open": 1,
        "email_click": 3,
        "ad_click": 2,
        "social_engagement": 2,
        "content_download": 8,
        "chat_conversation": 6,
        "webinar_attended": 12,
        "event_attended": 12,
        "form_submit": 10,
        "demo_request": 30,
    }
    for kind, points in expected.items():
        assert engagement([touch(kind, T0)], DEFAULT_CONFIG, T0).score == points


WHEN_CONFIG = TenantConfig(
    engagement_rules=(
        EngagementRule("page_view", 5, Condition("path", "eq", "/pricing")),
        EngagementRule(
            "page_view", -3, Condition("path", "contains", "/careers"), max_per_window=6
        ),
        EngagementRule("page_view", 1, max_per_window=3),
        EngagementRule("form_submit", 10, Condition("form_id", "eq", "newsletter")),
    )
)


def test_each_touch_takes_the_first_matching_rule() -> None:
    assert engagement_rule_index(touch("page_view", T0, path="/PRICING"), WHEN_CONFIG) == 0
    assert engagement_rule_index(touch("page_view", T0, path="/careers/x"), WHEN_CONFIG) == 1
    assert engagement_rule_index(touch("page_view", T0, path="/blog"), WHEN_CONFIG) == 2
    assert engagement_rule_index(touch("page_view", T0), WHEN_CONFIG) == 2
    assert engagement_rule_index(touch("form_submit", T0, form_id="demo"), WHEN_CONFIG) is None
    assert engagement_rule_index(touch("email_open", T0), WHEN_CONFIG) is None


def test_caps_apply_per_rule_and_evidence_shows_them() -> None:
    touches = [touch("page_view", T0 + timedelta(hours=i), i, path="/blog") for i in range(5)]
    touches += [touch("page_view", T0 + timedelta(hours=10), 10, path="/pricing")]
    touches += [
        touch("page_view", T0 + timedelta(hours=11 + i), 11 + i, path="/careers") for i in range(3)
    ]
    result = engagement(touches, WHEN_CONFIG, T0 + timedelta(days=1))
    assert result.evidence == (
        EngagementEvidence(0, "page_view when path eq '/pricing'", 1, 5, False),
        EngagementEvidence(1, "page_view when path contains '/careers'", 3, -6, True),
        EngagementEvidence(2, "page_view", 5, 3, True),
    )
    assert result.score == 2


def test_negative_total_is_clamped_to_zero() -> None:
    touches = [touch("page_view", T0 + timedelta(hours=i), i, path="/careers") for i in range(2)]
    result = engagement(touches, WHEN_CONFIG, T0 + timedelta(days=1))
    assert result.score == 0
    assert result.evidence[0].points == -6


def test_sum_is_clamped_to_100() -> None:
    touches = [touch("demo_request", T0 + timedelta(hours=i), i) for i in range(4)]
    result = engagement(touches, DEFAULT_CONFIG, T0 + timedelta(days=1))
    assert result.score == 100
    assert result.evidence == (EngagementEvidence(10, "demo_request", 4, 120, False),)


def test_default_caps() -> None:
    views = [touch("page_view", T0 + timedelta(minutes=i), i) for i in range(25)]
    opens = [touch("email_open", T0 + timedelta(minutes=30 + i), 30 + i) for i in range(8)]
    result = engagement(views + opens, DEFAULT_CONFIG, T0 + timedelta(days=1))
    assert result.score == 15


def test_window_is_open_below_and_closed_above() -> None:
    config = TenantConfig(window_days=10)
    instant = T0 + timedelta(days=10)
    at_lower_edge = touch("form_submit", T0, 1)
    inside = touch("content_download", T0 + timedelta(seconds=1), 2)
    at_instant = touch("webinar_attended", instant, 3)
    later = touch("demo_request", instant + timedelta(seconds=1), 4)
    result = engagement([at_lower_edge, inside, at_instant, later], config, instant)
    assert result.score == 8 + 12


def test_touches_at_or_before_the_last_rejection_do_not_count() -> None:
    rejected = T0 + timedelta(days=1)
    touches = [
        touch("form_submit", T0, 1),
        touch("webinar_attended", rejected, 2),
        touch("content_download", rejected + timedelta(seconds=1), 3),
    ]
    assert engagement(touches, DEFAULT_CONFIG, T0 + timedelta(days=2), rejected).score == 8
    assert engagement(touches, DEFAULT_CONFIG, T0 + timedelta(days=2)).score == 30


def test_no_touches_no_engagement() -> None:
    result = engagement([], DEFAULT_CONFIG, T0)
    assert (result.score, result.evidence) == (0, ())


def test_the_window_decays_as_the_instant_moves() -> None:
    window = EngagementWindow(DEFAULT_CONFIG)
    window.add(touch("form_submit", T0, 1))
    window.add(touch("webinar_attended", T0 + timedelta(days=30), 2))
    assert window.evaluate(T0 + timedelta(days=30)).score == 22
    assert window.evaluate(T0 + timedelta(days=90)).score == 12
    assert window.evaluate(T0 + timedelta(days=120)).score == 0
    window.add(touch("page_view", T0 + timedelta(days=121), 3))
    assert window.evaluate(T0 + timedelta(days=121)).evidence == (
        EngagementEvidence(0, "page_view", 1, 1, False),
    )


def test_clearing_the_window_forgets_every_touch() -> None:
    window = EngagementWindow(DEFAULT_CONFIG)
    window.add(touch("demo_request", T0, 1))
    window.clear()
    assert window.evaluate(T0).score == 0


touch_kinds = st.sampled_from(sorted(MARKETING_TOUCHES))
offsets = st.integers(min_value=0, max_value=200 * 24)
paths = st.sampled_from(["/pricing", "/careers", "/blog", None])


@st.composite
def touch_lists(draw: st.DrawFn) -> list[Event]:
    items = draw(st.lists(st.tuples(touch_kinds, offsets, paths), max_size=40))
    events = [
        touch(kind, T0 + timedelta(hours=hours), seq, **({} if path is None else {"path": path}))
        for seq, (kind, hours, path) in enumerate(items)
    ]
    return sorted(events, key=lambda event: event.order_key)


@settings(max_examples=60, deadline=None)
@given(
    touch_lists(),
    st.lists(offsets, min_size=1, max_size=6),
    st.sampled_from([DEFAULT_CONFIG, WHEN_CONFIG]),
)
def test_running_window_equals_recomputation(
    touches: list[Event], instants: list[int], config: TenantConfig
) -> None:
    window = EngagementWindow(config)
    pending = list(touches)
    for hours in sorted(instants):
        instant = T0 + timedelta(hours=hours)
        while pending and pending[0].occurred_at <= instant:
            window.add(pending.pop(0))
        assert window.evaluate(instant) == engagement(touches, config, instant)


@settings(max_examples=60, deadline=None)
@given(touch_lists(), offsets, st.sampled_from([DEFAULT_CONFIG, WHEN_CONFIG]))
def test_engagement_stays_within_bounds(
    touches: list[Event], hours: int, config: TenantConfig
) -> None:
    assert 0 <= engagement(touches, config, T0 + timedelta(hours=hours)).score <= 100
