"""Many tenants cost no more than one (SPEC 12): the worker applies a batch of any number
of tenants in one transaction with the same set-based statements, and row-level security
still checks every row against the tenants the transaction is bound to.

Runs the worker's projection against the real PostgreSQL as the application role, in one
transaction that is rolled back; the statements of each batch are read with asyncpg's
query logger."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from services.workers.configs import TenantConfigs
from services.workers.lead_cache import LeadCache
from services.workers.project import LeadChange, LeadProjector
from shared.db import tenants_tx
from shared.domain.config import TenantConfig
from tests.conftest import RUN_ID
from tests.integration.rolled_back import (
    OneConnection,
    as_committed,
    rolled_back_tenants,
    worker_pool,
)
from tests.worked_example import icp_config

TENANTS = [f"many-{RUN_ID}-{n:02d}" for n in range(20)]
START = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
async def app_pool() -> AsyncIterator[asyncpg.Pool]:
    async with worker_pool() as pool:
        yield pool


def _journey(tenant: str, lead: str, at: datetime) -> list[tuple[str, dict[str, Any]]]:
    """An anonymous visit, the identify that stitches it, touches and an opportunity."""

    def event(n: int, kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        stamp = (at + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")
        body = {"event_id": f"{lead}-{n}", "tenant_id": tenant, "type": kind}
        return tenant, {**body, "occurred_at": stamp, **fields}

    anonymous = f"anon-{lead}"
    return [
        event(0, "page_view", anonymous_id=anonymous, channel="organic"),
        event(1, "identify", anonymous_id=anonymous, lead_id=lead, account_id=f"{lead}-acct"),
        event(2, "form_submit", lead_id=lead, channel="email", campaign_id="c1"),
        event(3, "webinar_attended", lead_id=lead, channel="webinar"),
        event(
            4,
            "opportunity_created",
            lead_id=lead,
            account_id=f"{lead}-acct",
            properties={"opportunity_id": f"{lead}-opp", "amount": 5_000},
        ),
        event(5, "campaign_spend", campaign_id="c1", channel="email", properties={"amount": 10}),
    ]


Body = Callable[[asyncpg.Connection, LeadProjector], Awaitable[None]]


async def _in_rolled_back_tenants(pool: asyncpg.Pool, body: Body) -> None:
    config = TenantConfig.from_dict(icp_config()).to_dict()
    async with rolled_back_tenants(pool, TENANTS, config) as conn:
        one = OneConnection(conn)
        projector = LeadProjector(one, TenantConfigs(one), lambda: NOW, LeadCache(1000))
        await body(conn, projector)


async def _statements(
    conn: asyncpg.Connection, projector: LeadProjector, batch: list[tuple[str, dict[str, Any]]]
) -> list[str]:
    """The statements one batch sent to PostgreSQL."""
    sent: list[str] = []

    def record(query: Any) -> None:
        sent.append(re.sub(r"__asyncpg_savepoint_\w+__", "savepoint", query.query))

    published: list[LeadChange] = []

    async def publish(changes: list[LeadChange]) -> None:
        published.extend(changes)

    conn.add_query_logger(record)  # savepoints stand for the batch's own transaction
    try:
        await projector.project_events(batch, publish)
    finally:
        conn.remove_query_logger(record)
    await as_committed(conn)
    assert {c.tenant_id for c in published} == {t for t, _ in batch}
    return sent


async def test_a_batch_of_many_tenants_sends_the_statements_of_one(app_pool: asyncpg.Pool) -> None:
    async def body(conn: asyncpg.Connection, projector: LeadProjector) -> None:
        # Every tenant seen once, so that what is read once per tenant and kept (its
        # configuration) is not part of what is compared.
        await _statements(conn, projector, [e for t in TENANTS for e in _journey(t, "warm", START)])
        one_tenant = [
            e for n in range(len(TENANTS)) for e in _journey(TENANTS[0], f"lead-{n}", START)
        ]
        many_tenants = [e for t in TENANTS for e in _journey(t, "lead-x", START)]
        assert len(one_tenant) == len(many_tenants)
        alone = await _statements(conn, projector, one_tenant)
        together = await _statements(conn, projector, many_tenants)
        assert len(together) == len(alone)
        assert together == alone
        rows = await conn.fetch(
            "SELECT tenant_id, count(*) AS n FROM leads WHERE lead_id = 'lead-x' GROUP BY tenant_id"
        )
        assert {r["tenant_id"]: r["n"] for r in rows} == dict.fromkeys(TENANTS, 1)
        stitched = await conn.fetchval(
            "SELECT count(*) FROM events WHERE lead_id = 'lead-x' AND stitched"
        )
        assert stitched == len(TENANTS)

    await _in_rolled_back_tenants(app_pool, body)


async def test_a_worker_that_knows_no_tenant_yet_reads_every_configuration_at_once(
    app_pool: asyncpg.Pool,
) -> None:
    """A worker just started (or given new partitions) knows no tenant: its first batch of
    many tenants still sends the statements of a first batch of one."""

    async def body(conn: asyncpg.Connection, projector: LeadProjector) -> None:
        one_tenant = [
            e for n in range(len(TENANTS)) for e in _journey(TENANTS[0], f"first-{n}", START)
        ]
        alone = await _statements(conn, projector, one_tenant)
        one = OneConnection(conn)
        fresh = LeadProjector(one, TenantConfigs(one), lambda: NOW, LeadCache(1000))
        many_tenants = [e for t in TENANTS for e in _journey(t, "first-x", START)]
        assert await _statements(conn, fresh, many_tenants) == alone

    await _in_rolled_back_tenants(app_pool, body)


async def test_a_transaction_bound_to_tenants_refuses_a_row_of_any_other(
    app_pool: asyncpg.Pool,
) -> None:
    bound, other = TENANTS[:2], TENANTS[2]

    async def body(conn: asyncpg.Connection, projector: LeadProjector) -> None:
        await _statements(conn, projector, _journey(other, "theirs", START))
        async with conn.transaction():
            await conn.execute("SELECT set_config('tandem.tenants', $1::text[]::text, true)", bound)
            # Reads see the bound tenants' rows only.
            assert (
                await conn.fetchval("SELECT count(*) FROM leads WHERE tenant_id = $1", other) == 0
            )
            # A set-based write with one row of a tenant not bound is refused whole.
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO spend (tenant_id, event_id, campaign_id, channel, amount,"
                        " occurred_at) SELECT t, 'sp-' || t, 'c', 'email', 1, $2"
                        " FROM unnest($1::text[]) t",
                        [*bound, other],
                        START,
                    )
            # The same statement for the bound tenants alone is admitted.
            await conn.execute(
                "INSERT INTO spend (tenant_id, event_id, campaign_id, channel, amount,"
                " occurred_at) SELECT t, 'sp-' || t, 'c', 'email', 1, $2"
                " FROM unnest($1::text[]) t",
                bound,
                START,
            )

    await _in_rolled_back_tenants(app_pool, body)


async def test_a_tenant_between_two_bound_tenants_is_not_bound(app_pool: asyncpg.Pool) -> None:
    """A tenant whose id sorts between two bound ones is not bound: refused read or
    written, by key or by scan (a policy narrowing by the range of the bound ids, as
    migration 0050 did, must still check the list)."""
    first, between, last = TENANTS[0], TENANTS[1], TENANTS[2]
    assert first < between < last

    async def body(conn: asyncpg.Connection, projector: LeadProjector) -> None:
        for tenant in (first, between, last):
            await _statements(conn, projector, _journey(tenant, "lead-b", START))
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('tandem.tenants', $1::text[]::text, true)", [first, last]
            )
            seen = {r[0] for r in await conn.fetch("SELECT DISTINCT tenant_id FROM leads")}
            assert seen == {first, last}
            by_key = await conn.fetch(
                "SELECT l.tenant_id FROM unnest($1::text[]) AS k(tenant_id)"
                " CROSS JOIN LATERAL (SELECT tenant_id FROM leads l"
                " WHERE l.tenant_id = k.tenant_id AND l.lead_id = 'lead-b' OFFSET 0) AS l",
                [first, between, last],
            )
            assert sorted(r[0] for r in by_key) == [first, last]
            assert (
                await conn.execute("UPDATE leads SET score = score WHERE tenant_id = $1", between)
                == "UPDATE 0"
            )
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO spend (tenant_id, event_id, campaign_id, channel, amount,"
                        " occurred_at) VALUES ($1, 'sp-between', 'c', 'email', 1, $2)",
                        between,
                        START,
                    )
        async with conn.transaction():
            # Bound to one tenant, the range is that tenant alone.
            await conn.execute(
                "SELECT set_config('tandem.tenants', $1::text[]::text, true)", [between]
            )
            seen = {r[0] for r in await conn.fetch("SELECT DISTINCT tenant_id FROM leads")}
            assert seen == {between}
        async with conn.transaction():
            # Bound to none (an empty list), nothing is admitted.
            await conn.execute("SELECT set_config('tandem.tenants', '{}', true)")
            assert await conn.fetchval("SELECT count(*) FROM leads") == 0

    await _in_rolled_back_tenants(app_pool, body)


async def test_tenants_tx_binds_the_set_it_is_given(app_pool: asyncpg.Pool) -> None:
    """Outside any test transaction: the worker's own transaction helper."""
    async with tenants_tx(app_pool, ["a-tenant", "b-tenant"]) as conn:
        bound = await conn.fetchval("SELECT tandem_tenants()")
    assert sorted(bound) == ["a-tenant", "b-tenant"]
    async with app_pool.acquire() as conn:
        # Transaction-local: a pooled connection carries no tenants into the next use.
        assert await conn.fetchval("SELECT tandem_tenants()") == [None]
