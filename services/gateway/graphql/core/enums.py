"""Enums that several domains' types use: declared once, so the schema has one of each."""

from __future__ import annotations

from enum import Enum

import strawberry

from shared.domain.journey import Stage as Stage
from shared.domain.library import Status as LibraryStatus
from shared.domain.postmortem import FunnelStage as FunnelStage

__all__ = ["AttributionKind", "AttributionModel", "FunnelStage", "LibraryStatus", "Stage"]

# These GraphQL enums are the domain's own, so the API can never list a value the rules lack.
strawberry.enum(
    Stage,
    description="Journey stages; NURTURE, DISQUALIFIED, CLOSED_LOST are side stages",
)
strawberry.enum(
    LibraryStatus,
    name="LibraryStatus",
    description="DRAFT until approved; sales use APPROVED items; RETIRED is final",
)
strawberry.enum(FunnelStage, description="Top, middle or bottom of the funnel")


@strawberry.enum
class AttributionModel(Enum):
    FIRST_TOUCH = "FIRST_TOUCH"
    LAST_TOUCH = "LAST_TOUCH"
    LINEAR = "LINEAR"
    U_SHAPED = "U_SHAPED"
    W_SHAPED = "W_SHAPED"
    FULL_PATH = "FULL_PATH"
    TIME_DECAY = "TIME_DECAY"
    # A Markov chain fitted on the tenant's own paths (SPEC 17); see dataDrivenModel.
    DATA_DRIVEN = "DATA_DRIVEN"


@strawberry.enum(description="PIPELINE: credit at opportunity creation; REVENUE: at the win")
class AttributionKind(Enum):
    PIPELINE = "PIPELINE"
    REVENUE = "REVENUE"
