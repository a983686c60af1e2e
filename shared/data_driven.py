"""The data-driven attribution model in the read model (SPEC 17): reading a tenant's events
and opportunities for the fit (shared/domain/data_driven.py), storing the models, and reading
them back.

The tenant's touches stream lead by lead through a cursor, so a tenant of any size needs
memory for one lead's path and the transition counts only. The worker refreshes every
tenant it serves at least hourly; admins refresh on demand through GraphQL.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from shared.db import tenant_tx
from shared.domain.attribution import DATA_DRIVEN, NONE_KEY, PIPELINE, Kind
from shared.domain.data_driven import KINDS, TenantFit
from shared.domain.events import MARKETING_TOUCHES
from shared.domain.markov import MarkovModel, RemovalEffect, Transition

log = logging.getLogger("tandem.data_driven")

# A model older than this is refitted by the next sweep; with sweeps every REFRESH_SWEEP_S
# no model is ever older than an hour.
REFRESH_SWEEP_S: Final = 600.0
STALE_AFTER: Final = timedelta(seconds=3600 - REFRESH_SWEEP_S - 60)
_FETCH: Final = 5_000
_TOUCH_TYPES: Final = sorted(MARKETING_TOUCHES)


@dataclass(frozen=True, slots=True)
class StoredModel:
    kind: Kind
    refreshed_at: datetime
    model: MarkovModel


async def fit_tenant(conn: asyncpg.Connection, tenant_id: str) -> dict[Kind, MarkovModel]:
    """Both kinds' chains over the tenant's current read model (inside a transaction),
    fitted by shared.domain.data_driven from its touches streamed lead by lead."""
    cutoffs = {
        r["lead_id"]: (r["first_created"], r["first_won"])
        for r in await conn.fetch(
            """
            SELECT lead_id, min(created_at) AS first_created,
                   min(closed_at) FILTER (WHERE status = 'WON') AS first_won
            FROM opportunities WHERE tenant_id = $1 GROUP BY lead_id
            """,
            tenant_id,
        )
    }
    fit = TenantFit(cutoffs)
    cursor = conn.cursor(
        """
        SELECT lead_id, occurred_at, channel FROM events
        WHERE tenant_id = $1 AND lead_id IS NOT NULL AND type = ANY($2::text[])
        ORDER BY lead_id, occurred_at, seq
        """,
        tenant_id,
        _TOUCH_TYPES,
        prefetch=_FETCH,
    )
    async for row in cursor:
        fit.add(row["lead_id"], row["occurred_at"], row["channel"])
    return fit.models()


async def store_models(
    conn: asyncpg.Connection, tenant_id: str, models: dict[Kind, MarkovModel], at: datetime
) -> None:
    await conn.executemany(
        """
        INSERT INTO data_driven_models
            (tenant_id, kind, refreshed_at, paths, conversions, removal_effects, transitions)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (tenant_id, kind) DO UPDATE SET
            refreshed_at = EXCLUDED.refreshed_at, paths = EXCLUDED.paths,
            conversions = EXCLUDED.conversions, removal_effects = EXCLUDED.removal_effects,
            transitions = EXCLUDED.transitions
        """,
        [
            (
                tenant_id,
                kind,
                at,
                model.paths,
                model.conversions,
                dict(model.removal_effects),
                [list(t) for t in model.transitions],
            )
            for kind, model in models.items()
        ],
    )


async def refresh_tenant(pool: asyncpg.Pool, tenant_id: str, now: datetime) -> None:
    """Refits and stores both kinds' models of one tenant in one transaction."""
    async with tenant_tx(pool, tenant_id) as conn:
        models = await fit_tenant(conn, tenant_id)
        await store_models(conn, tenant_id, models, now)
    log.info(
        "data-driven model refreshed",
        extra={
            "tenant_id": tenant_id,
            "paths": models[PIPELINE].paths,
            "conversions": {k: m.conversions for k, m in models.items()},
        },
    )


