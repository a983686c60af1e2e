"""Attribution reports (SPEC 5): credit rows grouped by channel, campaign, content or
message, over the conversions of a period."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

import asyncpg
import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import AttributionKind, AttributionModel
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.periods import From, period_query
from shared.config_store import current_config
from shared.data_driven import CREDITS_WITH_DATA_DRIVEN
from shared.domain.attribution import NONE_KEY, UNATTRIBUTED


@strawberry.enum
class AttributionGroup(Enum):
    CHANNEL = "CHANNEL"
    CAMPAIGN = "CAMPAIGN"
    CONTENT = "CONTENT"
    MESSAGE = "MESSAGE"


# The only way a group reaches the SQL text: a fixed column per enum member.
GROUP_COLUMNS: dict[AttributionGroup, str] = {
    AttributionGroup.CHANNEL: "channel",
    AttributionGroup.CAMPAIGN: "campaign_id",
    AttributionGroup.CONTENT: "content_id",
    AttributionGroup.MESSAGE: "message_id",
}


def key_expression(group: AttributionGroup) -> str:
    return (
        f"CASE WHEN touch_event_id IS NULL THEN '{UNATTRIBUTED}'"
        f" ELSE coalesce({GROUP_COLUMNS[group]}, '{NONE_KEY}') END"
    )


@strawberry.type
class AttributionRow:
    key: str = strawberry.field(
        description=f"the channel, campaign, content or message id; `{NONE_KEY}` when the "
        f"touch had none, `{UNATTRIBUTED}` for conversions without an eligible touch"
    )
    credit: float = strawberry.field(
        description="sum of the fractions: conversions credited, weighted"
    )
    amount: float = strawberry.field(description="sum of the credited amounts")


@strawberry.type
class ModelCredit:
    model: AttributionModel
    credit: float
    amount: float


@strawberry.type(description="A key's credit under one of the tenant's custom models")
class CustomModelCredit:
    model: str = strawberry.field(description="the custom model's name")
    credit: float
    amount: float


@strawberry.type(description="One key's credit under every model, side by side")
class AttributionComparisonRow:
    key: str
    models: list[ModelCredit] = strawberry.field(
        description="the built-in models, DATA_DRIVEN included"
    )
    custom_models: list[CustomModelCredit] = strawberry.field(
        description="the tenant's custom models, in the order of its configuration"
    )


def credit_query(model_type: type[AttributionModel] | type[str], description: str) -> Any:
    """The credit of the conversions in [from, to) under one model, grouped: a built-in one
    when `model_type` is AttributionModel, or one of the tenant's custom models by its name
    when it is str."""

    async def resolve(
        info: Info,
        model: AttributionModel | str,
        kind: AttributionKind,
        group_by: AttributionGroup,
        from_: From,
        to: datetime,
    ) -> list[AttributionRow]:
        def named(custom: list[str]) -> list[str]:
            if isinstance(model, AttributionModel):
                return [model.value]
            if model in custom:
                return [model]
            raise bad_input(f"no custom model named {model}", [("model", "no such custom model")])

        rows, _ = await credit_sums(info, named, kind, group_by, (from_, to))
        return [AttributionRow(key=r["key"], credit=r["credit"], amount=r["amount"]) for r in rows]

    # Built for each kind of model, so the schema's type of `model` is `model_type`.
    resolve.__annotations__["model"] = model_type
    return period_query(description)(resolve)


@strawberry.type
class AttributionQueries:
    attribution = credit_query(
        AttributionModel,
        "Credit of the conversions in [from, to), grouped; largest amount first. "
        "Keys that took part with zero credit are listed with 0.",
    )
    custom_attribution = credit_query(
        str,
        "`attribution` under one of the tenant's custom models, by its name "
        "(see tenantConfig.attributionModels)",
    )

    @period_query("The attribution of [from, to) under every model at once, by key")
    async def attribution_comparison(
        self,
        info: Info,
        kind: AttributionKind,
        group_by: AttributionGroup,
        from_: From,
        to: datetime,
    ) -> list[AttributionComparisonRow]:
        rows, custom = await credit_sums(info, _every_model, kind, group_by, (from_, to))
        return compare(rows, custom)


def _every_model(custom: list[str]) -> list[str]:
    return [m.value for m in AttributionModel] + custom


async def credit_sums(
    info: Info,
    models: Callable[[list[str]], list[str]],
    kind: AttributionKind,
    group_by: AttributionGroup,
    period: tuple[datetime, datetime],
) -> tuple[list[asyncpg.Record], list[str]]:
    """Per model and key, the credit and amount of the conversions in the `period` under
    the models `models` picks from the tenant's custom ones, largest amount first; and those
    custom models, in the order of the tenant's configuration, read in the same transaction."""
    sql = f"""
        SELECT model, {key_expression(group_by)} AS key,
               sum(fraction) AS credit, sum(amount) AS amount
        FROM {CREDITS_WITH_DATA_DRIVEN}
        WHERE tenant_id = $1 AND model = ANY($2) AND kind = $3
          AND converted_at >= $4 AND converted_at < $5
        GROUP BY 1, 2
        ORDER BY amount DESC, credit DESC, key
    """
    ctx = info.context
    async with ctx.tx() as conn:
        _, config = await current_config(conn, ctx.tenant_id)
        custom = [m.name for m in config.attribution_models]
        names = models(custom)
        rows = await conn.fetch(sql, ctx.tenant_id, names, kind.value, *period)
    return list(rows), custom


def compare(rows: Iterable[Any], custom: Sequence[str] = ()) -> list[AttributionComparisonRow]:
    """Pivots rows of (model, key, credit, amount) to one row per key that lists every model,
    the built-in ones then the `custom` ones, with zeros where a model gave the key nothing."""
    by_key: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    for row in rows:
        by_key[row["key"]][row["model"]] = (float(row["credit"]), float(row["amount"]))
    out = []
    for key, credits in sorted(by_key.items()):
        models = []
        for model in AttributionModel:
            credit, amount = credits.get(model.value, (0.0, 0.0))
            models.append(ModelCredit(model=model, credit=credit, amount=amount))
        custom_models = []
        for name in custom:
            credit, amount = credits.get(name, (0.0, 0.0))
            custom_models.append(CustomModelCredit(model=name, credit=credit, amount=amount))
        out.append(AttributionComparisonRow(key=key, models=models, custom_models=custom_models))
    return out
