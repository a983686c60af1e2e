"""A new event writes the rows it changes, so its cost does not grow with the lead's
history (SPEC 12): a touch on a lead with an opportunity and thousands of touches writes
what the same touch writes on a lead with ten, and the rows it leaves are the ones a fold
of the whole history gives.

The worker's projection runs against the real PostgreSQL as the application role, in one
transaction that is rolled back; what each batch wrote is read from PostgreSQL's own
per-transaction row counters (`pg_stat_xact_user_tables`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from services.workers import store
from services.workers.configs import TenantConfigs
from services.workers.lead_cache import LeadCache
from services.workers.project import LeadChange, LeadProjector
from shared.domain.accounts import MEMBER_ENGAGEMENT_CAP
from shared.domain.config import TenantConfig
from tests.conftest import RUN_ID
from tests.integration.rolled_back import (
    OneConnection,
    as_committed,
    rolled_back_tenants,
    worker_pool,
)
from tests.worked_example import icp_config

TENANT = f"history-{RUN_ID}"
START = datetime(2026, 9, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SHORT, LONG = "lead-short", "lead-long"
LONG_TOUCHES = 2_000
READ_MODEL = ("events", "leads", "stage_transitions", "opportunities", "attribution_credits")


@pytest.fixture(scope="module")
async def app_pool() -> AsyncIterator[asyncpg.Pool]:
    async with worker_pool() as pool:
        yield pool


def _event(lead: str, n: int, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"{lead}-{n:05d}",
        "tenant_id": TENANT,
        "type": kind,
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
        "lead_id": lead,
        **fields,
    }


def _touch(lead: str, n: int, at: datetime) -> dict[str, Any]:
    channel = ("email", "paid_search", "organic", "webinar")[n % 4]
    return _event(lead, n, "page_view", at, channel=channel, campaign_id=f"c{n % 3}")


def _history(lead: str, touches: int) -> list[dict[str, Any]]:
    """`touches` page views, one a minute, then an opportunity."""
    events = [_touch(lead, n, START + timedelta(minutes=n)) for n in range(touches)]
    opened = START + timedelta(minutes=touches)
    events.append(
        _event(
            lead,
            touches,
            "opportunity_created",
            opened,
            properties={"opportunity_id": f"{lead}-opp", "amount": 10_000},
        )
    )
    return events


async def _rows_written(
    conn: asyncpg.Connection, tables: tuple[str, ...] = READ_MODEL
) -> dict[str, int]:
    """Rows inserted, updated or deleted so far in this transaction, per table."""
    rows = await conn.fetch(
        "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS n FROM pg_stat_xact_user_tables"
        " WHERE schemaname = 'public' AND relname = ANY($1::text[])",
        list(tables),
    )
    counts = dict.fromkeys(tables, 0)
    counts.update({r["relname"]: r["n"] for r in rows})
    return counts


async def _derived_rows(conn: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every derived row of the tenant; of a lead, all but `last_seq`, which only rises
    with each write of the row."""
    out = {}
    for table in (store.LEADS, store.TRANSITIONS, store.OPPORTUNITIES, store.CREDITS):
        columns = ", ".join(c for c in table.columns if c != "last_seq")
        rows = await conn.fetch(f"SELECT {columns} FROM {table.name} WHERE tenant_id = $1", TENANT)
        out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


class _Run:
    def __init__(self, conn: asyncpg.Connection, projector: LeadProjector) -> None:
        self.conn = conn
        self.projector = projector
        self.published: list[LeadChange] = []

    async def publish(self, changes: list[LeadChange]) -> None:
        self.published.extend(changes)

    async def apply(self, events: list[dict[str, Any]]) -> dict[str, int]:
        """Projects one batch; returns the rows it wrote per table."""
        before = await _rows_written(self.conn)
        await self.projector.project_tenant(TENANT, events, self.publish)
        await as_committed(self.conn)
        after = await _rows_written(self.conn)
        return {t: after[t] - before[t] for t in READ_MODEL}


async def _in_rolled_back_tenant(pool: asyncpg.Pool, body: Any) -> None:
    config = TenantConfig.from_dict(icp_config()).to_dict()
    async with rolled_back_tenants(pool, [TENANT], config) as conn:
        one = OneConnection(conn)
        projector = LeadProjector(one, TenantConfigs(one), lambda: NOW, LeadCache(100))
        await body(_Run(conn, projector))


async def test_a_new_touch_writes_the_same_rows_whatever_the_history(
    app_pool: asyncpg.Pool,
) -> None:
    async def body(run: _Run) -> None:
        await run.apply(_history(SHORT, 10) + _history(LONG, LONG_TOUCHES))
        later = START + timedelta(days=10)
        short = await run.apply([_touch(SHORT, 90_000, later)])
        long = await run.apply([_touch(LONG, 90_000, later)])
        assert long == short
        # The event, and the lead's row; a touch after the conversion credits nothing new.
        assert long["events"] == 1
        assert long["leads"] == 1
        assert long["attribution_credits"] == 0
        assert long["opportunities"] == 0

    await _in_rolled_back_tenant(app_pool, body)


