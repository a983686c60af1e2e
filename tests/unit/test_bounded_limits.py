"""What unauthenticated callers can make the gateway remember stays bounded."""

from __future__ import annotations

from services.gateway.limits import BoundedTtlCache, RateLimiter


def test_bounded_cache_forgets_the_least_recent_and_the_expired() -> None:
    now = [0.0]
    cache: BoundedTtlCache[str, int] = BoundedTtlCache(3, 10.0, lambda: now[0])
    for i, key in enumerate("abcd"):
        cache.put(key, i)
    assert len(cache) == 3 and cache.get("a") is None
    assert cache.get("b") == 1  # now the most recent
    cache.put("e", 4)
    assert cache.get("c") is None and cache.get("b") == 1
    now[0] = 10.5
    assert cache.get("b") is None


def test_rate_limiter_keeps_at_most_max_keys_and_wait_takes_nothing() -> None:
    limiter = RateLimiter(rate=1.0, burst=2.0, max_keys=100)
    for i in range(1_000):
        limiter.acquire(f"10.0.{i // 256}.{i % 256}", now=0.0)
    assert len(limiter) == 100
    assert limiter.acquire("x", now=0.0) == 0 and limiter.acquire("x", now=0.0) == 0
    assert limiter.wait("x", now=0.0) > 0
    assert limiter.wait("x", now=0.0) == limiter.wait("x", now=0.0)  # peeking takes nothing
    assert limiter.wait("never-seen") == 0 and "never-seen" not in limiter._buckets


def test_socket_slots_cap_credential_and_tenant_and_are_given_back() -> None:
    from services.gateway.graphql.sockets import SocketSlots

    slots = SocketSlots(per_credential=2, per_tenant=3)
    assert slots.take("acme", "key:a") is None and slots.take("acme", "key:a") is None
    assert "per credential" in (slots.take("acme", "key:a") or "")
    assert slots.take("acme", "key:b") is None
    assert "per tenant" in (slots.take("acme", "key:c") or "")
    assert slots.take("other", "key:c") is None  # another tenant's count is its own
    slots.give_back("acme", "key:a")
    assert slots.take("acme", "key:c") is None
    for _ in range(5):
        slots.give_back("other", "key:c")
    assert slots._tenants == {"acme": 3} and ("other", "key:c") not in slots._credentials


async def test_sockets_of_one_credential_share_each_check() -> None:
    import asyncio

    from services.gateway.auth import AuthError, Principal
    from services.gateway.graphql.sockets import SharedCheck

    runs = 0

    async def lookup() -> Principal:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.01)
        return Principal("acme", "viewer", "key:a")

    shared = SharedCheck(ttl_s=60)
    found = await asyncio.gather(*(shared.check("tdm_a", lookup) for _ in range(50)))
    assert runs == 1 and {p.tenant_id for p in found} == {"acme"}

    async def revoked() -> Principal:
        raise AuthError("unknown or revoked API key")

    for _ in range(3):
        try:
            await shared.check("tdm_b", revoked)
        except AuthError as exc:
            assert "revoked" in str(exc)
        else:
            raise AssertionError("a revoked key passed its check")
