"""Batch loaders: the leads, transitions and opportunities that one request asks for, each
fetched in one query however many leads the response holds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import asyncpg
from strawberry.dataloader import DataLoader

from shared.db import tenant_tx

LEAD_COLUMNS = (
    "lead_id, stage, highest_stage, fit_score, fit_grade, disqualified, engagement_score,"
    " score, matrix, created_at, engaged_at, mql_at, sql_at, opportunity_at, customer_at,"
    " account_id, first_touch_channel, traits, fit_evidence, engagement_evidence, scored_at"
)


class LeadLoaders:
    def __init__(self, pool: asyncpg.Pool, tenant_id: str, *, cache: bool = True) -> None:
        self._pool = pool
        self._tenant_id = tenant_id
        self.leads: DataLoader[str, asyncpg.Record | None] = DataLoader(
            self._load_leads, cache=cache
        )
        self.transitions: DataLoader[str, list[asyncpg.Record]] = DataLoader(
            self._load_transitions, cache=cache
        )
        self.opportunities: DataLoader[str, list[asyncpg.Record]] = DataLoader(
            self._load_opportunities, cache=cache
        )

    async def _fetch(self, sql: str, keys: Sequence[str]) -> list[asyncpg.Record]:
        async with tenant_tx(self._pool, self._tenant_id) as conn:
            return list(await conn.fetch(sql, self._tenant_id, list(keys)))

    async def _load_leads(self, keys: Sequence[str]) -> list[asyncpg.Record | None]:
        rows = await self._fetch(
            f"SELECT {LEAD_COLUMNS} FROM leads WHERE tenant_id = $1 AND lead_id = ANY($2)", keys
        )
        found = {row["lead_id"]: row for row in rows}
        return [found.get(key) for key in keys]

    async def _load_transitions(self, keys: Sequence[str]) -> list[list[asyncpg.Record]]:
        rows = await self._fetch(
            "SELECT lead_id, from_stage, to_stage, at, event_id, reason FROM stage_transitions"
            " WHERE tenant_id = $1 AND lead_id = ANY($2) ORDER BY lead_id, ordinal",
            keys,
        )
        return _grouped(rows, keys)

    async def _load_opportunities(self, keys: Sequence[str]) -> list[list[asyncpg.Record]]:
        rows = await self._fetch(
            "SELECT lead_id, opportunity_id, amount, status, stage, created_at, closed_at,"
            " won_amount, lost_reason, competitor FROM opportunities"
            " WHERE tenant_id = $1 AND lead_id = ANY($2)"
            " ORDER BY lead_id, created_at, opportunity_id",
            keys,
        )
        return _grouped(rows, keys)


def _grouped(rows: list[asyncpg.Record], keys: Sequence[str]) -> list[list[asyncpg.Record]]:
    by_lead: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_lead[row["lead_id"]].append(row)
    return [by_lead.get(key, []) for key in keys]
