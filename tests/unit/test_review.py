"""The pure rules of the alignment reviews: weeks, SLA follow-up, stalls, content
suggestions, ICP lift, and the library's status changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.domain import library
from shared.domain.review import (
    CatalogItem,
    IcpLead,
    company_size_bucket,
    funnel_stage_for,
    icp_review,
    is_stalled,
    lift,
    rate,
    sla_follow_up,
    suggest_content,
    week_bounds,
)

T0 = datetime(2026, 11, 9, tzinfo=UTC)


def test_a_review_week_is_monday_to_monday_in_utc() -> None:
    assert week_bounds(date(2026, 11, 9)) == (T0, T0 + timedelta(days=7))
    with pytest.raises(ValueError, match="Wednesday"):
        week_bounds(date(2026, 11, 11))


def test_rates_and_lift_are_null_when_undefined() -> None:
    assert rate(1, 0) is None
    assert rate(1, 4) == 0.25
    assert lift(0.75, 0.5) == 1.5
    assert lift(0.0, 0.5) == 0.0
    assert lift(None, 0.5) is None
    assert lift(0.5, None) is None
    assert lift(0.5, 0.0) is None


def test_sla_follow_up_counts_each_mql_once() -> None:
    hour = timedelta(hours=1)
    now = T0 + 100 * hour
    mqls = [
        (T0, T0 + 3 * hour),  # within
        (T0, T0 + 48 * hour),  # late
        (T0, None),  # deadline passed: breached
        (now - hour, None),  # deadline ahead: pending
        (T0, T0 + 24 * hour),  # exactly at the limit: within
    ]
    s = sla_follow_up(mqls, 24, now)
    assert (s.mqls, s.responded, s.within_sla, s.breached, s.pending) == (5, 3, 2, 2, 1)
    assert s.median_response_hours == 24
    assert sla_follow_up([], 24, now).median_response_hours is None


def test_a_deal_stalls_after_stall_days_without_movement() -> None:
    end = T0 + timedelta(days=7)
    assert is_stalled(end - timedelta(days=14), end, 14)
    assert not is_stalled(end - timedelta(days=13, hours=23), end, 14)


def test_content_for_a_deal_fits_its_stage_or_its_objections_and_is_new_to_the_lead() -> None:
    catalog = [
        CatalogItem("bofu", "BOFU", ()),
        CatalogItem("mofu", "MOFU", ()),
        CatalogItem("roi", "TOFU", ("price", "roi")),
        CatalogItem("read", "BOFU", ()),
    ]
    picked = suggest_content("Proposal", ["price"], ["read"], catalog)
    assert [(item.content_id, matched) for item, matched in picked] == [
        ("bofu", ()),
        ("roi", ("price",)),
    ]
    early = suggest_content(None, [], [], catalog)
    assert [item.content_id for item, _ in early] == ["mofu"]
    assert funnel_stage_for("negotiation") == "BOFU"
    assert funnel_stage_for("discovery") == "MOFU"


def test_company_sizes_are_bucketed() -> None:
    assert company_size_bucket(10) == "1-10"
    assert company_size_bucket(11) == "11-50"
    assert company_size_bucket(5000) == "1001-5000"
    assert company_size_bucket(5001) == "5001+"
    assert company_size_bucket(0) is None
    assert company_size_bucket("big") is None
    assert company_size_bucket(True) is None


def _lead(grade: str, won: int, lost: int, **traits: object) -> IcpLead:
    return IcpLead(grade, mql=won > 0, opportunities=won + lost, won=won, lost=lost,
                   revenue=1000.0 * won, traits=dict(traits))  # fmt: skip


def test_icp_review_by_grade_and_trait_value() -> None:
    result = icp_review(
        [
            _lead("A", 1, 0, industry="software", company_size=120),
            _lead("A", 1, 1, industry="software", country="US"),
            _lead("B", 0, 1, industry="retail", country="US"),
            _lead("C", 0, 0, industry="retail"),
        ]
    )
    overall = result.overall
    assert (overall.leads, overall.won, overall.lost, overall.win_rate) == (4, 2, 2, 0.5)
    a = result.by_grade["A"]
    assert (a.mql_rate, a.opportunity_rate, a.win_rate, a.avg_deal) == (1.0, 1.0, 2 / 3, 1000.0)
    c = result.by_grade["C"]
    assert (c.opportunity_rate, c.win_rate, c.avg_deal) == (0.0, None, None)
    assert result.lift("industry", "software") == pytest.approx(4 / 3)
    assert result.lift("industry", "retail") == 0.0
    assert result.lift("company_size", "51-200") == 2.0
    assert ("country", "DE") not in result.by_trait


def test_library_status_changes() -> None:
    assert library.after_approve(library.Status.DRAFT) == library.Status.APPROVED
    assert library.after_update(library.Status.APPROVED) == library.Status.DRAFT
    assert library.after_retire(library.Status.APPROVED) == library.Status.RETIRED
    for action, status in (
        (library.after_approve, library.Status.APPROVED),
        (library.after_approve, library.Status.RETIRED),
        (library.after_update, library.Status.RETIRED),
        (library.after_retire, library.Status.RETIRED),
    ):
        with pytest.raises(library.TransitionError):
            action(status)
