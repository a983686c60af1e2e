"""Wins to celebrate in the weekly review (SPEC 19): the deals won in the week with the
campaigns and content of their leads' journeys, the campaign that sourced the most pipeline
(first-touch credit of the opportunities created in the week), and the fastest responses
to the week's MQLs."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import strawberry

MAX_DEALS = 25
MAX_PER_DEAL = 10
FASTEST = 3


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


async def top_campaign(
    conn: asyncpg.Connection, tenant_id: str, start: datetime, end: datetime
) -> TopCampaign | None:
    """The campaign with the most first-touch pipeline credit in [start, end)."""
    top = await conn.fetchrow(
        "SELECT campaign_id, sum(amount)::float8 AS pipeline,"
        " count(DISTINCT opportunity_id) AS opportunities FROM attribution_credits"
        " WHERE tenant_id = $1 AND model = 'FIRST_TOUCH' AND kind = 'PIPELINE'"
        "  AND converted_at >= $2 AND converted_at < $3 AND campaign_id IS NOT NULL"
        " GROUP BY campaign_id ORDER BY pipeline DESC, campaign_id LIMIT 1",
        tenant_id,
        start,
        end,
    )
    if top is None:
        return None
    return TopCampaign(
        campaign_id=top["campaign_id"],
        pipeline=top["pipeline"],
        opportunities=top["opportunities"],
    )


async def wins_of_week(
    conn: asyncpg.Connection, tenant_id: str, start: datetime, end: datetime
) -> Wins:
    won = await conn.fetch(
        "SELECT opportunity_id, lead_id, won_amount, closed_at FROM opportunities"
        " WHERE tenant_id = $1 AND status = 'WON' AND closed_at >= $2 AND closed_at < $3"
        " ORDER BY won_amount DESC, closed_at, opportunity_id LIMIT $4",
        tenant_id,
        start,
        end,
        MAX_DEALS,
    )
    leads = sorted({r["lead_id"] for r in won})
    # One pass over the won leads' events: campaigns in the order first touched, and the
    # catalogued content they consumed.
    touched = await conn.fetch(
        "SELECT e.lead_id, e.campaign_id, e.content_id, c.title, min(e.occurred_at) AS first_at"
        " FROM events e LEFT JOIN content_items c"
        "  ON c.tenant_id = e.tenant_id AND c.content_id = e.content_id"
        " WHERE e.tenant_id = $1 AND e.lead_id = ANY($2::text[])"
        "  AND (e.campaign_id IS NOT NULL OR c.content_id IS NOT NULL)"
        " GROUP BY 1, 2, 3, 4 ORDER BY first_at",
        tenant_id,
        leads,
    )
    campaigns: dict[str, list[str]] = {lead: [] for lead in leads}
    content: dict[str, list[WinContent]] = {lead: [] for lead in leads}
    for row in touched:
        lead = row["lead_id"]
        campaign = row["campaign_id"]
        if campaign and campaign not in campaigns[lead] and len(campaigns[lead]) < MAX_PER_DEAL:
            campaigns[lead].append(campaign)
        seen = {c.content_id for c in content[lead]}
        if (
            row["title"] is not None
            and row["content_id"] not in seen
            and len(content[lead]) < MAX_PER_DEAL
        ):
            content[lead].append(WinContent(content_id=row["content_id"], title=row["title"]))
    top = await top_campaign(conn, tenant_id, start, end)
    fastest = await conn.fetch(
        "SELECT lead_id, mql_at, sla_response_at,"
        " extract(epoch FROM sla_response_at - mql_at)::float8 / 3600 AS hours FROM leads"
        " WHERE tenant_id = $1 AND mql_at >= $2 AND mql_at < $3"
        "  AND sla_response_at IS NOT NULL AND sla_response_at >= mql_at"
        " ORDER BY hours, lead_id LIMIT $4",
        tenant_id,
        start,
        end,
        FASTEST,
    )
    return Wins(
        deals_won=[
            WonDeal(
                opportunity_id=r["opportunity_id"],
                lead_id=r["lead_id"],
                amount=float(r["won_amount"] or 0),
                closed_at=r["closed_at"],
                campaigns=campaigns[r["lead_id"]],
                content=content[r["lead_id"]],
            )
            for r in won
        ],
        top_campaign=top,
        fastest_responses=[
            FastResponse(
                lead_id=r["lead_id"],
                mql_at=r["mql_at"],
                responded_at=r["sla_response_at"],
                hours=r["hours"],
            )
            for r in fastest
        ],
    )
