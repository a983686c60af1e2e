"""The account step's locks (SPEC 11: per identity, never per tenant), driven on two
connections in a fixed interleaving: a lead matched by a domain that another transaction is
giving to an account waits for it and joins that account; another tenant's transaction on
the same domain name does not wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from shared.account_store import update_accounts
from shared.db import create_pool
from shared.domain.config import DEFAULT_CONFIG
from tests.integration.conftest import Platform


async def write_lead(conn: Any, tenant: str, lead: str, account: str | None, domain: str) -> None:
    """A lead row as the projection leaves it, before the account step."""
    await conn.execute(
        """
        INSERT INTO leads (tenant_id, lead_id, account_id, stage, highest_stage, fit_score,
            fit_grade, disqualified, engagement_score, score, matrix, created_at, traits,
            last_event_at, scored_at)
        VALUES ($1, $2, $3, 'AWARE', 'AWARE', 0, 'D', false, 5, 5, 'D4', now(), $4::jsonb,
            now(), now())
        """,
        tenant,
        lead,
        account,
        {"company_domain": domain},
    )


@asynccontextmanager
async def open_tx(pool: asyncpg.Pool, tenant: str) -> AsyncIterator[tuple[Any, Any]]:
    """A connection in a tenant-bound transaction, and the transaction (to commit early)."""
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("SELECT set_config('tandem.tenant_id', $1, true)", tenant)
            yield conn, tx
            if conn.is_in_transaction():
                await tx.commit()
        except BaseException:
            if conn.is_in_transaction():
                await tx.rollback()
            raise


async def waiting_on_a_lock(admin: asyncpg.Pool, pid: int) -> bool:
    return bool(
        await admin.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)", pid
        )
    )


@pytest.mark.integration
async def test_a_lead_matched_by_a_domain_being_given_waits_and_joins(platform: Platform) -> None:
    tenant, _ = await platform.create_tenant("acct-locks")
    other, _ = await platform.create_tenant("acct-locks-other")
    pool = await create_pool(platform.database_url, min_size=3, max_size=3)
    try:
        async with open_tx(pool, tenant) as (giver, giving):
            # Account A gains the domain through a member that names it; not yet committed.
            await write_lead(giver, tenant, "b", "A", "x.example")
            await update_accounts(giver, tenant, ["b"], DEFAULT_CONFIG)
            assert (
                await giver.fetchval("SELECT domain FROM accounts WHERE tenant_id = $1", tenant)
                == "x.example"
            )

            # Another tenant's lead on the same domain name shares no key: it does not wait.
            async with open_tx(pool, other) as (elsewhere, _):
                await write_lead(elsewhere, other, "a", None, "x.example")
                await asyncio.wait_for(update_accounts(elsewhere, other, ["a"], DEFAULT_CONFIG), 60)

            async with open_tx(pool, tenant) as (matcher, _):
                await write_lead(matcher, tenant, "a", None, "X.example ")
                pid = await matcher.fetchval("SELECT pg_backend_pid()")
                step = asyncio.create_task(update_accounts(matcher, tenant, ["a"], DEFAULT_CONFIG))
                # The matcher reaches the domain's key and waits there (or, were it not
                # locked, finishes without A): only then does the giver commit.

                async def parked() -> bool:
                    return step.done() or await waiting_on_a_lock(platform.admin, pid)

                await platform.wait_for(parked, 30, "the matcher to reach the domain's key")
                assert not step.done(), "the matcher did not wait for the domain's key"
                await giving.commit()
                await step
    finally:
        await pool.close()
    member_of = await platform.admin.fetchval(
        "SELECT account_id FROM account_members WHERE tenant_id = $1 AND lead_id = 'a'", tenant
    )
    assert member_of == "A"
