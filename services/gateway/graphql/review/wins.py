"""Wins to celebrate in the weekly review (SPEC 19), as GraphQL answers them; what they hold
and how they are read are shared (shared/domain/wins.py, shared/wins_store.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from shared.domain import wins


@strawberry.type(description="Content a won deal's lead consumed")
class WinContent:
    content_id: str
    title: str


@strawberry.type(description="A deal won in the week, and what its lead's journey held")
class WonDeal:
    opportunity_id: str
    lead_id: str
    amount: float
    closed_at: datetime
    campaigns: list[str] = strawberry.field(description="campaigns the lead touched, first first")
    content: list[WinContent] = strawberry.field(description="catalogued content consumed")


@strawberry.type(description="The campaign whose first touches sourced the most pipeline")
class TopCampaign:
    campaign_id: str
    pipeline: float = strawberry.field(description="first-touch pipeline credit in the week")
    opportunities: int


@strawberry.type(description="An MQL of the week answered fast")
class FastResponse:
    lead_id: str
    mql_at: datetime
    responded_at: datetime
    hours: float


@strawberry.type(description="What to celebrate together at the weekly review")
class Wins:
    deals_won: list[WonDeal]
    top_campaign: TopCampaign | None
    fastest_responses: list[FastResponse]


def wins_answer(found: wins.Wins) -> Wins:
    top = found.top_campaign
    return Wins(
        deals_won=[
            WonDeal(
                opportunity_id=d.opportunity_id,
                lead_id=d.lead_id,
                amount=d.amount,
                closed_at=d.closed_at,
                campaigns=d.campaigns,
                content=[WinContent(content_id=c.content_id, title=c.title) for c in d.content],
            )
            for d in found.deals_won
        ],
        top_campaign=None if top is None else TopCampaign(**vars(top)),
        fastest_responses=[FastResponse(**vars(f)) for f in found.fastest_responses],
    )
