"""The predictive models' rows (a tenant's current model, lead predictions) and the
opportunity histories the forecast learns from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import orjson

from shared.domain.forecast import OpportunityHistory
from shared.domain.predictive import LinearModel, Prediction


async def current_versions(conn: asyncpg.Connection, tenant_ids: Sequence[str]) -> dict[str, int]:
    """The version of each tenant's latest usable model, for the tenants that have one: one
    statement however many tenants a batch holds."""
    rows = await conn.fetch(
        "SELECT tenant_id, max(version) AS version FROM predictive_models"
        " WHERE tenant_id = ANY($1::text[]) AND status = 'READY' GROUP BY tenant_id",
        list(tenant_ids),
    )
    return {r["tenant_id"]: int(r["version"]) for r in rows}


async def load_model(conn: asyncpg.Connection, tenant_id: str, version: int) -> LinearModel:
    data = await conn.fetchval(
        "SELECT model FROM predictive_models WHERE tenant_id = $1 AND version = $2",
        tenant_id,
        version,
    )
    return LinearModel.from_dict(data)


async def upsert_predictions(
    conn: asyncpg.Connection,
    tenant_id: str,
    version: int,
    predictions: Sequence[tuple[str, Prediction]],
    now: datetime,
) -> None:
    """Writes the predictions of the leads that have a row (a lead erased meanwhile has none)."""
    if not predictions:
        return
    await conn.execute(
        """
        INSERT INTO lead_predictions (tenant_id, lead_id, model_version, probability,
            percentile, tier, factors, scored_at)
        SELECT $1, u.lead_id, $2, u.probability, u.percentile, u.tier, u.factors::jsonb, $8
        FROM unnest($3::text[], $4::float8[], $5::int[], $6::int[], $7::text[])
            AS u(lead_id, probability, percentile, tier, factors)
        JOIN leads l ON l.tenant_id = $1 AND l.lead_id = u.lead_id
        ON CONFLICT (tenant_id, lead_id) DO UPDATE SET
            model_version = EXCLUDED.model_version, probability = EXCLUDED.probability,
            percentile = EXCLUDED.percentile, tier = EXCLUDED.tier,
            factors = EXCLUDED.factors, scored_at = EXCLUDED.scored_at
        """,
        tenant_id,
        version,
        [lead_id for lead_id, _ in predictions],
        [p.probability for _, p in predictions],
        [p.percentile for _, p in predictions],
        [p.tier for _, p in predictions],
        # As JSON text: a list of lists would be read as a two-dimensional array.
        [
            orjson.dumps(
                [{"feature": f.feature, "contribution": f.contribution} for f in p.factors]
            ).decode()
            for _, p in predictions
        ],
        now,
    )


async def load_opportunities(conn: asyncpg.Connection, tenant_id: str) -> list[OpportunityHistory]:
    """Every opportunity of the tenant with its stage changes, for the forecast."""
    stages: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for r in await conn.fetch(
        """
        SELECT occurred_at, properties->>'opportunity_id' AS opportunity_id,
               properties->>'stage' AS stage
        FROM events
        WHERE tenant_id = $1 AND type = ANY($2::text[]) AND properties ? 'stage'
        ORDER BY occurred_at, seq
        """,
        tenant_id,
        ["opportunity_created", "opportunity_stage_changed"],
    ):
        stages[r["opportunity_id"]].append((r["occurred_at"], r["stage"]))
    return [
        OpportunityHistory(
            opportunity_id=r["opportunity_id"],
            amount=float(r["amount"]),
            created_at=r["created_at"],
            stages=tuple(stages.get(r["opportunity_id"], ())),
            closed_at=r["closed_at"] if r["status"] != "OPEN" else None,
            won=r["status"] == "WON",
            won_amount=None if r["won_amount"] is None else float(r["won_amount"]),
        )
        for r in await conn.fetch(
            "SELECT opportunity_id, amount, status, created_at, closed_at, won_amount"
            " FROM opportunities WHERE tenant_id = $1",
            tenant_id,
        )
    ]
