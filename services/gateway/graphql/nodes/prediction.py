"""A lead's predicted probability of becoming a customer (SPEC 18), the field every domain
that returns a Lead serves: read through one loader per request."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader

from services.gateway.graphql.core.batch import BatchLoaders
from services.gateway.graphql.core.context import Info


@strawberry.type(description="A feature of the lead and how far it moved the prediction")
class PredictionFactor:
    feature: str = strawberry.field(
        description='in words, e.g. "industry = fintech", "webinars in first 14 days"'
    )
    contribution: float = strawberry.field(
        description="log-odds against the tenant's average lead: positive raises the "
        "probability, negative lowers it"
    )


@strawberry.type(description="The tenant's model's prediction for a lead, as fresh as the lead")
class LeadPrediction:
    probability: float = strawberry.field(
        description="of becoming a customer within 90 days of creation, 0 to 1"
    )
    percentile: int = strawberry.field(
        description="share of the tenant's leads predicted lower, 0 to 99"
    )
    tier: int = strawberry.field(description="1 (top quartile) to 4 (bottom quartile)")
    factors: list[PredictionFactor] = strawberry.field(
        description="the five features that moved this lead most, largest first"
    )
    model_version: int


@dataclass
class PredictionLoaders(BatchLoaders):
    predictions: DataLoader[str, asyncpg.Record | None] = field(init=False)

    def __post_init__(self) -> None:
        self.predictions = self.row_by_key(
            "lead_predictions",
            "lead_id, probability, percentile, tier, factors, model_version",
            "lead_id",
        )


async def prediction_of_lead(info: Info, lead_id: str) -> LeadPrediction | None:
    row = await info.context.loaders.of(PredictionLoaders).predictions.load(lead_id)
    if row is None:
        return None
    return LeadPrediction(
        probability=row["probability"],
        percentile=row["percentile"],
        tier=row["tier"],
        factors=[PredictionFactor(**f) for f in row["factors"]],
        model_version=row["model_version"],
    )
