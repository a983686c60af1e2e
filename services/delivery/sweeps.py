"""The delivery service's sweeps. action_item.due: open action items whose due date has
passed, once per item and due date (a moved due date is a new reminder), for tenants with a
webhook that wants them. review.wins: the wins of the week that ended, once per week,
likewise. Retention: finished deliveries older than the retention period (30 days by
default) are purged with their attempts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import asyncpg

from services.delivery import store
from services.delivery.events import EventType, Occurrence, from_action_item, from_wins
from services.delivery.record import record_tenant
from shared.db import tenant_fetch, tenant_tx
from shared.domain.review import week_bounds
from shared.wins_store import wins_of_week


async def due_action_items(
    pool: asyncpg.Pool, tenant_id: str, today: date, now: datetime
) -> list[Occurrence]:
    rows = await tenant_fetch(
        pool,
        tenant_id,
        "SELECT action_item_id, title, owner, team, due_date, status, week_start"
        " FROM action_items WHERE tenant_id = $1 AND due_date < $2::date"
        " AND status IN ('OPEN', 'IN_PROGRESS') ORDER BY due_date, action_item_id",
        today,
    )
    return [
        from_action_item(
            tenant_id,
            {
                "id": r["action_item_id"],
                "title": r["title"],
                "owner": r["owner"],
                "team": r["team"],
                "due_date": r["due_date"].isoformat(),
                "status": r["status"],
                "week_start": r["week_start"].isoformat(),
            },
            now,
        )
        for r in rows
    ]


async def sweep_action_items(pool: asyncpg.Pool, public_url: str, today: date) -> int:
    """`today` is the business date (the clock tests pin); the reminder itself happens now,
    after any webhook that exists, so every subscriber hears of every overdue item."""
    now = datetime.now(UTC)
    recorded = 0
    for tenant_id in await store.webhook_tenants(pool, EventType.ACTION_ITEM_DUE.value):
        found = await due_action_items(pool, tenant_id, today, now)
        if found:
            recorded += await record_tenant(pool, tenant_id, found, public_url=public_url, now=now)
    return recorded


# Deliveries deleted per statement: a purge never holds many rows' locks at once.
PURGE_BATCH = 5_000


async def purge_delivery_logs(pool: asyncpg.Pool, retention_days: float, now: datetime) -> int:
    """Deletes the finished deliveries (and their attempts) completed more than
    `retention_days` ago, in batches; returns how many went."""
    before = now - timedelta(days=retention_days)
    purged = 0
    while True:
        gone = int(
            await pool.fetchval("SELECT tandem_purge_delivery_logs($1, $2)", before, PURGE_BATCH)
        )
        purged += gone
        if gone < PURGE_BATCH:
            return purged


class WinsSweep:
    """Announces each tenant's wins once the week is over. A week announced by this process
    is not read again; after a restart the event id keeps a second delivery from being made."""

    def __init__(self) -> None:
        self._announced: set[tuple[str, date]] = set()

    async def sweep(self, pool: asyncpg.Pool, public_url: str, today: date) -> int:
        week = today - timedelta(days=today.weekday() + 7)  # the Monday of last week
        start, end = week_bounds(week)
        now = datetime.now(UTC)
        recorded = 0
        for tenant_id in await store.webhook_tenants(pool, EventType.REVIEW_WINS.value):
            if (tenant_id, week) in self._announced:
                continue
            async with tenant_tx(pool, tenant_id) as conn:
                wins = await wins_of_week(conn, tenant_id, start, end)
            found = [from_wins(tenant_id, week.isoformat(), dataclasses.asdict(wins), now)]
            recorded += await record_tenant(pool, tenant_id, found, public_url=public_url, now=now)
            self._announced.add((tenant_id, week))
        return recorded
