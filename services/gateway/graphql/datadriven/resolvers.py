"""The data-driven attribution model (SPEC 17) as an analyst inspects it: the fitted chain's
transitions and removal effects, and an on-demand refit for admins. Its credits are served
by `attribution` and `attributionComparison` under `DATA_DRIVEN`."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import math
from datetime import datetime

import strawberry

from services.gateway.graphql.core.context import Info, RequestContext
from services.gateway.graphql.core.enums import AttributionKind
from services.gateway.graphql.core.permissions import admin_mutation, read_field
from shared.data_driven import StoredModel, load_model, refresh_tenant
from shared.domain.markov import EMPTY_MODEL


@strawberry.type(description="What removing a channel from the chain costs in conversions")
class RemovalEffect:
    channel: str = strawberry.field(description="a channel, or `(none)` for touches without")
    effect: float = strawberry.field(
        description="1 - P(conversion without the channel) / P(conversion)"
    )
    share: float = strawberry.field(
        description="the effect normalised over all channels (they sum to 1; 0 if all are 0)"
    )


@strawberry.type(description="One transition of the chain, from the observed paths")
class MarkovTransition:
    from_: str = strawberry.field(
        name="from", description="`(start)` or a channel; `(none)` for touches without one"
    )
    to: str = strawberry.field(description="a channel, `(conversion)` or `(null)`")
    probability: float


@strawberry.type(description="The first-order Markov chain fitted on the tenant's paths")
class DataDrivenModel:
    kind: AttributionKind
    refreshed_at: datetime | None = strawberry.field(description="null: not fitted yet")
    paths: int = strawberry.field(description="leads with at least one touch in the path")
    conversions: int = strawberry.field(description="of those, converting paths")
    removal_effects: list[RemovalEffect]
    transitions: list[MarkovTransition]

    @classmethod
    def of(cls, kind: AttributionKind, stored: StoredModel | None) -> DataDrivenModel:
        model = EMPTY_MODEL if stored is None else stored.model
        total = math.fsum(e for _, e in model.removal_effects)
        return cls(
            kind=kind,
            refreshed_at=None if stored is None else stored.refreshed_at,
            paths=model.paths,
            conversions=model.conversions,
            removal_effects=[
                RemovalEffect(channel=c, effect=e, share=e / total if total > 0 else 0.0)
                for c, e in model.removal_effects
            ],
            transitions=[
                MarkovTransition(from_=s, to=t, probability=p) for s, t, p in model.transitions
            ],
        )

    @classmethod
    async def load(cls, ctx: RequestContext, kind: AttributionKind) -> DataDrivenModel:
        """The tenant's model of `kind` as last fitted."""
        stored = await ctx.scope.run(load_model, kind.value)
        return cls.of(kind, stored)


@strawberry.type
class DataDrivenQueries:
    @read_field(
        "The fitted data-driven model of one kind: why DATA_DRIVEN credits what "
        "it does. Refitted at least hourly."
    )
    async def data_driven_model(self, info: Info, kind: AttributionKind) -> DataDrivenModel:
        return await DataDrivenModel.load(info.context, kind)


@strawberry.type
class DataDrivenMutations:
    @admin_mutation(
        "Refits the data-driven models (both kinds, in one pass over the paths) "
        "now; answers the one of `kind`"
    )
    async def refresh_data_driven_model(self, info: Info, kind: AttributionKind) -> DataDrivenModel:
        ctx = info.context
        await refresh_tenant(ctx.pool, ctx.tenant_id, ctx.now())
        return await DataDrivenModel.load(ctx, kind)
