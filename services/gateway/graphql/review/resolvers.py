"""`weeklyReview`, its Markdown rendering, and `icpReview` (SPEC 8)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable
from datetime import date, datetime

import asyncpg
import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import FunnelStage
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.periods import From, period_query
from services.gateway.graphql.core.permissions import read_field
from services.gateway.graphql.core.rows import from_row
from services.gateway.graphql.nodes.lead import load_lead
from services.gateway.graphql.review.action_items import items_carried_over, items_of_week
from services.gateway.graphql.review.markdown import render
from services.gateway.graphql.review.types import (
    ClosedDeal,
    ClosedGroup,
    ContentSuggestion,
    DealContent,
    GradeReview,
    IcpReview,
    ObjectionTrend,
    StageMove,
    StalledDeal,
    TraitReview,
    WeeklyReview,
    WeeklySla,
    WeeklySource,
)
from services.gateway.graphql.review.wins import wins_answer
from shared.config_store import current_config
from shared.domain import review
from shared.domain.attribution import NONE_KEY
from shared.domain.events import SALES_ACTIVITY
from shared.wins_store import wins_of_week

TOP_OBJECTIONS = 10


def _week(week_start: date) -> tuple[datetime, datetime]:
    try:
        return review.week_bounds(week_start)
    except ValueError as exc:
        raise bad_input(str(exc), [("weekStart", "must be a Monday")]) from None


async def _new_leads(conn: asyncpg.Connection, args: tuple[object, ...]) -> list[WeeklySource]:
    rows = await conn.fetch(
        f"SELECT coalesce(first_touch_channel, '{NONE_KEY}') AS channel, count(*) AS leads,"
        " count(*) FILTER (WHERE mql_at IS NOT NULL) AS mqls,"
        " avg(fit_score)::float8 AS avg_fit_score"
        " FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3"
        " GROUP BY 1 ORDER BY 2 DESC, 1",
        *args,
    )
    return [from_row(WeeklySource, r) for r in rows]


async def _sla(
    conn: asyncpg.Connection, args: tuple[object, ...], limit_hours: float, now: datetime
) -> WeeklySla:
    rows = await conn.fetch(
        "SELECT mql_at, sla_response_at FROM leads"
        " WHERE tenant_id = $1 AND mql_at >= $2 AND mql_at < $3",
        *args,
    )
    s = review.sla_follow_up(((r["mql_at"], r["sla_response_at"]) for r in rows), limit_hours, now)
    return WeeklySla(**dataclasses.asdict(s))


# Each stage change of the week, with the stage the deal left (the change before it, else
# the stage it was created in) and the deal's amount.
_STAGE_MOVES = """
    SELECT e.properties->>'opportunity_id' AS opportunity_id, e.lead_id,
           e.properties->>'stage' AS stage, e.occurred_at AS at, o.amount::float8 AS amount,
           (SELECT p.properties->>'stage' FROM events p
            WHERE p.tenant_id = e.tenant_id AND p.lead_id = e.lead_id
              AND p.type IN ('opportunity_stage_changed', 'opportunity_created')
              AND p.properties->>'opportunity_id' = e.properties->>'opportunity_id'
              AND (p.occurred_at, p.seq) < (e.occurred_at, e.seq)
            ORDER BY p.occurred_at DESC, p.seq DESC LIMIT 1) AS from_stage
    FROM events e
    LEFT JOIN opportunities o
      ON o.tenant_id = e.tenant_id AND o.opportunity_id = e.properties->>'opportunity_id'
    WHERE e.tenant_id = $1 AND e.type = 'opportunity_stage_changed'
      AND e.occurred_at >= $2 AND e.occurred_at < $3
    ORDER BY e.occurred_at, e.seq
