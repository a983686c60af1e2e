"""Before authentication: what a caller without a valid credential can cost the platform.
Bad keys from one address run into a per-address limit that is checked before any
credential; an unknown key is looked up once, then refused from a bounded memory; a
connector request naming a tenant that does not exist opens no transaction and grows no
cache."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest

from services.gateway.auth import AuthError, JwtVerifier, authenticate, refused_keys
from services.gateway.connectors.tenant_settings import KnownTenants, SettingsCache
from tests.integration.conftest import Platform


def _from(address: str, platform: Platform) -> httpx.AsyncClient:
    """A client whose connections come from `address` (any of 127/8 on this machine), so
    that the limit it runs into leaves the other tests' address alone."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=platform.gateway_url, transport=transport, timeout=30)


async def test_failed_authentications_are_limited_per_address(platform: Platform) -> None:
    tenant, admin_key = await platform.create_tenant("preauth")
    statuses = []
    async with _from("127.0.0.2", platform) as client:
        # Guesses go in concurrent waves, so the limit is reached however slowly a busy
        # machine answers each one (the allowance refills with time).
        async def guess() -> httpx.Response:
            key = f"tdm_{uuid.uuid4().hex[:12]}_{uuid.uuid4().hex}"
            return await client.post("/v1/events", json=[], headers={"X-API-Key": key})

        first = await guess()
        statuses.append(first.status_code)
        for _ in range(20):
            wave = await asyncio.gather(*(guess() for _ in range(50)))
            statuses += [r.status_code for r in wave]
            limited = [r for r in wave if r.status_code == 429]
            if limited:
                response = limited[0]
                break
        assert statuses[0] == 401
        assert 429 in statuses, statuses
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["error"]["code"] == "RATE_LIMITED"

        # While limited, even a valid key from that address waits: nothing is checked. The
        # allowance refills with time (a guess every 100 ms gets through again), so each
        # request goes right after a wave of guesses that takes up what has refilled; on a
        # machine slow enough for a refill to land in between, the next wave is tried.
        async def while_limited(send: Callable[[], Awaitable[httpx.Response]]) -> int:
            for _ in range(20):
                await asyncio.gather(*(guess() for _ in range(20)))
                answer = await send()
                if answer.status_code == 429:
                    break
            return answer.status_code

        valid = await while_limited(
            lambda: client.post("/graphql", json={"query": "{ viewer { tenant } }"},
                                headers={"X-API-Key": admin_key})
        )  # fmt: skip
        # the connectors' secrets too
        hubspot = await while_limited(
            lambda: client.post(f"/v1/connectors/hubspot/{tenant}", content=b"[]")
        )
        assert valid == 429
        assert hubspot == 429
    # another address is not affected
    async with _from("127.0.0.3", platform) as client:
        valid = await client.post("/graphql", json={"query": "{ viewer { tenant } }"},
                                  headers={"X-API-Key": admin_key})  # fmt: skip
        assert valid.status_code == 200, valid.text


class CountingPool:
    """The real pool, counting the statements it is asked to run."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool, self.statements, self.acquired = pool, 0, 0

    async def fetchrow(self, *args: object) -> object:
        self.statements += 1
        return await self.pool.fetchrow(*args)

    async def fetch(self, *args: object) -> object:
        self.statements += 1
        return await self.pool.fetch(*args)

    def acquire(self) -> object:
        self.acquired += 1
        return self.pool.acquire()


async def test_an_unknown_key_is_looked_up_once_and_memory_stays_bounded(
    platform: Platform,
) -> None:
    pool = await asyncpg.create_pool(platform.database_url, min_size=1, max_size=2)
    try:
        counting = CountingPool(pool)
        jwts = JwtVerifier("x" * 32, {})
        refused = refused_keys()
        refused.max_entries = 100
        bad = f"tdm_{uuid.uuid4().hex[:12]}_nope"
        for _ in range(20):
            with pytest.raises(AuthError, match="unknown or revoked"):
                await authenticate(counting, bad, jwts, refused)  # type: ignore[arg-type]
        assert counting.statements == 1
        for i in range(500):
            with pytest.raises(AuthError):
                await authenticate(counting, f"tdm_{i}_x", jwts, refused)  # type: ignore[arg-type]
        assert len(refused) == 100
    finally:
        await pool.close()


async def test_unknown_tenant_slugs_cost_no_transaction_and_no_cache(platform: Platform) -> None:
    tenant, _ = await platform.create_tenant("preauthconn")
    pool = await asyncpg.create_pool(platform.database_url, min_size=1, max_size=2)
    try:
        counting = CountingPool(pool)
        known, settings = KnownTenants(), SettingsCache()
        assert await known.contains(counting, tenant)  # type: ignore[arg-type]
        slugs = [f"nosuch-{uuid.uuid4().hex}" for _ in range(300)]
        found = await asyncio.gather(*(known.contains(counting, s) for s in slugs))  # type: ignore[arg-type]
        assert not any(found)
        # a flood of unknown slugs shares one more read of the tenants list, no transaction
        assert known.loads == 2 and counting.acquired == 0
        assert len(settings) == 0
    finally:
        await pool.close()
    # and through the gateway: made-up slugs answer as a bad secret does
    async with _from("127.0.0.4", platform) as client:
        for _ in range(20):
            response = await client.post(
                f"/v1/connectors/salesforce/nosuch-{uuid.uuid4().hex[:10]}",
                json={},
                headers={"authorization": "Bearer guess"},
            )
            assert response.status_code == 401
