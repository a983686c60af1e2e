"""Predictive scoring and the revenue forecast (SPEC 18): the model card (the model against
the tenant's rules), a retrain for admins, the rules proposed from the model in the inputs
of `updateIcp` / `updateScoringModel`, and the forecast with its backtest.
`Lead.prediction` and `leads(orderBy: PREDICTED_DESC)` are served with the Lead node."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Any, cast

import asyncpg
import strawberry
from strawberry.scalars import JSON

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.permissions import admin_field, admin_mutation, read_field
from services.gateway.graphql.nodes.lead import camel_keys
from shared.domain.forecast import backtest, forecast
from shared.domain.predictive import MIN_LABELLED, MIN_POSITIVES, LinearModel
from shared.prediction_store import load_opportunities
from shared.predictive_models import train_tenant

MAX_HORIZON_DAYS = 730
MODEL_FACTORS = 25


@strawberry.enum(description="Whether the tenant has a model it can use")
class ModelStatus(Enum):
    READY = "READY"
    INSUFFICIENT_DATA = strawberry.enum_value(
        "INSUFFICIENT_DATA",
        description=f"fewer than {MIN_LABELLED} labelled leads or {MIN_POSITIVES} customers",
    )
    NOT_TRAINED = strawberry.enum_value("NOT_TRAINED", description="no training has run yet")


@strawberry.type(description="Leads whose predicted probability fell in one tenth of 0 to 1")
class CalibrationBucket:
    predicted: float = strawberry.field(description="their mean predicted probability")
    actual: float = strawberry.field(description="the share of them that became customers")
    leads: int


@strawberry.type(description="A feature the model weighs, in words")
class ModelFactor:
    feature: str
    weight: float = strawberry.field(
        description="log-odds per standard deviation of the feature; positive raises the "
        "probability"
    )


@strawberry.type(
    description="The tenant's predictive lead model, evaluated on its newest 20 % of labelled "
    "leads next to the tenant's own rules"
)
class PredictiveModel:
    status: ModelStatus
    version: int | None
    trained_at: datetime | None
    labelled_leads: int = strawberry.field(description="leads won, lost or 90 days old")
    positives: int = strawberry.field(description="of those, customers within 90 days")
    auc: float | None = strawberry.field(description="the model's AUC on the holdout")
    brier: float | None = strawberry.field(description="the model's Brier score on the holdout")
    rules_auc: float | None = strawberry.field(
        description="the AUC of the current rule score (fit + engagement) on the same leads"
    )
    calibration: list[CalibrationBucket]
    factors: list[ModelFactor] = strawberry.field(
        description="the largest weights of the model in use, largest effect first"
    )


@strawberry.type(description="Rules derived from the model, for admins to review and apply")
class ScoringProposal:
    model_version: int
    icp: JSON = strawberry.field(description="an `updateIcp` input: { fitRules }")
    scoring_model: JSON = strawberry.field(
        description="an `updateScoringModel` input: { engagementRules }"
    )
    expected_auc: float | None = strawberry.field(
        description="the AUC these rules would have had on the model's holdout leads"
    )


@strawberry.type
class StageForecast:
    stage: str
    open_opportunities: int
    open_amount: float
    win_probability: float = strawberry.field(
        description="of the stage's open amount, the share expected to be won in the horizon"
    )
    expected_revenue: float


@strawberry.type
class StageProbability:
    stage: str
    probability: float = strawberry.field(
        description="of an open opportunity in this stage being won within the horizon"
    )
    opportunities: int = strawberry.field(
        description="weekly observations it was learned from; 0 for the fixed fallback"
    )


@strawberry.type
class BacktestWeek:
    as_of: datetime
    forecast: float
    actual: float = strawberry.field(description="revenue the open opportunities then won")


@strawberry.type(description="Forecasts made in past weeks against what was then won")
class ForecastBacktest:
    weeks: list[BacktestWeek]
    mape: float | None = strawberry.field(
        description="mean absolute percentage error over the weeks with revenue (0.1 = 10 %)"
    )


@strawberry.type(description="Revenue expected from the open opportunities within the horizon")
class Forecast:
    horizon_days: int
    expected_revenue: float
    low: float = strawberry.field(description="lower end of the 80 % interval")
    high: float = strawberry.field(description="upper end of the 80 % interval")
    learned: bool = strawberry.field(
        description="false: fewer than 30 closed opportunities, fixed stage probabilities"
    )
    by_stage: list[StageForecast]
    stage_probabilities: list[StageProbability]
    backtest: ForecastBacktest


_MODEL_COLUMNS = (
    "version, status, trained_at, labelled_leads, positives, auc, brier, rules_auc, calibration"
)


async def _latest(conn: asyncpg.Connection, tenant_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_MODEL_COLUMNS} FROM predictive_models WHERE tenant_id = $1"
        " ORDER BY version DESC LIMIT 1",
        tenant_id,
    )
    return row


async def _in_use(conn: asyncpg.Connection, tenant_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT version, model, proposal FROM predictive_models"
        " WHERE tenant_id = $1 AND status = 'READY' ORDER BY version DESC LIMIT 1",
        tenant_id,
    )
    return row


async def _model_card(info: Info) -> PredictiveModel:
    scope = info.context.scope
    latest = await scope.run(_latest)
    if latest is None:
        return PredictiveModel(
            status=ModelStatus.NOT_TRAINED,
            version=None,
            trained_at=None,
            labelled_leads=0,
            positives=0,
            auc=None,
            brier=None,
            rules_auc=None,
            calibration=[],
            factors=[],
        )
    in_use = await scope.run(_in_use)
    factors = []
    if in_use is not None:
        model = LinearModel.from_dict(in_use["model"])
        factors = [
            ModelFactor(feature=f, weight=w) for f, w in model.weights_in_words()[:MODEL_FACTORS]
        ]
    return PredictiveModel(
        status=ModelStatus(latest["status"]),
        version=latest["version"],
        trained_at=latest["trained_at"],
        labelled_leads=latest["labelled_leads"],
        positives=latest["positives"],
        auc=latest["auc"],
        brier=latest["brier"],
        rules_auc=latest["rules_auc"],
        calibration=[CalibrationBucket(**b) for b in latest["calibration"]],
        factors=factors,
    )


def _as_input(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored rules (snake_case, unset keys as null) as the GraphQL inputs take them."""
    return [{k: v for k, v in item.items() if v is not None} for item in camel_keys(rules)]