"""


async def _stage_moves(conn: asyncpg.Connection, args: tuple[object, ...]) -> list[StageMove]:
    rows = await conn.fetch(_STAGE_MOVES, *args)
    return [from_row(StageMove, r) for r in rows]


# Opportunities open at the week's end, with their stage, last stage change and the lead's
# last sales activity as of then: a review of a past week reads as it would have that day.
_OPEN_AT_WEEK_END = """
    SELECT o.opportunity_id, o.lead_id, o.amount, o.created_at, s.stage, s.changed_at,
           (SELECT max(a.occurred_at) FROM events a
            WHERE a.tenant_id = o.tenant_id AND a.lead_id = o.lead_id
              AND a.type = ANY($3::text[]) AND a.occurred_at < $2) AS active_at
    FROM opportunities o
    LEFT JOIN LATERAL (
        SELECT e.properties->>'stage' AS stage, e.occurred_at AS changed_at FROM events e
        WHERE e.tenant_id = o.tenant_id AND e.lead_id = o.lead_id
          AND e.type = 'opportunity_stage_changed'
          AND e.properties->>'opportunity_id' = o.opportunity_id AND e.occurred_at < $2
        ORDER BY e.occurred_at DESC, e.seq DESC LIMIT 1
    ) s ON true
    WHERE o.tenant_id = $1 AND o.created_at < $2 AND (o.closed_at IS NULL OR o.closed_at >= $2)
    ORDER BY o.created_at, o.opportunity_id