async def test_incremental_rows_are_those_of_a_fold_of_the_whole_history(
    app_pool: asyncpg.Pool,
) -> None:
    """New touches, a won deal (a new conversion crediting them), a later touch at the
    instant of the win, a late touch before the opportunity and a lost deal leave exactly the rows
    a refold of every lead from its whole history writes."""

    async def body(run: _Run) -> None:
        await run.apply(_history(SHORT, 10) + _history(LONG, 300))
        later = START + timedelta(days=10)
        for lead in (SHORT, LONG):
            await run.apply([_touch(lead, 90_000, later), _touch(lead, 90_001, later)])
        won_at = later + timedelta(days=1)
        won = await run.apply(
            [
                _event(
                    LONG,
                    90_002,
                    "deal_won",
                    won_at,
                    properties={"opportunity_id": f"{LONG}-opp", "amount": 12_000},
                ),
            ]
        )
        # The revenue conversion credits every touch up to the win under every model.
        assert won["attribution_credits"] > 300
        # A touch at the very instant of the win, in order, is one of its touches.
        tied = await run.apply([_touch(LONG, 90_003, won_at)])
        assert tied["attribution_credits"] > 300
        after = await run.apply([_touch(LONG, 90_004, won_at + timedelta(hours=1))])
        assert after["attribution_credits"] == 0
        await run.apply([_touch(SHORT, 90_005, START + timedelta(seconds=30))])  # late
        await run.apply(
            [
                _event(
                    SHORT,
                    90_006,
                    "deal_lost",
                    won_at,
                    properties={"opportunity_id": f"{SHORT}-opp", "reason": "price"},
                )
            ]
        )
        incremental = await _derived_rows(run.conn)
        await run.projector.refold(run.conn, TENANT, [SHORT, LONG])
        assert await _derived_rows(run.conn) == incremental

    await _in_rolled_back_tenant(app_pool, body)


ACCOUNT_TABLES = ("accounts", "account_members")


async def _account_rows(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        "SELECT a.*, array(SELECT lead_id FROM account_members m WHERE m.tenant_id ="
        " a.tenant_id AND m.account_id = a.account_id ORDER BY lead_id) AS member_ids"
        " FROM accounts a WHERE tenant_id = $1 ORDER BY account_id",
        TENANT,
    )
    return [tuple(r) for r in rows]


async def test_a_touch_that_leaves_the_account_as_it_is_writes_no_account_row(
    app_pool: asyncpg.Pool,
) -> None:
    """An account is computed from its members' stage, capped engagement, firmographics and
    open opportunities: a touch on a member already at the engagement cap writes none of
    its rows, a won deal (the open opportunity closes) rewrites them, and what is left is
    what recomputing every member gives."""
    recent = NOW - timedelta(days=2)

    async def body(run: _Run) -> None:
        history = (
            [
                _event(
                    LONG, n, "webinar_attended", recent + timedelta(minutes=n), channel="webinar"
                )
                for n in range(6)
            ]
            + [_touch(LONG, n, recent + timedelta(minutes=n)) for n in range(6, 200)]
            + [
                _event(
                    LONG,
                    500,
                    "opportunity_created",
                    recent + timedelta(hours=5),
                    account_id="acme",
                    properties={"opportunity_id": "acme-opp", "amount": 10_000},
                )
            ]
        )
        await run.apply(history)
        engagement = await run.conn.fetchval(
            "SELECT engagement_score FROM leads WHERE tenant_id = $1 AND lead_id = $2",
            TENANT,
            LONG,
        )
        assert engagement >= MEMBER_ENGAGEMENT_CAP
        before = await _account_rows(run.conn)
        assert [r[1] for r in before] == ["acme"]

        counted = await _rows_written(run.conn, ACCOUNT_TABLES)
        await run.apply([_touch(LONG, 501, recent + timedelta(hours=6))])
        after_touch = await _rows_written(run.conn, ACCOUNT_TABLES)
        assert after_touch == counted
        assert await _account_rows(run.conn) == before

        await run.apply(
            [
                _event(
                    LONG,
                    502,
                    "deal_won",
                    recent + timedelta(hours=7),
                    properties={"opportunity_id": "acme-opp", "amount": 12_000},
                )
            ]
        )
        after_win = await _rows_written(run.conn, ACCOUNT_TABLES)
        assert after_win["accounts"] > after_touch["accounts"]
        incremental = await _account_rows(run.conn)
        assert incremental != before

        await run.projector.refold(run.conn, TENANT, [LONG])
        assert await _account_rows(run.conn) == incremental

    await _in_rolled_back_tenant(app_pool, body)
