"""What the weekly review and the ICP review answer."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import date, datetime

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import FunnelStage
from services.gateway.graphql.nodes.lead import lead_field
from services.gateway.graphql.nodes.postmortem import PostMortemComparison
from services.gateway.graphql.review.action_items import ActionItem
from services.gateway.graphql.review.wins import Wins
from shared.postmortem_store import post_mortems_of


@strawberry.type(description="The leads created in the week from one first-touch channel")
class WeeklySource:
    channel: str
    leads: int
    mqls: int = strawberry.field(description="of those leads, the ones that are MQL")
    avg_fit_score: float | None


@strawberry.type(description="SLA follow-up of the MQLs of the week, as of now")
class WeeklySla:
    mqls: int
    responded: int
    within_sla: int
    breached: int
    pending: int
    median_response_hours: float | None


@strawberry.type(description="An opportunity_stage_changed of the week")
class StageMove:
    opportunity_id: str
    lead_id: str
    stage: str
    at: datetime
    from_stage: str | None = strawberry.field(
        default=None,
        description="the deal's stage before this change (its stage when created, if given)",
    )
    amount: float | None = strawberry.field(default=None, description="the deal's amount now")
    lead = lead_field()


@strawberry.type(description="Open at the week's end with no stage change or sales activity")
class StalledDeal:
    opportunity_id: str
    lead_id: str
    lead = lead_field()
    stage: str | None
    amount: float
    last_movement_at: datetime = strawberry.field(
        description="latest of creation, stage change and sales activity"
    )
    days_stalled: int = strawberry.field(description="whole days from then to the week's end")


@strawberry.type
class ObjectionTrend:
    category: str
    count: int
    last_week_count: int


@strawberry.type
class ContentSuggestion:
    content_id: str
    title: str
    url: str
    funnel_stage: FunnelStage
    matched_objections: list[str] = strawberry.field(
        description="the lead's logged objections this item answers"
    )


@strawberry.type(description="Approved content an open deal's lead has not consumed yet")
class DealContent:
    opportunity_id: str
    lead_id: str
    lead = lead_field()
    stage: str | None
    suggestions: list[ContentSuggestion]


@strawberry.type
class ClosedDeal:
    opportunity_id: str
    lead_id: str
    lead = lead_field()
    won: bool
    amount: float = strawberry.field(description="the won amount, or the amount of a lost deal")
    reason: str | None = strawberry.field(description="lost reason")
    competitor: str | None
    channel: str = strawberry.field(description="the lead's first-touch channel")
    fit_grade: str = strawberry.field(
        description="the fit grade at the win; for a lost deal the lead's current grade"
    )
    closed_at: datetime


@strawberry.type
class ClosedGroup:
    key: str
    won: int
    lost: int
    revenue: float


@strawberry.type(description="The weekly sales and marketing review")
class WeeklyReview:
    week_start: date
    from_: datetime = strawberry.field(name="from")
    to: datetime
    new_leads: list[WeeklySource]
    sla: WeeklySla
    stage_moves: list[StageMove]
    stalled: list[StalledDeal]
    top_objections: list[ObjectionTrend]
    content_for_deals: list[DealContent]
    closed_deals: list[ClosedDeal]
    closed_by_channel: list[ClosedGroup]
    closed_by_fit_grade: list[ClosedGroup]
    action_items: list[ActionItem]
    wins: Wins = strawberry.field(description="what to celebrate together")
    carried_over: list[ActionItem] = strawberry.field(
        default_factory=list,
        description="action items of earlier reviews still open or in progress, oldest first",
    )

    @strawberry.field(description="the closed deals' post-mortems, won beside lost")
    async def closed_post_mortems(self, info: Info) -> PostMortemComparison:
        ctx = info.context
        ids = [d.opportunity_id for d in self.closed_deals]
        found = await ctx.scope.run(post_mortems_of, ids, ctx.now())
        return PostMortemComparison.of(found)


@strawberry.type
class GradeReview:
    fit_grade: str
    leads: int
    mql_rate: float | None
    opportunity_rate: float | None
    win_rate: float | None
    avg_deal: float | None


@strawberry.type
class TraitReview:
    trait: str
    value: str
    leads: int
    won: int
    lost: int
    win_rate: float | None
    lift: float | None = strawberry.field(
        description="winRate / the overall win rate; null when either is undefined or 0"
    )


@strawberry.type(description="The pipeline evidence for revising the ICP")
class IcpReview:
    leads: int
    win_rate: float | None = strawberry.field(description="over every lead of the period")
    grades: list[GradeReview]
    traits: list[TraitReview]
