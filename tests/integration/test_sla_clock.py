"""The SLA clock's sweeps read what can have changed, not every breach a tenant has: after a
first full pass, the leads whose deadline passed since the last sweep and the leads the
worker committed since; a full pass again every FULL_PASS_S. Run on the real PostgreSQL as
the application role, inside a transaction rolled back at the end; the clock is moved by
hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from services.workers.configs import TenantConfigs
from services.workers.lead_cache import LeadCache
from services.workers.project import LeadChange, LeadProjector
from services.workers.sla import FULL_PASS_S, SlaClock
from shared.domain.config import TenantConfig
from tests.conftest import RUN_ID
from tests.integration.rolled_back import (
    OneConnection,
    as_committed,
    rolled_back_tenants,
    worker_pool,
)

TENANT = f"sla-clock-{RUN_ID}"
T0 = datetime(2026, 11, 20, tzinfo=UTC)
CONFIG = TenantConfig.from_dict({})
RESPONSE_HOURS = CONFIG.sla.mql_response_hours


@pytest.fixture(scope="module")
async def app_pool() -> AsyncIterator[asyncpg.Pool]:
    async with worker_pool() as pool:
        yield pool


def _mql(lead: str, at: datetime) -> dict[str, Any]:
    # A demo request fast-tracks a lead to MQL under the default configuration.
    return {
        "event_id": f"{lead}-demo",
        "tenant_id": TENANT,
        "type": "demo_request",
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
        "lead_id": lead,
        "channel": "webinar",
    }


async def _nothing(changes: list[LeadChange]) -> None:
    return None


async def test_a_sweep_reads_passed_deadlines_and_committed_leads(
    app_pool: asyncpg.Pool,
) -> None:
    async with rolled_back_tenants(app_pool, [TENANT], CONFIG.to_dict()) as conn:
        one = OneConnection(conn)
        clock = SlaClock()
        told = LeadProjector(one, TenantConfigs(one), lambda: T0, LeadCache(10), clock.committed)
        untold = LeadProjector(one, TenantConfigs(one), lambda: T0, LeadCache(10))

        async def write(projector: LeadProjector, event: dict[str, Any]) -> None:
            await projector.project_tenant(TENANT, [event], _nothing)
            await as_committed(conn)

        async def sweep(now: datetime) -> set[str]:
            await clock.detect_due(one, TENANT, CONFIG.sla, now)
            rows = await conn.fetch(
                "SELECT lead_id FROM sla_breaches WHERE tenant_id = $1 AND kind = 'RESPONSE'",
                TENANT,
            )
            return {r["lead_id"] for r in rows}

        # Every step below but the last falls between two full passes.
        assert FULL_PASS_S > 3 * 60
        due = timedelta(hours=RESPONSE_HOURS)
        await write(told, _mql("overdue", T0 - due - timedelta(hours=1)))
        await write(told, _mql("due-later", T0 - due + timedelta(minutes=2)))
        # The first sweep is a full pass.
        assert await sweep(T0) == {"overdue"}

        # A lead written behind the clock's back with a long-past deadline: only a full
        # pass reads it, as no sweep in between reads every overdue lead again.
        await write(untold, _mql("unreported", T0 - 2 * due))
        assert await sweep(T0 + timedelta(minutes=1)) == {"overdue"}

        # A deadline that passes between two sweeps, and a committed lead whose deadline
        # was already past when it arrived.
        await write(told, _mql("arrived-late", T0 - 3 * due))
        assert await sweep(T0 + timedelta(minutes=3)) == {
            "overdue",
            "due-later",
            "arrived-late",
        }

        # The next full pass.
        assert await sweep(T0 + timedelta(seconds=FULL_PASS_S)) == {
            "overdue",
            "due-later",
            "arrived-late",
            "unreported",
        }


async def test_the_clock_is_told_only_of_new_mql_instants_and_answers(
    app_pool: asyncpg.Pool,
) -> None:
    """Compared with what the lead's row held, whether its state came from the cache or
    from a fold of its whole history (a worker that never saw the lead)."""
    async with rolled_back_tenants(app_pool, [TENANT], CONFIG.to_dict()) as conn:
        one = OneConnection(conn)
        told: list[tuple[str, str]] = []

        def projector() -> LeadProjector:
            return LeadProjector(one, TenantConfigs(one), lambda: T0, LeadCache(10), told.extend)

        async def write(p: LeadProjector, event: dict[str, Any]) -> list[str]:
            told.clear()
            await p.project_tenant(TENANT, [event], _nothing)
            await as_committed(conn)
            return [lead for _, lead in told]

        first = projector()
        assert await write(first, _mql("lead", T0 - timedelta(hours=2))) == ["lead"]
        touch = {**_mql("lead", T0 - timedelta(hours=1)), "event_id": "lead-view"}
        touch["type"] = "page_view"
        assert await write(first, touch) == []
        # Another worker, whose cache never held the lead, folds its whole history.
        assert await write(projector(), {**touch, "event_id": "lead-view-2"}) == []
        answer = {**touch, "event_id": "lead-call", "type": "sales_call"}
        assert await write(projector(), answer) == ["lead"]
