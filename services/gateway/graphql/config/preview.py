"""What a scoring model would do before it is saved: how many of the leads not yet MQL it
would make MQL now, under the same rules the re-score applies (SPEC 4), so an admin sees
"moves 12 leads to MQL" before pressing Save."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import asyncpg
import strawberry

from services.gateway.graphql.config.inputs import ScoringModelInput, input_errors, to_document
from services.gateway.graphql.config.resolvers import invalid_config
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.permissions import read_field
from shared.config_store import current_config
from shared.domain.config import ConfigError, TenantConfig
from shared.domain.events import MARKETING_TOUCHES, Event
from shared.domain.scoring import engagement

# The leads a re-score could still make MQL: never MQL, not disqualified.
_CANDIDATES = """
SELECT lead_id, fit_score FROM leads
WHERE tenant_id = $1 AND mql_at IS NULL AND NOT disqualified
  AND stage IN ('AWARE', 'ENGAGED')
"""
_TOUCHES = """
SELECT lead_id, event_id, type, occurred_at, seq, channel, campaign_id, content_id,
       properties, stitched
FROM events
WHERE tenant_id = $1 AND lead_id = ANY($2::text[]) AND type = ANY($3::text[])
  AND occurred_at > $4 AND occurred_at <= $5
ORDER BY lead_id, occurred_at, seq
"""


@strawberry.type(description="What a scoring model would change if saved now")
class ScoringPreview:
    leads_checked: int = strawberry.field(description="leads not MQL yet and not disqualified")
    new_mqls: int = strawberry.field(description="of those, the leads it would make MQL now")
    engagement_up: int = strawberry.field(description="leads whose engagement would rise")
    engagement_down: int = strawberry.field(description="leads whose engagement would fall")


async def _preview(
    conn: asyncpg.Connection,
    tenant_id: str,
    current: TenantConfig,
    config: TenantConfig,
    now: datetime,
) -> ScoringPreview:
    leads = await conn.fetch(_CANDIDATES, tenant_id)
    touches: dict[str, list[Event]] = defaultdict(list)
    ids = [r["lead_id"] for r in leads]
    # The longer of the two windows, so both models see every touch they count.
    since = now - timedelta(days=max(config.window_days, current.window_days))
    for row in await conn.fetch(_TOUCHES, tenant_id, ids, sorted(MARKETING_TOUCHES), since, now):
        touches[row["lead_id"]].append(Event(**dict(row)))
    rule = config.mql
    new_mqls = up = down = 0
    for lead in leads:
        # Both at the same instant, so decay since the last scoring is not counted as a change.
        before = engagement(touches[lead["lead_id"]], current, now).score
        after = engagement(touches[lead["lead_id"]], config, now).score
        up += after > before
        down += after < before
        new_mqls += lead["fit_score"] >= rule.min_fit and after >= rule.min_engagement
    return ScoringPreview(
        leads_checked=len(leads), new_mqls=new_mqls, engagement_up=up, engagement_down=down
    )


@strawberry.type
class ScoringPreviewQueries:
    @read_field(
        "What saving this scoring model would change now (nothing is saved): the leads it"
        " would make MQL, and whose engagement would rise or fall"
    )
    async def scoring_model_preview(self, info: Info, input: ScoringModelInput) -> ScoringPreview:
        ctx = info.context
        async with ctx.tx() as conn:
            _, current = await current_config(conn, ctx.tenant_id)
            try:
                config = TenantConfig.from_dict(to_document(input), base=current)
            except ConfigError as exc:
                raise invalid_config("scoring model", input_errors(exc)) from None
            return await _preview(conn, ctx.tenant_id, current, config, ctx.now())
