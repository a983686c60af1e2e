"""`slaReport(from, to)` and `openBreaches(first, after)` (SPEC 7)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import strawberry

from services.gateway.graphql.core.context import Info, RequestContext
from services.gateway.graphql.core.periods import From, period_query
from services.gateway.graphql.core.permissions import read_field
from services.gateway.graphql.core.relay import Connection, Edge, Keyset, page_size
from services.gateway.graphql.sla.types import (
    SlaBreach,
    SlaOwnerTeamRow,
    SlaReport,
    SlaSourceRow,
)
from shared.domain.review import rate
from shared.domain.sla import RESPONSE_GROUPS, ResponseGroup, SlaKind, alert_id

# The response groups as SQL, generated from the domain's table so the two cannot differ.
_GROUP_SQL = (
    "CASE l.sla_response_type "
    + " ".join(f"WHEN '{t}' THEN '{g.value}'" for t, g in sorted(RESPONSE_GROUPS.items()))
    + f" ELSE '{ResponseGroup.NO_RESPONSE.value}' END"
)

# The classes are those of shared.domain.sla.classify, with the limit of the tenant's current
# config, exactly as `metrics.slaCompliance` counts them, so the two always agree.
REPORT_SQL = f"""
WITH lim AS (SELECT tandem_sla_response_limit($1) AS lim),
mqls AS (
    SELECT {_GROUP_SQL} AS grp,
           coalesce(l.first_touch_channel, '(none)') AS source,
           l.sla_response_at IS NOT NULL AS answered,
           l.sla_response_at <= l.mql_at + lim.lim AS within,
           (l.sla_response_at > l.mql_at + lim.lim
            OR (l.sla_response_at IS NULL AND l.mql_at + lim.lim < $4)) AS breached,
           l.sla_response_at IS NULL AND l.mql_at + lim.lim >= $4 AS pending,
           extract(epoch FROM l.sla_response_at - l.mql_at)::float8 / 3600 AS hours
    FROM leads l, lim
    WHERE l.tenant_id = $1 AND l.mql_at >= $2 AND l.mql_at < $3
)
SELECT grouping(grp) = 0 AS by_group, grouping(source) = 0 AS by_source, grp, source,
       count(*) AS mqls,
       count(*) FILTER (WHERE answered) AS responded,
       count(*) FILTER (WHERE within) AS within_sla,
       count(*) FILTER (WHERE breached) AS breached,
       count(*) FILTER (WHERE pending) AS pending,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_response_hours,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90_response_hours
FROM mqls
GROUP BY GROUPING SETS ((), (grp), (source))
"""

# A breach is open while its lead still has that MQL and no answer to the limit missed.
OPEN_BREACHES_SQL = """
SELECT b.lead_id, b.kind, b.mql_at, b.deadline, b.detected_at, b.emitted_at
FROM sla_breaches b
JOIN leads l ON l.tenant_id = b.tenant_id AND l.lead_id = b.lead_id AND l.mql_at = b.mql_at
WHERE b.tenant_id = $1
  AND CASE b.kind WHEN 'RESPONSE' THEN l.sla_response_at IS NULL
                  ELSE l.sla_disposition_at IS NULL END
  AND ($2::timestamptz IS NULL OR (b.deadline, b.lead_id, b.kind) < ($2, $3, $4))
ORDER BY b.deadline DESC, b.lead_id DESC, b.kind DESC
LIMIT $5
"""


def _figures(row: asyncpg.Record) -> dict[str, Any]:
    within, breached = int(row["within_sla"]), int(row["breached"])
    return {
        "mqls": int(row["mqls"]),
        "responded": int(row["responded"]),
        "within_sla": within,
        "breached": breached,
        "pending": int(row["pending"]),
        "compliance": rate(within, within + breached),
        "median_response_hours": row["median_response_hours"],
        "p90_response_hours": row["p90_response_hours"],
    }


def report_from(rows: list[asyncpg.Record]) -> SlaReport:
    # The empty grouping set yields its row even for a period without MQLs.
    (total,) = (r for r in rows if not r["by_group"] and not r["by_source"])
    teams = [
        SlaOwnerTeamRow(group=ResponseGroup(r["grp"]), **_figures(r)) for r in rows if r["by_group"]
    ]
    teams.sort(key=lambda r: list(ResponseGroup).index(r.group))
    sources = [SlaSourceRow(source=r["source"], **_figures(r)) for r in rows if r["by_source"]]
    sources.sort(key=lambda r: (-r.mqls, r.source))
    return SlaReport(by_owner_team=teams, by_source=sources, **_figures(total))


_KEYSET = Keyset("breach", {"deadline": datetime.fromisoformat, "lead_id": str, "kind": str})


def _breach(ctx: RequestContext, row: asyncpg.Record) -> SlaBreach:
    kind = SlaKind(row["kind"])
    return SlaBreach(
        id=strawberry.ID(alert_id(ctx.tenant_id, row["lead_id"], kind, row["mql_at"])),
        kind=kind,
        lead_id=strawberry.ID(row["lead_id"]),
        mql_at=row["mql_at"],
        deadline=row["deadline"],
        detected_at=row["detected_at"],
        alerted_at=row["emitted_at"],
    )


@strawberry.type(description="Open SLA breaches, the latest deadline first")
class SlaBreachConnection(Connection[Edge[SlaBreach]]):
    pass


@strawberry.type
class SlaQueries:
    @period_query("SLA follow-up of the MQLs whose mql_at is in [from, to), at the current limit")
    async def sla_report(self, info: Info, from_: From, to: datetime) -> SlaReport:
        ctx = info.context
        rows = await ctx.scope.fetch(REPORT_SQL, from_, to, ctx.now())
        return report_from(rows)

    @read_field(
        "Breaches the SLA clock recorded whose lead still has no answer to the limit "
        "missed, the latest deadline first; `first` as for `leads`"
    )
    async def open_breaches(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> SlaBreachConnection:
        limit = page_size(first)
        position = _KEYSET.position(after) or (None, None, None)
        ctx = info.context
        rows = await ctx.scope.fetch(OPEN_BREACHES_SQL, *position, limit + 1)
        edges, page_info = _KEYSET.page(rows, limit, after, lambda row: _breach(ctx, row))
        return SlaBreachConnection(edges=edges, page_info=page_info)