"""


def _stalled(
    rows: Iterable[asyncpg.Record], week_end: datetime, stall_days: int
) -> list[StalledDeal]:
    out = []
    for r in rows:
        last = max(t for t in (r["created_at"], r["changed_at"], r["active_at"]) if t is not None)
        if review.is_stalled(last, week_end, stall_days):
            out.append(
                StalledDeal(
                    opportunity_id=r["opportunity_id"],
                    lead_id=r["lead_id"],
                    stage=r["stage"],
                    amount=float(r["amount"]),
                    last_movement_at=last,
                    days_stalled=(week_end - last).days,
                )
            )
    return out


async def _content_for_deals(
    conn: asyncpg.Connection, tenant_id: str, week_end: datetime, deals: list[asyncpg.Record]
) -> list[DealContent]:
    catalog_rows = await conn.fetch(
        "SELECT content_id, title, url, funnel_stage, objections FROM content_items"
        " WHERE tenant_id = $1 AND status = 'APPROVED' ORDER BY content_id",
        tenant_id,
    )
    if not deals or not catalog_rows:
        return []
    leads = sorted({r["lead_id"] for r in deals})
    facts = await conn.fetch(
        "SELECT lead_id, array_agg(DISTINCT properties->>'category')"
        "   FILTER (WHERE type = 'objection_logged') AS objections,"
        " array_agg(DISTINCT coalesce(content_id, properties->>'content_id'))"
        "   FILTER (WHERE coalesce(content_id, properties->>'content_id') IS NOT NULL) AS consumed"
        " FROM events WHERE tenant_id = $1 AND lead_id = ANY($2::text[]) AND occurred_at < $3"
        " GROUP BY lead_id",
        tenant_id,
        leads,
        week_end,
    )
    by_lead = {r["lead_id"]: (r["objections"] or [], r["consumed"] or []) for r in facts}
    catalog = [
        review.CatalogItem(r["content_id"], r["funnel_stage"], tuple(r["objections"]))
        for r in catalog_rows
    ]
    details = {r["content_id"]: r for r in catalog_rows}
    out = []
    for deal in deals:
        objections, consumed = by_lead.get(deal["lead_id"], ([], []))
        suggestions = [
            ContentSuggestion(
                content_id=item.content_id,
                title=details[item.content_id]["title"],
                url=details[item.content_id]["url"],
                funnel_stage=FunnelStage(item.funnel_stage),
                matched_objections=list(matched),
            )
            for item, matched in review.suggest_content(
                deal["stage"], objections, consumed, catalog
            )
        ]
        if suggestions:
            out.append(
                DealContent(
                    opportunity_id=deal["opportunity_id"],
                    lead_id=deal["lead_id"],
                    stage=deal["stage"],
                    suggestions=suggestions,
                )
            )
    return out


async def _objections(
    conn: asyncpg.Connection, tenant_id: str, start: datetime, end: datetime
) -> list[ObjectionTrend]:
    rows = await conn.fetch(
        f"SELECT coalesce(properties->>'category', '{NONE_KEY}') AS category,"
        " count(*) FILTER (WHERE occurred_at >= $2) AS n,"
        " count(*) FILTER (WHERE occurred_at < $2) AS last_week"
        " FROM events WHERE tenant_id = $1 AND type = 'objection_logged'"
        " AND occurred_at >= $2 - interval '7 days' AND occurred_at < $3"
        " GROUP BY 1 HAVING count(*) FILTER (WHERE occurred_at >= $2) > 0"
        " ORDER BY 2 DESC, 1 LIMIT $4",
        tenant_id,
        start,
        end,
        TOP_OBJECTIONS,
    )
    return [
        ObjectionTrend(category=r["category"], count=r["n"], last_week_count=r["last_week"])
        for r in rows
    ]


async def _closed(conn: asyncpg.Connection, args: tuple[object, ...]) -> list[ClosedDeal]:
    rows = await conn.fetch(
        "SELECT o.opportunity_id, o.lead_id, o.status, o.amount, o.won_amount, o.lost_reason,"
        f" o.competitor, o.closed_at, coalesce(l.first_touch_channel, '{NONE_KEY}') AS channel,"
        f" coalesce(o.fit_grade_at_win, l.fit_grade, '{NONE_KEY}') AS fit_grade"
        " FROM opportunities o"
        " LEFT JOIN leads l ON l.tenant_id = o.tenant_id AND l.lead_id = o.lead_id"
        " WHERE o.tenant_id = $1 AND o.status IN ('WON', 'LOST')"
        " AND o.closed_at >= $2 AND o.closed_at < $3 ORDER BY o.closed_at, o.opportunity_id",
        *args,
    )
    return [
        ClosedDeal(
            opportunity_id=r["opportunity_id"],
            lead_id=r["lead_id"],
            won=r["status"] == "WON",
            amount=float(r["won_amount"] if r["status"] == "WON" else r["amount"]),
            reason=r["lost_reason"],
            competitor=r["competitor"],
            channel=r["channel"],
            fit_grade=r["fit_grade"],
            closed_at=r["closed_at"],
        )
        for r in rows
    ]


def closed_groups(
    deals: Iterable[ClosedDeal], key: Callable[[ClosedDeal], str]
) -> list[ClosedGroup]:
    groups: dict[str, ClosedGroup] = {}
    for deal in deals:
        group = groups.setdefault(key(deal), ClosedGroup(key=key(deal), won=0, lost=0, revenue=0.0))
        if deal.won:
            group.won += 1
            group.revenue += deal.amount
        else:
            group.lost += 1
    return [groups[k] for k in sorted(groups)]


async def weekly_review(info: Info, week_start: date) -> WeeklyReview:
    start, end = _week(week_start)
    ctx = info.context
    tenant_id = ctx.tenant_id
    args = (tenant_id, start, end)
    async with ctx.tx() as conn:
        _, config = await current_config(conn, tenant_id)
        open_deals = await conn.fetch(_OPEN_AT_WEEK_END, tenant_id, end, sorted(SALES_ACTIVITY))
        closed = await _closed(conn, args)
        return WeeklyReview(
            week_start=week_start,
            from_=start,
            to=end,
            new_leads=await _new_leads(conn, args),
            sla=await _sla(conn, args, config.sla.mql_response_hours, ctx.now()),
            stage_moves=await _stage_moves(conn, args),
            stalled=_stalled(open_deals, end, config.stall_days),
            top_objections=await _objections(conn, tenant_id, start, end),
            content_for_deals=await _content_for_deals(conn, tenant_id, end, list(open_deals)),
            closed_deals=closed,
            closed_by_channel=closed_groups(closed, lambda d: d.channel),
            closed_by_fit_grade=closed_groups(closed, lambda d: d.fit_grade),
            action_items=await items_of_week(conn, tenant_id, week_start),
            wins=wins_answer(await wins_of_week(conn, tenant_id, start, end)),
            carried_over=await items_carried_over(conn, tenant_id, week_start),
        )


async def icp_review(info: Info, start: datetime, end: datetime) -> IcpReview:
    ctx = info.context
    rows = await ctx.scope.fetch(
        "SELECT l.fit_grade, l.mql_at IS NOT NULL AS mql, l.traits,"
        " count(o.opportunity_id) AS opportunities,"
        " count(*) FILTER (WHERE o.status = 'WON') AS won,"
        " count(*) FILTER (WHERE o.status = 'LOST') AS lost,"
        " coalesce(sum(o.won_amount) FILTER (WHERE o.status = 'WON'), 0) AS revenue"
        " FROM leads l LEFT JOIN opportunities o"
        "   ON o.tenant_id = l.tenant_id AND o.lead_id = l.lead_id"
        " WHERE l.tenant_id = $1 AND l.created_at >= $2 AND l.created_at < $3"
        " GROUP BY l.lead_id, l.fit_grade, l.mql_at, l.traits",
        start,
        end,
    )
    result = review.icp_review(
        review.IcpLead(
            fit_grade=r["fit_grade"],
            mql=r["mql"],
            opportunities=r["opportunities"],
            won=r["won"],
            lost=r["lost"],
            revenue=float(r["revenue"]),
            traits=dict(r["traits"]),
        )
        for r in rows
    )
    return IcpReview(
        leads=result.overall.leads,
        win_rate=result.overall.win_rate,
        grades=[
            GradeReview(
                fit_grade=grade,
                leads=o.leads,
                mql_rate=o.mql_rate,
                opportunity_rate=o.opportunity_rate,
                win_rate=o.win_rate,
                avg_deal=o.avg_deal,
            )
            for grade, o in sorted(result.by_grade.items())
        ],
        traits=[
            TraitReview(
                trait=trait,
                value=value,
                leads=o.leads,
                won=o.won,
                lost=o.lost,
                win_rate=o.win_rate,
                lift=result.lift(trait, value),
            )
            for (trait, value), o in sorted(result.by_trait.items())
        ],
    )


async def _names(info: Info, review: WeeklyReview) -> dict[str, str]:
    """The people the review's deals belong to, by lead id (name, else email), each lead
    read once through the request's loader."""
    deals = (review.stage_moves, review.stalled, review.content_for_deals, review.closed_deals)
    ids = sorted({row.lead_id for rows in deals for row in rows})
    leads = await asyncio.gather(*(load_lead(info, lead_id) for lead_id in ids))
    names = {}
    for lead_id, lead in zip(ids, leads, strict=True):
        name = lead.known_as() if lead else None
        if name:
            names[lead_id] = name
    return names


@strawberry.type
class ReviewQueries:
    @read_field("The review of the week [weekStart 00:00 UTC, +7 days); weekStart is a Monday")
    async def weekly_review(self, info: Info, week_start: date) -> WeeklyReview:
        return await weekly_review(info, week_start)

    @read_field("weeklyReview as Markdown, for the meeting invite")
    async def weekly_review_markdown(self, info: Info, week_start: date) -> str:
        review = await weekly_review(info, week_start)
        return render(review, await _names(info, review))

    @period_query(
        "Per fit grade and per trait value, the outcomes of the leads created in [from, to)"
    )
    async def icp_review(self, info: Info, from_: From, to: datetime) -> IcpReview:
        return await icp_review(info, from_, to)
