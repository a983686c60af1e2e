"""Loaders that read the rows of a batch of keys in one query, however many fields of a
response ask for them: the lead and account nodes' loaders are made of these."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from strawberry.dataloader import DataLoader

from services.gateway.graphql.core.loaders import LoaderScope


@dataclass
class BatchLoaders:
    """A request's loaders by key: each reads the `columns` of the tenant's rows of a
    `table` whose `key` column holds one of a batch's keys, in one query."""

    scope: LoaderScope

    async def _fetch(
        self, table: str, columns: str, key: str, keys: Sequence[str], order: str = ""
    ) -> list[asyncpg.Record]:
        rows = await self.scope.fetch(
            f"SELECT {columns} FROM {table}"
            f" WHERE tenant_id = $1 AND {key} = ANY($2::text[]){order}",
            list(keys),
        )
        return list(rows)

    def row_by_key(
        self, table: str, columns: str, key: str
    ) -> DataLoader[str, asyncpg.Record | None]:
        """The row of each key, or None."""

        async def load(keys: Sequence[str]) -> list[asyncpg.Record | None]:
            found = {row[key]: row for row in await self._fetch(table, columns, key, keys)}
            return [found.get(k) for k in keys]

        return DataLoader(load, cache=self.scope.cache)

    def rows_by_key(
        self, table: str, columns: str, key: str, order: str
    ) -> DataLoader[str, list[asyncpg.Record]]:
        """The rows of each key, in `order` (an ORDER BY that starts with `key`)."""

        async def load(keys: Sequence[str]) -> list[list[asyncpg.Record]]:
            found: dict[str, list[asyncpg.Record]] = defaultdict(list)
            for row in await self._fetch(table, columns, key, keys, f" ORDER BY {order}"):
                found[row[key]].append(row)
            return [found.get(k, []) for k in keys]

        return DataLoader(load, cache=self.scope.cache)
