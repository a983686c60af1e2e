"""SPEC 2.4 and 4: a lead's traits, touches, feedback, account and engagement evidence."""

from __future__ import annotations

from shared.domain.journey import (
    Mention,
)
from shared.domain.scoring import EngagementEvidence, FitEvidence
from tests.unit.journey_samples import (
    ICP,
    at,
    ev,
    run,
    traits,
)

# Profile, touches, feedback.


def test_traits_merge_and_null_removes() -> None:
    state = run(
        [
            traits(0, "identify", company_size=900, country="IN"),
            traits(1, country=None, department="Sales"),
        ],
        ICP,
    )
    assert state.traits == {"company_size": 900, "department": "Sales"}
    assert state.fit_score == 45 + 35
    assert state.fit_grade == "A"
    assert state.fit_evidence == (
        FitEvidence(0, "company_size gte 500", 45),
        FitEvidence(1, "department in ['Marketing', 'Sales']", 35),
    )
    assert (state.score, state.matrix) == (80, "A3")


def test_touches_first_touch_channel_and_stitching() -> None:
    events = [
        ev("page_view", 0, channel=None, stitched=True),
        ev("identify", 1, traits={"email": "a@b.c"}),
        ev("ad_click", 2, channel="paid_search"),
    ]
    state = run(events)
    assert state.touches == [events[0], events[2]]
    assert state.first_touch_channel == "(none)"
    assert (
        run([ev("sales_email", 0), ev("ad_click", 1, channel="paid_social")]).first_touch_channel
        == "paid_social"
    )
    assert run([ev("sales_email", 0)]).first_touch_channel is None


def test_feedback_is_kept() -> None:
    events = [
        ev("objection_logged", 0, event_id="o", category="price", opportunity_id="O1"),
        ev("competitor_mentioned", 1, event_id="c", competitor="Acme"),
    ]
    state = run(events)
    assert state.objections == [Mention(at(0), "price", "o", "O1")]
    assert state.competitor_mentions == [Mention(at(1), "Acme", "c")]


def test_account_id_follows_the_latest_event_that_names_one() -> None:
    state = run(
        [
            ev("page_view", 0, account_id="A1"),
            ev("page_view", 1),
            ev("identify", 2, account_id="A2"),
        ]
    )
    assert state.account_id == "A2"


def test_engagement_evidence_and_score() -> None:
    state = run([ev("form_submit", 0), ev("page_view", 1), ev("page_view", 2)])
    assert state.engagement_evidence == (
        EngagementEvidence(0, "page_view", 2, 2, False),
        EngagementEvidence(9, "form_submit", 1, 10, False),
    )
    assert (state.engagement_score, state.score, state.matrix, state.last_event_at) == (
        12,
        12,
        "D3",
        at(2),
    )


def test_engagement_decays_out_of_the_window_between_events() -> None:
    state = run([ev("webinar_attended", 0), ev("form_submit", 80), ev("page_view", 95)])
    assert state.engagement_score == 11
