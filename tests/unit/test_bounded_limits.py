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
