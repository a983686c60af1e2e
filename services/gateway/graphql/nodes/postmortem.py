"""Deal post-mortems (SPEC 17) as GraphQL types: the post-mortem of one deal and the won
versus lost comparison of a period. Shared because both `dealPostMortem`/`postMortems` and the
weekly review's closed-deals section return them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from services.gateway.graphql.core.enums import FunnelStage
from services.gateway.graphql.nodes.lead import OpportunityStatus
from shared.domain import postmortem as pm
from shared.domain.sla import SlaOutcome

strawberry.enum(
    SlaOutcome,
    name="SlaOutcome",
    description="WITHIN: answered in time; LATE: answered after the deadline; OVERDUE: not "
    "answered, deadline passed; PENDING: not answered, deadline not passed",
)


@strawberry.type(description="A fit score and its grade at one moment of the journey")
class FitAt:
    score: int
    grade: str


@strawberry.type(description="Was the lead properly qualified?")
class PostMortemQualification:
    fit_at_mql: FitAt | None = strawberry.field(
        description="right after the event that made the lead MQL; null: never MQL"
    )
    fit_at_opportunity: FitAt | None = strawberry.field(
        description="right after the event that created the opportunity"
    )
    mql_at: datetime | None
    response_at: datetime | None = strawberry.field(description="sales' first response")
    sla: SlaOutcome | None = strawberry.field(
        description="the first response against the tenant's current limit; null: never MQL"
    )
    sla_met: bool | None


@strawberry.type
class FunnelContent:
    stage: FunnelStage
    content_ids: list[str] = strawberry.field(description="in first-consumption order")


@strawberry.type(description="Was the lead engaged with content (up to the close)?")
class PostMortemContent:
    by_stage: list[FunnelContent] = strawberry.field(description="catalogued content consumed")
    gaps: list[FunnelStage] = strawberry.field(description="funnel stages with no content")


@strawberry.type
class LoggedObjection:
    category: str
    at: datetime
    event_id: str
    answered_by: list[str] = strawberry.field(
        description="approved objection responses used, and content tagged with the "
        "category consumed, at or after the objection and up to the close"
    )


@strawberry.type(description="Did messaging match the lead's needs?")
class PostMortemMessaging:
    objections: list[LoggedObjection]
    answered: int = strawberry.field(description="objections with at least one answer")
    messages_used: list[str] = strawberry.field(description="every message used with the lead")
    objection_responses_used: list[str]
    objection_responses_available: int = strawberry.field(
        description="approved OBJECTION_RESPONSE messages in the library"
    )


@strawberry.type(description="The three questions asked of a closed deal, with evidence")
class DealPostMortem:
    opportunity_id: strawberry.ID
    lead_id: str | None
    status: OpportunityStatus
    amount: float = strawberry.field(description="the won amount, else the opportunity's")
    closed_at: datetime | None
    lost_reason: str | None
    competitor: str | None
    qualification: PostMortemQualification
    content: PostMortemContent
    messaging: PostMortemMessaging

    @classmethod
    def of(cls, p: pm.PostMortem) -> DealPostMortem:
        q = p.qualification
        return cls(
            opportunity_id=strawberry.ID(p.opportunity_id),
            lead_id=p.lead_id,
            status=OpportunityStatus(p.status.value),
            amount=p.amount,
            closed_at=p.closed_at,
            lost_reason=p.lost_reason,
            competitor=p.competitor,
            qualification=PostMortemQualification(
                fit_at_mql=_fit(q.fit_at_mql),
                fit_at_opportunity=_fit(q.fit_at_opportunity),
                mql_at=q.mql_at,
                response_at=q.response_at,
                sla=q.sla,
                sla_met=q.sla_met,
            ),
            content=PostMortemContent(
                by_stage=[
                    FunnelContent(stage=FunnelStage(s), content_ids=list(p.content.by_stage[s]))
                    for s in FunnelStage
                ],
                gaps=[FunnelStage(s) for s in p.content.gaps],
            ),
            messaging=PostMortemMessaging(
                objections=[
                    LoggedObjection(
                        category=o.category,
                        at=o.at,
                        event_id=o.event_id,
                        answered_by=list(o.answered_by),
                    )
                    for o in p.messaging.objections
                ],
                answered=p.messaging.answered,
                messages_used=list(p.messaging.messages_used),
                objection_responses_used=list(p.messaging.objection_responses_used),
                objection_responses_available=p.messaging.objection_responses_available,
            ),
        )


def _fit(fit: pm.Fit | None) -> FitAt | None:
    return None if fit is None else FitAt(score=fit.score, grade=fit.grade)


@strawberry.type
class GradeCount:
    grade: str
    count: int


@strawberry.type
class StageMeasure:
    stage: FunnelStage
    value: float | None


@strawberry.type(
    description="The post-mortems of one outcome, on the three questions' measures; means "
    "and rates over the deals that have the measure, null when none has"
)
class PostMortemSummary:
    deals: int
    mql_share: float | None = strawberry.field(description="deals whose lead became MQL")
    avg_fit_at_mql: float | None
    avg_fit_at_opportunity: float | None
    grades_at_opportunity: list[GradeCount]
    sla_met_rate: float | None = strawberry.field(description="WITHIN / (WITHIN+LATE+OVERDUE)")
    content_per_deal: list[StageMeasure] = strawberry.field(
        description="mean catalogued items consumed per funnel stage"
    )
    gap_rate: list[StageMeasure] = strawberry.field(
        description="share of deals with no content in the funnel stage"
    )
    objections_per_deal: float | None
    answered_rate: float | None = strawberry.field(description="answered / logged objections")
    messages_per_deal: float | None

    @classmethod
    def of(cls, s: pm.Summary) -> PostMortemSummary:
        return cls(
            deals=s.deals,
            mql_share=s.mql_share,
            avg_fit_at_mql=s.avg_fit_at_mql,
            avg_fit_at_opportunity=s.avg_fit_at_opportunity,
            grades_at_opportunity=[
                GradeCount(grade=g, count=n) for g, n in s.grades_at_opportunity.items()
            ],
            sla_met_rate=s.sla_met_rate,
            content_per_deal=[
                StageMeasure(stage=FunnelStage(k), value=v) for k, v in s.content_per_deal.items()
            ],
            gap_rate=[StageMeasure(stage=FunnelStage(k), value=v) for k, v in s.gap_rate.items()],
            objections_per_deal=s.objections_per_deal,
            answered_rate=s.answered_rate,
            messages_per_deal=s.messages_per_deal,
        )


@strawberry.type(description="Won deals beside lost ones, closed in the period")
class PostMortemComparison:
    won: PostMortemSummary
    lost: PostMortemSummary

    @classmethod
    def of(cls, post_mortems: list[pm.PostMortem]) -> PostMortemComparison:
        result = pm.compare(post_mortems)
        return cls(won=PostMortemSummary.of(result.won), lost=PostMortemSummary.of(result.lost))
