"""The models job of one tenant (SPEC 18), shared by `tandem models train`, the nightly
run and the `trainPredictiveModel` mutation:
  1. read every lead's history from the read model and the event log: created, won and
     lost times, marketing touches, trait changes, account membership;
  2. label the leads and read each one's features at its cut-off (shared/domain/predictive);
  3. train and evaluate (shared/learning) on a time split, next to the AUC of the tenant's
     current rules on the same holdout leads; derive a rule proposal and its holdout AUC;
  4. store the run as the tenant's next model version (INSUFFICIENT_DATA runs too, with
     their counts), then write every lead's prediction under the new model. From then on
     the workers keep predictions fresh as leads change (services/workers/predictions.py).
"""

from __future__ import annotations

import asyncio
import bisect
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg
import numpy as np

from shared.config_store import current_config
from shared.db import tenant_tx
from shared.domain.config import TenantConfig
from shared.domain.events import MARKETING_TOUCHES
from shared.domain.predictive import (
    RECENT,
    AccountContext,
    LeadHistory,
    LinearModel,
    Touch,
    complete,
    cutoff,
    features,
    label,
    propose,
    rule_score,
)
from shared.learning import (
    Example,
    Insufficient,
    Trained,
    auc,
    learning_set,
    time_split,
    train,
)
from shared.prediction_store import upsert_predictions

WRITE_CHUNK = 5000
# Other members read for one lead's account features: a committee larger than this is
# summarised by its first members, so a huge account cannot make training quadratic.
ACCOUNT_SAMPLE = 200
LOST_STAGES = ("CLOSED_LOST", "DISQUALIFIED")


@dataclass(frozen=True)
class Outcome:
    tenant_id: str
    version: int
    status: str
    labelled: int
    positives: int
    auc: float | None = None
    rules_auc: float | None = None


class _Silent:
    """Progress for a caller that shows none (the mutation)."""

    def add_task(self, description: str, total: float | None = None) -> int:
        return 0

    def update(self, task: int, **kwargs: Any) -> None:
        return None


async def train_tenant(
    pool: asyncpg.Pool, tenant_id: str, now: datetime, bar: Any = None
) -> Outcome:
    """Trains, stores and applies the tenant's next model; `bar` a rich Progress, if any."""
    bar = bar or _Silent()
    task = bar.add_task(f"{tenant_id}: reading leads", total=None)
    async with tenant_tx(pool, tenant_id) as conn:
        _, config = await current_config(conn, tenant_id)
        histories, accounts = await load_histories(conn, tenant_id)
    bar.update(task, description=f"{tenant_id}: features", total=len(histories), completed=0)
    # The CPU-bound parts run in a thread: the gateway serves other requests meanwhile
    # when an admin retrains from the dashboard.
    built = await asyncio.to_thread(_examples, histories, accounts, config, now, bar, task)
    bar.update(task, description=f"{tenant_id}: training", completed=len(histories))
    result = await asyncio.to_thread(train, built.labelled, list(built.unlabelled.values()))
    if isinstance(result, Insufficient):
        version = await _store(pool, tenant_id, now, result, None)
        bar.update(task, description=f"{tenant_id}: not enough outcomes yet")
        return Outcome(tenant_id, version, "INSUFFICIENT_DATA", result.labelled, result.positives)
    proposal = await asyncio.to_thread(_proposal, result, histories, built.cuts, config)
    version = await _store(pool, tenant_id, now, result, proposal)
    model = replace(result.model, version=version)
    bar.update(task, description=f"{tenant_id}: scoring leads")
    rows = {e.lead_id: e.features for e in built.labelled} | built.unlabelled
    await write_predictions(pool, tenant_id, model, rows, now)
    bar.update(task, description=f"{tenant_id}: model version {version} stored")
    return Outcome(
        tenant_id,
        version,
        "READY",
        result.labelled,
        result.positives,
        result.evaluation.auc,
        result.evaluation.rules_auc,
    )