@strawberry.type
class PredictionQueries:
    @read_field("The predictive lead model card: status, holdout evaluation, weights")
    async def predictive_model(self, info: Info) -> PredictiveModel:
        return await _model_card(info)

    @admin_field(
        "Fit rules and engagement points derived from the current model, in the inputs of "
        "updateIcp and updateScoringModel; null until a model is trained"
    )
    async def scoring_proposal(self, info: Info) -> ScoringProposal | None:
        row = await info.context.scope.run(_in_use)
        if row is None or row["proposal"] is None:
            return None
        proposal = row["proposal"]
        return ScoringProposal(
            model_version=row["version"],
            icp=cast(JSON, {"fitRules": _as_input(proposal["fit_rules"])}),
            scoring_model=cast(JSON, {"engagementRules": _as_input(proposal["engagement_rules"])}),
            expected_auc=proposal["expected_auc"],
        )

    @read_field(
        "Revenue expected from the open opportunities within `horizonDays` (1 to 730), by "
        "stage, with an 80 % interval and a 12-week backtest"
    )
    async def forecast(self, info: Info, horizon_days: int = 90) -> Forecast:
        if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
            raise bad_input(
                f"horizonDays must be between 1 and {MAX_HORIZON_DAYS}, got {horizon_days}",
                [("horizonDays", "out of range")],
            )
        ctx = info.context
        opportunities = await ctx.scope.run(load_opportunities)
        horizon = timedelta(days=horizon_days)
        now = ctx.now()
        result = forecast(opportunities, now, horizon)
        tested = backtest(opportunities, now, horizon)
        return Forecast(
            horizon_days=horizon_days,
            expected_revenue=result.expected_revenue,
            low=result.low,
            high=result.high,
            learned=result.learned,
            by_stage=[StageForecast(**vars_of(s)) for s in result.by_stage],
            stage_probabilities=[
                StageProbability(**vars_of(s)) for s in result.stage_probabilities
            ],
            backtest=ForecastBacktest(
                weeks=[BacktestWeek(**vars_of(w)) for w in tested.weeks], mape=tested.mape
            ),
        )


def vars_of(item: Any) -> dict[str, Any]:
    """A slotted dataclass's fields by name."""
    return {name: getattr(item, name) for name in item.__slots__}


@strawberry.type
class PredictionMutations:
    @admin_mutation(
        "Train the tenant's predictive model now (it also retrains nightly) and re-score its "
        "leads; returns the new model card"
    )
    async def train_predictive_model(self, info: Info) -> PredictiveModel:
        ctx = info.context
        await train_tenant(ctx.pool, ctx.tenant_id, ctx.now())
        return await _model_card(info)
