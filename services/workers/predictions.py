"""Stream step: the predicted probability of each lead that changed (SPEC 18).

Runs in the batch's transaction right after the lead rows are replaced, so a lead's
prediction is as fresh as its stage and score, and a replay writes the same row. Per batch
the step costs one version lookup for all its tenants and, per tenant with a model, one
account query; per lead, one dot product over the
features of its first 14 days and last 30 days of activity (bisected, not its whole
history).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Final

import asyncpg

from shared.domain.events import MARKETING_TOUCHES
from shared.domain.journey import LeadState, Stage
from shared.domain.predictive import (
    RECENT,
    AccountContext,
    LeadHistory,
    LinearModel,
    cutoff,
    features,
)
from shared.locks import Key
from shared.prediction_store import current_versions, load_model, upsert_predictions

_LOST: Final = frozenset({Stage.CLOSED_LOST, Stage.DISQUALIFIED})


class Predictions:
    """The step, with each tenant's current model cached: every batch reads the current
    version of its tenants' models (one statement for the whole batch), and a model is
    loaded again only when a new version was stored, so the next batch after training uses
    it. Tenants without a model cost nothing more."""

    def __init__(self) -> None:
        self._models: dict[str, LinearModel] = {}

    async def write(
        self, conn: asyncpg.Connection, states: Mapping[Key, LeadState], now: datetime
    ) -> None:
        """Predicts and stores every given lead of a tenant that has a model."""
        by_tenant: dict[str, dict[str, LeadState]] = defaultdict(dict)
        for (tenant_id, lead_id), state in states.items():
            by_tenant[tenant_id][lead_id] = state
        versions = await current_versions(conn, sorted(by_tenant))
        for tenant_id, leads in by_tenant.items():
            version = versions.get(tenant_id)
            if version is None:
                self._models.pop(tenant_id, None)
                continue
            model = self._models.get(tenant_id)
            if model is None or model.version != version:
                model = self._models[tenant_id] = await load_model(conn, tenant_id, version)
            await _predict(conn, tenant_id, model, leads, now)


async def _predict(
    conn: asyncpg.Connection,
    tenant_id: str,
    model: LinearModel,
    states: Mapping[str, LeadState],
    now: datetime,
) -> None:
    accounts = await _account_contexts(conn, tenant_id, list(states), now)
    predictions = []
    for lead_id, state in states.items():
        history = history_of(state)
        if history is None:
            continue
        cut = cutoff(history, max(now, state.last_event_at or now))
        x = features(history, cut, accounts.get(lead_id, AccountContext()))
        predictions.append((lead_id, model.predict(x)))
    await upsert_predictions(conn, tenant_id, model.version, predictions, now)


def history_of(state: LeadState) -> LeadHistory | None:
    """A folded lead as the features read it. The fold keeps only the current traits, so
    they stand for the traits at the cut-off too."""
    if state.created_at is None:
        return None
    lost_at = next((t.at for t in state.transitions if t.to_stage in _LOST), None)
    return LeadHistory(
        state.created_at,
        state.touches,
        ((state.created_at, state.traits),),
        state.customer_at,
        lost_at,
    )


async def _account_contexts(
    conn: asyncpg.Connection, tenant_id: str, lead_ids: list[str], now: datetime
) -> dict[str, AccountContext]:
    """Each lead's account now: its members, and the touches of its other members in the
    last 30 days (through the events index on lead and time)."""
    rows = await conn.fetch(
        """
        SELECT me.lead_id,
               (SELECT count(*) FROM account_members m
                WHERE m.tenant_id = $1 AND m.account_id = me.account_id) AS members,
               (SELECT count(*) FROM account_members m
                JOIN events e ON e.tenant_id = $1 AND e.lead_id = m.lead_id
                    AND e.occurred_at > $3 AND e.occurred_at <= $4
                    AND e.type = ANY($5::text[])
                WHERE m.tenant_id = $1 AND m.account_id = me.account_id
                    AND m.lead_id <> me.lead_id) AS touches
        FROM account_members me
        WHERE me.tenant_id = $1 AND me.lead_id = ANY($2::text[])
        """,
        tenant_id,
        lead_ids,
        now - RECENT,
        now,
        sorted(MARKETING_TOUCHES),
    )
    return {r["lead_id"]: AccountContext(r["members"], r["touches"]) for r in rows}