async def refresh_stale(pool: asyncpg.Pool, tenant_ids: Sequence[str], now: datetime) -> None:
    """Refreshes each tenant whose models are missing or older than STALE_AFTER.

    One tenant's failure is logged and does not hold up the others'.
    """
    for tenant_id in tenant_ids:
        try:
            async with tenant_tx(pool, tenant_id) as conn:
                oldest = await conn.fetchval(
                    "SELECT min(refreshed_at) FROM data_driven_models"
                    " WHERE tenant_id = $1 HAVING count(*) = $2",
                    tenant_id,
                    len(KINDS),
                )
            if oldest is None or now - oldest >= STALE_AFTER:
                await refresh_tenant(pool, tenant_id, now)
        except Exception:
            log.exception("data-driven refresh failed", extra={"tenant_id": tenant_id})


async def load_model(conn: asyncpg.Connection, tenant_id: str, kind: Kind) -> StoredModel | None:
    row = await conn.fetchrow(
        "SELECT * FROM data_driven_models WHERE tenant_id = $1 AND kind = $2", tenant_id, kind
    )
    if row is None:
        return None
    return StoredModel(kind, row["refreshed_at"], _model(row))


def _model(row: Any) -> MarkovModel:
    effects = row["removal_effects"]
    return MarkovModel(
        paths=row["paths"],
        conversions=row["conversions"],
        transitions=tuple(Transition(s, t, p) for s, t, p in row["transitions"]),
        removal_effects=tuple(RemovalEffect(c, effects[c]) for c in sorted(effects)),
    )


# The credit rows of every model, DATA_DRIVEN included, as one relation for the attribution
# reports. DATA_DRIVEN rows are computed when asked, from the stored model and the LINEAR
# rows (one per eligible touch of each conversion), so they always cover every conversion
# of the period. They follow `markov.split_credit`: distinct channels share a conversion in
# proportion to their removal effects (all zero: equally), a channel's share is split over
# its touches. Sums over a conversion's touches of 1/touches-of-its-channel count its
# distinct channels, of effect/touches-of-its-channel sum their effects.
# Parameters, as the reports bind them: $1 tenant, $3 kind, $4 from, $5 to.
CREDITS_WITH_DATA_DRIVEN: Final = f"""(
    SELECT tenant_id, lead_id, opportunity_id, kind, model, touch_event_id, channel,
           campaign_id, content_id, message_id, fraction, amount, converted_at
    FROM attribution_credits
    UNION ALL
    SELECT tenant_id, lead_id, opportunity_id, kind, '{DATA_DRIVEN}', touch_event_id, channel,
           campaign_id, content_id, message_id,
           CASE WHEN touch_event_id IS NULL THEN 1.0
                WHEN effects > 0 THEN effect / effects / touches
                ELSE 1.0 / channels / touches END,
           conversion_amount * CASE WHEN touch_event_id IS NULL THEN 1.0
                WHEN effects > 0 THEN effect / effects / touches
                ELSE 1.0 / channels / touches END,
           converted_at
    FROM (
        SELECT *,
               sum(effect / touches) OVER conversion AS effects,
               sum(1.0 / touches) OVER conversion AS channels
        FROM (
            SELECT c.*,
                   count(*) OVER (PARTITION BY c.lead_id, c.opportunity_id,
                                  coalesce(c.channel, '{NONE_KEY}')) AS touches,
                   sum(c.amount) OVER (PARTITION BY c.lead_id, c.opportunity_id)
                       AS conversion_amount,
                   coalesce((m.removal_effects ->> coalesce(c.channel, '{NONE_KEY}'))::float8, 0)
                       AS effect
            FROM attribution_credits c
            LEFT JOIN data_driven_models m ON m.tenant_id = $1 AND m.kind = c.kind
            WHERE c.tenant_id = $1 AND c.model = 'LINEAR' AND c.kind = $3
              AND c.converted_at >= $4 AND c.converted_at < $5
        ) per_touch
        WINDOW conversion AS (PARTITION BY lead_id, opportunity_id)
    ) per_conversion
) AS attribution_credits"""
