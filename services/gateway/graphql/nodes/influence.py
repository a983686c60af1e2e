"""Influence of a message or content item (SPEC 8): its attributed pipeline and revenue
(SPEC 5) under one model, and the win rate of closed opportunities whose lead consumed it
before the close versus those whose lead did not."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader

from services.gateway.graphql.core.loaders import LoaderScope
from shared.domain.review import rate

Target = Literal["message", "content"]

# A lead consumed a content item through a touch naming it or a content_shared naming it
# in its properties; a message only through a touch naming it.
_CONSUMED = {
    "message": "e.message_id = ids.id",
    "content": "(e.content_id = ids.id OR e.properties->>'content_id' = ids.id)",
}
_CREDIT_COLUMN = {"message": "message_id", "content": "content_id"}


@strawberry.type
class Influence:
    pipeline: float = strawberry.field(description="attributed pipeline amount (all time)")
    revenue: float = strawberry.field(description="attributed revenue amount (all time)")
    won_with: int = strawberry.field(description="won deals whose lead consumed it first")
    lost_with: int
    won_without: int = strawberry.field(description="won deals whose lead had not consumed it")
    lost_without: int

    @strawberry.field(description="win rate of deals whose lead consumed it; null if none")
    def win_rate_with(self) -> float | None:
        return rate(self.won_with, self.won_with + self.lost_with)

    @strawberry.field(description="win rate of the other closed deals; null if none")
    def win_rate_without(self) -> float | None:
        return rate(self.won_without, self.won_without + self.lost_without)


InfluenceLoader = DataLoader[tuple[str, str], Influence]


def influence_loader(scope: LoaderScope, target: Target) -> InfluenceLoader:
    """Batches the influence of one page of items, keyed by (item id, attribution model)."""
    tenant_id = scope.tenant_id

    async def load(keys: Sequence[tuple[str, str]]) -> list[Influence]:
        by_model: dict[str, list[str]] = {}
        for item_id, model in keys:
            by_model.setdefault(model, []).append(item_id)
        found: dict[tuple[str, str], Influence] = {}
        async with scope.tx() as conn:
            for model, ids in by_model.items():
                for item_id, influence in (
                    await _influence(conn, tenant_id, target, model, ids)
                ).items():
                    found[(item_id, model)] = influence
        return [found[key] for key in keys]

    return DataLoader(load_fn=load, cache=scope.cache)


async def _influence(
    conn: asyncpg.Connection, tenant_id: str, target: Target, model: str, ids: list[str]
) -> dict[str, Influence]:
    column = _CREDIT_COLUMN[target]
    credits = await conn.fetch(
        f"SELECT {column} AS id, kind, sum(amount) AS amount FROM attribution_credits"
        f" WHERE tenant_id = $1 AND model = $2 AND {column} = ANY($3::text[]) GROUP BY 1, 2",
        tenant_id,
        model,
        ids,
    )
    outcomes = await conn.fetch(
        f"""
        SELECT ids.id, c.status, consumed, count(*) AS n
        FROM unnest($2::text[]) AS ids(id)
        CROSS JOIN (
            SELECT lead_id, status, closed_at FROM opportunities
            WHERE tenant_id = $1 AND status IN ('WON', 'LOST')
        ) c
        CROSS JOIN LATERAL (
            SELECT EXISTS (
                SELECT 1 FROM events e
                WHERE e.tenant_id = $1 AND e.lead_id = c.lead_id
                  AND e.occurred_at <= c.closed_at AND {_CONSUMED[target]}
            ) AS consumed
        ) x
        GROUP BY 1, 2, 3
        """,
        tenant_id,
        ids,
    )
    amounts: dict[tuple[str, str], float] = {
        (r["id"], r["kind"]): float(r["amount"]) for r in credits
    }
    counts: dict[tuple[str, str, bool], int] = {
        (r["id"], r["status"], r["consumed"]): int(r["n"]) for r in outcomes
    }
    return {
        item_id: Influence(
            pipeline=amounts.get((item_id, "PIPELINE"), 0.0),
            revenue=amounts.get((item_id, "REVENUE"), 0.0),
            won_with=counts.get((item_id, "WON", True), 0),
            lost_with=counts.get((item_id, "LOST", True), 0),
            won_without=counts.get((item_id, "WON", False), 0),
            lost_without=counts.get((item_id, "LOST", False), 0),
        )
        for item_id in ids
    }
