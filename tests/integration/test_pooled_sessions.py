"""A pooled connection keeps the session settings the services rely on for its whole
life: the pool runs `RESET ALL` whenever a connection goes back to it, so a setting made
with `SET` in the connection's setup would last only until the first release."""

from __future__ import annotations

from tests.integration.rolled_back import worker_pool


async def test_jit_stays_off_after_a_connection_is_released_and_taken_again() -> None:
    async with worker_pool(size=1) as pool:
        seen = []
        for _ in range(3):
            async with pool.acquire() as conn:
                seen.append(await conn.fetchval("SHOW jit"))
                # What a request does on it: a transaction with a local setting.
                async with conn.transaction():
                    await conn.execute("SELECT set_config('tandem.tenants', '{}', true)")
    assert seen == ["off", "off", "off"]
