"""The feedback loop (SPEC 8): what sales hears, counted per week, channel, campaign or fit
grade, so marketing can act on it.

A group is the event's own channel or campaign when the event carries one (a lead_rejected
sent from a campaign's landing flow, say); sales events rarely do, so otherwise it is the
lead's first touch: `leads.first_touch_channel`, or the campaign of the lead's earliest event
that names one. FIT_GRADE is the lead's current grade. Keys are `(none)` when unknown.
"""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.periods import From, period_query
from shared.config_store import current_config
from shared.domain.attribution import NONE_KEY


@strawberry.enum
class FeedbackGroup(Enum):
    WEEK = "WEEK"
    CHANNEL = "CHANNEL"
    CAMPAIGN = "CAMPAIGN"
    FIT_GRADE = "FIT_GRADE"


# The only way a group reaches the SQL text: a fixed expression per enum member.
GROUP_KEYS: dict[FeedbackGroup, str] = {
    FeedbackGroup.WEEK: (
        "to_char(date_trunc('week', e.occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
    ),
    FeedbackGroup.CHANNEL: f"coalesce(e.channel, l.first_touch_channel, '{NONE_KEY}')",
    FeedbackGroup.CAMPAIGN: f"""coalesce(e.campaign_id, (
        SELECT f.campaign_id FROM events f
        WHERE f.tenant_id = e.tenant_id AND f.lead_id = e.lead_id AND f.campaign_id IS NOT NULL
        ORDER BY f.occurred_at, f.seq LIMIT 1), '{NONE_KEY}')""",
    FeedbackGroup.FIT_GRADE: f"coalesce(l.fit_grade, '{NONE_KEY}')",
}

# Which event carries which kind of feedback, and the property holding its value.
SIGNALS: dict[str, tuple[str, str]] = {
    "lead_rejected": ("rejection", "reason"),
    "objection_logged": ("objection", "category"),
    "competitor_mentioned": ("competitor", "competitor"),
    "deal_lost": ("lost", "reason"),
}


@strawberry.type
class FeedbackCount:
    value: str
    count: int


@strawberry.type
class RejectionCount:
    reason: str
    count: int
    unknown_reason: bool = strawberry.field(
        description="the reason is not in the tenant's current sla.rejectionReasons "
        "(sent before the list changed)"
    )


@strawberry.type(description="Feedback of one group; every list is ordered by count, desc")
class FeedbackRow:
    key: str = strawberry.field(
        description="the week's Monday (YYYY-MM-DD), channel, campaign id or fit grade"
    )
    rejection_reasons: list[RejectionCount]
    objections: list[FeedbackCount] = strawberry.field(description="objection categories")
    competitors: list[FeedbackCount] = strawberry.field(description="competitor mentions")
    lost_reasons: list[FeedbackCount]


def _ordered(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def pivot(rows: Iterable[Mapping[str, Any]], known_reasons: Iterable[str]) -> list[FeedbackRow]:
    """Rows of (key, kind, value, n) to one FeedbackRow per key, keys in order."""
    known = set(known_reasons)
    groups: dict[str, dict[str, dict[str, int]]] = {}
    for row in rows:
        kinds = groups.setdefault(row["key"], {k: {} for k, _ in SIGNALS.values()})
        counts = kinds[row["kind"]]
        counts[row["value"]] = counts.get(row["value"], 0) + int(row["n"])
    out = []
    for key in sorted(groups):
        kinds = groups[key]
        out.append(
            FeedbackRow(
                key=key,
                rejection_reasons=[
                    RejectionCount(reason=v, count=n, unknown_reason=v not in known)
                    for v, n in _ordered(kinds["rejection"])
                ],
                objections=[
                    FeedbackCount(value=v, count=n) for v, n in _ordered(kinds["objection"])
                ],
                competitors=[
                    FeedbackCount(value=v, count=n) for v, n in _ordered(kinds["competitor"])
                ],
                lost_reasons=[FeedbackCount(value=v, count=n) for v, n in _ordered(kinds["lost"])],
            )
        )
    return out


@strawberry.type
class FeedbackQueries:
    @period_query(
        "Rejection reasons, objections, competitor mentions and lost reasons of the events in "
        "[from, to), per group"
    )
    async def feedback(
        self,
        info: Info,
        from_: From,
        to: datetime,
        group_by: FeedbackGroup,
    ) -> list[FeedbackRow]:
        kind = "CASE e.type " + " ".join(f"WHEN '{t}' THEN '{k}'" for t, (k, _) in SIGNALS.items())
        value = "CASE e.type " + " ".join(
            f"WHEN '{t}' THEN e.properties->>'{p}'" for t, (_, p) in SIGNALS.items()
        )
        sql = f"""
            SELECT {GROUP_KEYS[group_by]} AS key, {kind} END AS kind,
                   coalesce({value} END, '{NONE_KEY}') AS value, count(*) AS n
            FROM events e
            LEFT JOIN leads l ON l.tenant_id = e.tenant_id AND l.lead_id = e.lead_id
            WHERE e.tenant_id = $1 AND e.type = ANY($2::text[])
              AND e.occurred_at >= $3 AND e.occurred_at < $4
            GROUP BY 1, 2, 3
        """
        ctx = info.context
        async with ctx.tx() as conn:
            rows = await conn.fetch(sql, ctx.tenant_id, list(SIGNALS), from_, to)
            _, config = await current_config(conn, ctx.tenant_id)
        return pivot(rows, config.sla.rejection_reasons)
