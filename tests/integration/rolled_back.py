"""The worker's storage inside one test transaction that is rolled back at the end."""

from __future__ import annotations

from typing import Any

import asyncpg


class Rollback(Exception):
    """Raised at the end of a test's transaction to undo everything it wrote."""


class OneConnection:
    """Stands in for the worker's pool: every transaction the worker opens becomes a
    savepoint inside the test's own transaction, which is rolled back at the end."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    def acquire(self) -> OneConnection:
        return self

    async def __aenter__(self) -> asyncpg.Connection:
        return self._conn

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return list(await self._conn.fetch(query, *args))
