"""Deal post-mortems (SPEC 17): the three questions asked of every closed deal, answered with
evidence from the lead's own history.

1. Was the lead properly qualified? Its fit score and grade when it became MQL and when the
   deal's opportunity was created (the lead's state right after those events, from the
   same fold as the read model), and whether sales answered the MQL within the SLA.
2. Was it engaged with content? The catalogued content it consumed up to the close, per
   funnel stage (`TOFU`, `MOFU`, `BOFU`), and the stages where it consumed none.
3. Did messaging match its needs? The objections logged, whether each was answered, and
   the messages used. An objection is answered by any approved `OBJECTION_RESPONSE`
   message used with the lead (messages carry no objection tags) or by content tagged with
   its category consumed, at or after it and up to the close.

`compare` sets the post-mortems of a period's won deals beside its lost ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from shared.domain.config import TenantConfig
from shared.domain.events import Event
from shared.domain.journey import LeadState, OpportunityStatus
from shared.domain.sla import SlaOutcome, classify

OBJECTION_RESPONSE: Final = "OBJECTION_RESPONSE"


class FunnelStage(StrEnum):
    """Where a content item of the catalog (SPEC 8) serves: top, middle or bottom."""

    TOFU = "TOFU"
    MOFU = "MOFU"
    BOFU = "BOFU"


@dataclass(frozen=True, slots=True)
class Fit:
    score: int
    grade: str


@dataclass(frozen=True, slots=True)
class Qualification:
    fit_at_mql: Fit | None  # None: the lead never became MQL
    fit_at_opportunity: Fit | None  # None: the opportunity has no creation in the history
    mql_at: datetime | None
    response_at: datetime | None
    sla: SlaOutcome | None  # the first response against the SLA; None without an MQL

    @property
    def sla_met(self) -> bool | None:
        return None if self.sla is None else self.sla is SlaOutcome.WITHIN


@dataclass(frozen=True, slots=True)
class ContentUse:
    """Catalogued content consumed per funnel stage, in first-consumption order."""

    by_stage: Mapping[str, tuple[str, ...]]

    @property
    def gaps(self) -> tuple[str, ...]:
        return tuple(s for s in FunnelStage if not self.by_stage.get(s))


@dataclass(frozen=True, slots=True)
class Objection:
    category: str
    at: datetime
    event_id: str
    answered_by: tuple[str, ...]  # message and content ids that answered it


@dataclass(frozen=True, slots=True)
class Messaging:
    objections: tuple[Objection, ...]
    messages_used: tuple[str, ...]  # every message id used with the lead, first use order
    objection_responses_used: tuple[str, ...]  # of those, the approved objection responses
    objection_responses_available: int  # approved objection responses in the library

    @property
    def answered(self) -> int:
        return sum(1 for o in self.objections if o.answered_by)


@dataclass(frozen=True, slots=True)
class PostMortem:
    opportunity_id: str
    lead_id: str | None
    status: OpportunityStatus
    amount: float
    closed_at: datetime | None
    lost_reason: str | None
    competitor: str | None
    qualification: Qualification
    content: ContentUse
    messaging: Messaging


@dataclass(frozen=True, slots=True)
class Library:
    """What the tenant's catalog and messaging library say about ids seen in a history:
    each content item's funnel stage and objection tags, and the approved objection
    responses."""

    content_stages: Mapping[str, str] = field(default_factory=dict)
    content_objections: Mapping[str, frozenset[str]] = field(default_factory=dict)
    objection_responses: frozenset[str] = frozenset()


def content_of(event: Event) -> str | None:
    """The content item an event consumed: its envelope `content_id`, or the one sales
    shared (`content_shared`'s `properties.content_id`)."""
    if event.content_id is not None:
        return event.content_id
    value = event.properties.get("content_id") if event.type == "content_shared" else None
    return value if isinstance(value, str) else None


def post_mortem(
    events: Iterable[Event],
    configs: Mapping[int, TenantConfig],
    opportunity_id: str,
    library: Library,
    *,
    sla_hours: float,
    now: datetime,
) -> PostMortem | None:
    """The post-mortem of one opportunity from its lead's events (None when the history has
    no such opportunity). `configs` maps each event's config version to its config;
    `sla_hours` is the tenant's current response limit, as the SLA reports use it."""
    state = LeadState()
    fit_at_mql: Fit | None = None
    fit_at_opportunity: Fit | None = None
    history: list[Event] = []
    # The store's order; apply() itself ignores a repeated event id.
    for event in sorted(events, key=lambda e: e.order_key):
        had_mql = state.mql_at is not None
        had_opportunity = opportunity_id in state.opportunities
        state.apply(event, configs[event.config_version])
        history.append(event)
        if not had_mql and state.mql_at is not None:
            fit_at_mql = Fit(state.fit_score, state.fit_grade)
        if not had_opportunity and opportunity_id in state.opportunities:
            fit_at_opportunity = Fit(state.fit_score, state.fit_grade)
    opportunity = state.opportunities.get(opportunity_id)
    if opportunity is None:
        return None
    end = opportunity.closed_at
    sla = None
    if state.mql_at is not None:
        sla = classify(state.mql_at, state.response_at, now, sla_hours)
    in_deal = [e for e in history if end is None or e.occurred_at <= end]
    return PostMortem(
        opportunity_id=opportunity_id,
        lead_id=state.lead_id,
        status=opportunity.status,
        amount=opportunity.won_amount
        if opportunity.status is OpportunityStatus.WON and opportunity.won_amount is not None
        else opportunity.amount,
        closed_at=end,
        lost_reason=opportunity.lost_reason,
        competitor=opportunity.competitor,
        qualification=Qualification(
            fit_at_mql, fit_at_opportunity, state.mql_at, state.response_at, sla
        ),
        content=_content(in_deal, library),
        messaging=_messaging(in_deal, library),
    )


def _content(events: Iterable[Event], library: Library) -> ContentUse:
    by_stage: dict[str, list[str]] = {s: [] for s in FunnelStage}
    for event in events:
        content = content_of(event)
        stage = library.content_stages.get(content) if content is not None else None
        if content is not None and stage in by_stage and content not in by_stage[stage]:
            by_stage[stage].append(content)
    return ContentUse({s: tuple(ids) for s, ids in by_stage.items()})


def _messaging(events: Sequence[Event], library: Library) -> Messaging:
    used: dict[str, None] = {}
    for event in events:
        if event.message_id is not None:
            used.setdefault(event.message_id)
    objections = []
    for index, event in enumerate(events):
        if event.type != "objection_logged":
            continue
        category = str(event.properties.get("category", ""))
        answers: dict[str, None] = {}
        for later in events[index:]:
            if later.message_id in library.objection_responses:
                answers.setdefault(later.message_id)
            content = content_of(later)
            if content is not None and category in library.content_objections.get(
                content, frozenset()
            ):
                answers.setdefault(content)
        objections.append(Objection(category, event.occurred_at, event.event_id, tuple(answers)))
    return Messaging(
        objections=tuple(objections),
        messages_used=tuple(used),
        objection_responses_used=tuple(m for m in used if m in library.objection_responses),
        objection_responses_available=len(library.objection_responses),
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """The post-mortems of one outcome in a period, on the three questions' measures.
    Means and rates are over the deals that have the measure; None when none has it."""

    deals: int
    mql_share: float | None  # share of deals whose lead became MQL
    avg_fit_at_mql: float | None
    avg_fit_at_opportunity: float | None
    grades_at_opportunity: Mapping[str, int]
    sla_met_rate: float | None  # WITHIN / (WITHIN + LATE + OVERDUE)
    content_per_deal: Mapping[str, float | None]  # per funnel stage
    gap_rate: Mapping[str, float | None]  # per funnel stage: share of deals with none
    objections_per_deal: float | None
    answered_rate: float | None  # answered objections / objections
    messages_per_deal: float | None


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def summarize(post_mortems: Sequence[PostMortem]) -> Summary:
    n = len(post_mortems)
    qualification = [p.qualification for p in post_mortems]
    at_mql = [q.fit_at_mql.score for q in qualification if q.fit_at_mql is not None]
    at_opp = [q.fit_at_opportunity for q in qualification if q.fit_at_opportunity is not None]
    grades: dict[str, int] = {}
    for fit in at_opp:
        grades[fit.grade] = grades.get(fit.grade, 0) + 1
    judged = [q.sla for q in qualification if q.sla is not None and q.sla is not SlaOutcome.PENDING]
    objections = sum(len(p.messaging.objections) for p in post_mortems)
    return Summary(
        deals=n,
        mql_share=_rate(len(at_mql), n),
        avg_fit_at_mql=_mean(at_mql),
        avg_fit_at_opportunity=_mean([f.score for f in at_opp]),
        grades_at_opportunity=dict(sorted(grades.items())),
        sla_met_rate=_rate(sum(1 for s in judged if s is SlaOutcome.WITHIN), len(judged)),
        content_per_deal={
            s: _mean([len(p.content.by_stage.get(s, ())) for p in post_mortems])
            for s in FunnelStage
        },
        gap_rate={
            s: _rate(sum(1 for p in post_mortems if s in p.content.gaps), n) for s in FunnelStage
        },
        objections_per_deal=_mean([len(p.messaging.objections) for p in post_mortems]),
        answered_rate=_rate(sum(p.messaging.answered for p in post_mortems), objections),
        messages_per_deal=_mean([len(p.messaging.messages_used) for p in post_mortems]),
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    won: Summary
    lost: Summary


def compare(post_mortems: Iterable[PostMortem]) -> Comparison:
    """Won deals beside lost ones; open deals are in neither."""
    items = list(post_mortems)
    return Comparison(
        won=summarize([p for p in items if p.status is OpportunityStatus.WON]),
        lost=summarize([p for p in items if p.status is OpportunityStatus.LOST]),
    )