@dataclass(frozen=True)
class _Examples:
    labelled: list[Example]
    unlabelled: dict[str, dict[str, float]]
    cuts: dict[str, datetime]


def _examples(
    histories: Mapping[str, LeadHistory],
    accounts: Mapping[str, str],
    config: TenantConfig,
    now: datetime,
    bar: Any,
    task: Any,
) -> _Examples:
    labelled: list[Example] = []
    cuts: dict[str, datetime] = {}
    unlabelled: dict[str, dict[str, float]] = {}
    members = _Accounts(histories, accounts)
    for i, (lead_id, history) in enumerate(histories.items()):
        cut = cutoff(history, now)
        cuts[lead_id] = cut
        x = features(history, cut, members.context(lead_id, cut))
        decided = label(history, now)
        if decided.positive is None:
            unlabelled[lead_id] = x
        else:
            labelled.append(
                Example(
                    x, decided.positive, history.created_at, 0.0, lead_id, complete(history, now)
                )
            )
        if i % 2000 == 0:
            bar.update(task, completed=i)
    # The rules' score is needed on the holdout only: the newest of the leads learned from.
    _, newest = time_split(learning_set(labelled))
    scores = {e.lead_id: rule_score(histories[e.lead_id], cuts[e.lead_id], config) for e in newest}
    labelled = [
        replace(e, rule_score=scores[e.lead_id]) if e.lead_id in scores else e for e in labelled
    ]
    return _Examples(labelled, unlabelled, cuts)


def _proposal(
    result: Trained,
    histories: Mapping[str, LeadHistory],
    cuts: Mapping[str, datetime],
    config: TenantConfig,
) -> dict[str, Any]:
    """The rules derived from the model evaluated on the holdout (trained without it), and
    the AUC those rules have on the holdout."""
    proposal = propose(result.evaluated)
    proposed = proposal.config(config)
    y = np.array([e.positive for e in result.holdout], dtype=np.float64)
    scores = np.array(
        [rule_score(histories[e.lead_id], cuts[e.lead_id], proposed) for e in result.holdout],
        dtype=np.float64,
    )
    return {
        "fit_rules": [rule.to_dict() for rule in proposal.fit_rules],
        "engagement_rules": [rule.to_dict() for rule in proposal.engagement_rules],
        "expected_auc": auc(y, scores),
    }


async def _store(
    pool: asyncpg.Pool,
    tenant_id: str,
    now: datetime,
    result: Trained | Insufficient,
    proposal: dict[str, Any] | None,
) -> int:
    """Stores the run as the tenant's next version and returns it. Runs that end at once
    (the nightly job and an admin's retrain) take their numbers one after the other."""
    if isinstance(result, Insufficient):
        values: tuple[Any, ...] = (
            "INSUFFICIENT_DATA",
            result.labelled,
            result.positives,
            None,
            None,
            None,
            [],
        )
    else:
        e = result.evaluation
        values = (
            "READY",
            result.labelled,
            result.positives,
            e.auc,
            e.brier,
            e.rules_auc,
            [
                {"predicted": b.predicted, "actual": b.actual, "leads": b.leads}
                for b in e.calibration
            ],
        )
    async with tenant_tx(pool, tenant_id) as conn:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('predictive_models:' || $1, 0))",
            tenant_id,
        )
        version: int = 1 + await conn.fetchval(
            "SELECT coalesce(max(version), 0) FROM predictive_models WHERE tenant_id = $1",
            tenant_id,
        )
        model = None if isinstance(result, Insufficient) else result.model.to_dict()
        if model is not None:
            model["version"] = version
        await conn.execute(
            """
            INSERT INTO predictive_models (tenant_id, version, trained_at, status,
                labelled_leads, positives, auc, brier, rules_auc, calibration, model, proposal)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """,
            tenant_id,
            version,
            now,
            *values,
            model,
            proposal,
        )
    return version


