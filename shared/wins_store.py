"""Reads a week's wins (SPEC 19) from the read model: the deals won in the week with the
campaigns and content of their leads' journeys, the campaign that sourced the most pipeline
(first-touch credit of the opportunities created in the week), and the fastest responses
to the week's MQLs. What they hold, and the journey rules, are in shared/domain/wins.py."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from shared.domain.wins import (
    FASTEST,
    MAX_DEALS,
    FastResponse,
    TopCampaign,
    Touch,
    Wins,
    WonDeal,
    journeys,
)


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
    journey = journeys(
        leads,
        (Touch(r["lead_id"], r["campaign_id"], r["content_id"], r["title"]) for r in touched),
    )
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
                campaigns=journey[r["lead_id"]].campaigns,
                content=journey[r["lead_id"]].content,
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
