"""Pure rules of the alignment reviews (SPEC 8): review weeks, the SLA follow-up of a week's
MQLs, stalled deals, the content a deal is ready for, and win-rate lift for the ICP review."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

WEEK = timedelta(days=7)

# CRM stages from which a deal reads decision content (BOFU); stage names are free text
# from the CRM, so they are compared case-insensitively and anything else reads MOFU.
LATE_DEAL_STAGES = frozenset(
    {"proposal", "negotiation", "contract", "commit", "legal", "procurement", "closing"}
)

# company_size (employees) buckets of the ICP review: the lower bound of each, ascending.
COMPANY_SIZE_BUCKETS: tuple[tuple[int, str], ...] = (
    (1, "1-10"),
    (11, "11-50"),
    (51, "51-200"),
    (201, "201-1000"),
    (1001, "1001-5000"),
    (5001, "5001+"),
)


def week_bounds(week_start: date) -> tuple[datetime, datetime]:
    """[Monday 00:00 UTC, +7 days); ValueError when `week_start` is not a Monday."""
    if week_start.isoweekday() != 1:
        raise ValueError(
            f"{week_start.isoformat()} is a {week_start.strftime('%A')}; "
            "a review week starts on a Monday"
        )
    start = datetime.combine(week_start, time(), UTC)
    return start, start + WEEK


def rate(numerator: int, denominator: int) -> float | None:
    """SPEC 6: a rate whose denominator is 0 is null."""
    return None if denominator == 0 else numerator / denominator


def lift(segment_rate: float | None, overall_rate: float | None) -> float | None:
    """A segment's win rate over the overall one; null when either is undefined or the
    overall rate is 0 (no segment can be compared with a base that never wins)."""
    if segment_rate is None or overall_rate is None or overall_rate == 0:
        return None
    return segment_rate / overall_rate


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass(frozen=True)
class SlaFollowUp:
    mqls: int
    responded: int
    within_sla: int
    breached: int
    pending: int
    median_response_hours: float | None


def sla_follow_up(
    mqls: Iterable[tuple[datetime, datetime | None]], limit_hours: float, now: datetime
) -> SlaFollowUp:
    """SPEC 7 for (mql_at, first response at) pairs: breached = answered late, or not
    answered and the deadline has passed on `now`; pending = not answered, deadline ahead."""
    limit = timedelta(hours=limit_hours)
    count = within = breached = pending = 0
    hours: list[float] = []
    for mql_at, response_at in mqls:
        count += 1
        deadline = mql_at + limit
        if response_at is None:
            if deadline <= now:
                breached += 1
            else:
                pending += 1
            continue
        hours.append((response_at - mql_at).total_seconds() / 3600)
        if response_at <= deadline:
            within += 1
        else:
            breached += 1
    return SlaFollowUp(count, len(hours), within, breached, pending, median(hours))


def is_stalled(last_movement: datetime, week_end: datetime, stall_days: int) -> bool:
    """An open deal with no stage change and no sales activity for `stall_days` up to the
    end of the week; `last_movement` is the latest of creation, stage change and activity."""
    return week_end - last_movement >= timedelta(days=stall_days)


def funnel_stage_for(deal_stage: str | None) -> str:
    """The content stage a deal is ready for: BOFU from proposal on, else MOFU."""
    if deal_stage is not None and deal_stage.strip().lower() in LATE_DEAL_STAGES:
        return "BOFU"
    return "MOFU"


def company_size_bucket(size: object) -> str | None:
    if isinstance(size, bool) or not isinstance(size, int | float) or size < 1:
        return None
    label = None
    for lower, name in COMPANY_SIZE_BUCKETS:
        if size >= lower:
            label = name
    return label


@dataclass(frozen=True)
class CatalogItem:
    content_id: str
    funnel_stage: str
    objections: tuple[str, ...]


def suggest_content(
    deal_stage: str | None,
    objections: Iterable[str],
    consumed: Iterable[str],
    catalog: Sequence[CatalogItem],
) -> list[tuple[CatalogItem, tuple[str, ...]]]:
    """SPEC 8 content for an active deal: approved items (`catalog`) whose funnel stage fits
    the deal or whose objection tags match the lead's logged objections, minus what the lead
    has consumed; each with the objections it answers, in catalog order."""
    wanted = funnel_stage_for(deal_stage)
    raised = set(objections)
    seen = set(consumed)
    out = []
    for item in catalog:
        if item.content_id in seen:
            continue
        matched = tuple(o for o in item.objections if o in raised)
        if item.funnel_stage == wanted or matched:
            out.append((item, matched))
    return out


# The traits the ICP review breaks win rates down by; company_size is bucketed.
ICP_TRAITS = ("seniority", "department", "industry", "country", "company_size")


@dataclass(frozen=True)
class IcpLead:
    fit_grade: str
    mql: bool
    opportunities: int
    won: int
    lost: int
    revenue: float
    traits: dict[str, object]


@dataclass
class Outcomes:
    """Counts of a set of leads and of their opportunities."""

    leads: int = 0
    mqls: int = 0
    with_opportunity: int = 0
    won: int = 0
    lost: int = 0
    revenue: float = 0.0

    def add(self, lead: IcpLead) -> None:
        self.leads += 1
        self.mqls += lead.mql
        self.with_opportunity += lead.opportunities > 0
        self.won += lead.won
        self.lost += lead.lost
        self.revenue += lead.revenue

    @property
    def mql_rate(self) -> float | None:
        return rate(self.mqls, self.leads)

    @property
    def opportunity_rate(self) -> float | None:
        return rate(self.with_opportunity, self.leads)

    @property
    def win_rate(self) -> float | None:
        """Won over closed opportunities, as SPEC 6 `winRate`."""
        return rate(self.won, self.won + self.lost)

    @property
    def avg_deal(self) -> float | None:
        return None if self.won == 0 else self.revenue / self.won


def trait_value(traits: dict[str, object], trait: str) -> str | None:
    value = traits.get(trait)
    if trait == "company_size":
        return company_size_bucket(value)
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


@dataclass(frozen=True)
class IcpReview:
    overall: Outcomes
    by_grade: dict[str, Outcomes]
    by_trait: dict[tuple[str, str], Outcomes]

    def lift(self, trait: str, value: str) -> float | None:
        return lift(self.by_trait[(trait, value)].win_rate, self.overall.win_rate)


def icp_review(leads: Iterable[IcpLead]) -> IcpReview:
    overall = Outcomes()
    by_grade: dict[str, Outcomes] = {}
    by_trait: dict[tuple[str, str], Outcomes] = {}
    for lead in leads:
        overall.add(lead)
        by_grade.setdefault(lead.fit_grade, Outcomes()).add(lead)
        for trait in ICP_TRAITS:
            value = trait_value(lead.traits, trait)
            if value is not None:
                by_trait.setdefault((trait, value), Outcomes()).add(lead)
    return IcpReview(overall, by_grade, by_trait)