async def write_predictions(
    pool: asyncpg.Pool,
    tenant_id: str,
    model: LinearModel,
    rows: Mapping[str, Mapping[str, float]],
    now: datetime,
) -> None:
    """Every lead's prediction under a new model, in chunks (a lead erased meanwhile is
    skipped: its row is gone)."""
    items = list(rows.items())
    for i in range(0, len(items), WRITE_CHUNK):
        chunk = items[i : i + WRITE_CHUNK]
        predictions = [(lead_id, model.predict(x)) for lead_id, x in chunk]
        async with tenant_tx(pool, tenant_id) as conn:
            await upsert_predictions(conn, tenant_id, model.version, predictions, now)


async def load_histories(
    conn: asyncpg.Connection, tenant_id: str
) -> tuple[dict[str, LeadHistory], dict[str, str]]:
    """Every lead's history, and the account of each lead that has one."""
    leads = await conn.fetch(
        "SELECT lead_id, created_at, customer_at FROM leads WHERE tenant_id = $1", tenant_id
    )
    lost = {
        r["lead_id"]: r["at"]
        for r in await conn.fetch(
            "SELECT lead_id, min(at) AS at FROM stage_transitions"
            " WHERE tenant_id = $1 AND to_stage = ANY($2::text[]) GROUP BY lead_id",
            tenant_id,
            list(LOST_STAGES),
        )
    }
    touches: dict[str, list[Touch]] = defaultdict(list)
    traits: dict[str, list[tuple[datetime, Mapping[str, Any]]]] = defaultdict(list)
    async for r in conn.cursor(
        """
        SELECT lead_id, type, channel, occurred_at, properties->'traits' AS traits
        FROM events
        WHERE tenant_id = $1 AND lead_id IS NOT NULL AND type = ANY($2::text[])
        ORDER BY lead_id, occurred_at, seq
        """,
        tenant_id,
        [*MARKETING_TOUCHES, "identify", "lead_updated"],
        prefetch=10_000,
    ):
        if r["type"] in MARKETING_TOUCHES:
            touches[r["lead_id"]].append(Touch(r["occurred_at"], r["type"], r["channel"]))
        elif isinstance(r["traits"], Mapping) and r["traits"]:
            traits[r["lead_id"]].append((r["occurred_at"], r["traits"]))
    histories = {
        r["lead_id"]: LeadHistory(
            r["created_at"],
            tuple(touches.get(r["lead_id"], ())),
            tuple(traits.get(r["lead_id"], ())),
            r["customer_at"],
            lost.get(r["lead_id"]),
        )
        for r in leads
    }
    accounts = {
        r["lead_id"]: r["account_id"]
        for r in await conn.fetch(
            "SELECT lead_id, account_id FROM account_members WHERE tenant_id = $1", tenant_id
        )
    }
    return histories, accounts


class _Accounts:
    """Each lead's account as it was before a cut-off, read from the other members'
    histories."""

    def __init__(self, histories: Mapping[str, LeadHistory], accounts: Mapping[str, str]):
        self._histories = histories
        self._account = accounts
        self._members: dict[str, list[str]] = defaultdict(list)
        for lead_id, account_id in sorted(accounts.items()):
            if lead_id in histories and len(self._members[account_id]) < ACCOUNT_SAMPLE:
                self._members[account_id].append(lead_id)

    def context(self, lead_id: str, cut: datetime) -> AccountContext:
        account_id = self._account.get(lead_id)
        if account_id is None:
            return AccountContext()
        members = 0
        touches = 0
        for other in self._members[account_id]:
            history = self._histories[other]
            if history.created_at >= cut:
                continue
            members += 1
            if other != lead_id:
                times = history.touches
                lo = bisect.bisect_right(times, cut - RECENT, key=_when)
                hi = bisect.bisect_left(times, cut, key=_when)
                touches += max(0, hi - lo)
        return AccountContext(members, touches)


def _when(touch: Any) -> datetime:
    return touch.occurred_at  # type: ignore[no-any-return]
