"""Rate limits (SPEC 10: per-key limits answer 429): a token bucket per credential in each
process for every route, and for GraphQL operations a limit per tenant and credential that
holds in total across gateway replicas; and the GraphQL limits operators tune."""

from __future__ import annotations

import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import asyncpg

from shared.db import tenant_tx

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedTtlCache(Generic[K, V]):
    """At most `max_entries` values, each for `ttl_s`; the least recently used goes first.
    For what callers who have not authenticated can make a process remember: its memory
    stays bounded however many distinct keys they send."""

    def __init__(
        self, max_entries: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries, self.ttl_s, self._clock = max_entries, ttl_s, clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock() + self.ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """A token bucket per key: `rate` requests per second sustained, bursts up to `burst`.
    At most `max_keys` buckets are kept (least recently used dropped): a forgotten key
    starts again with a full bucket, which is what an idle one would have anyway."""

    rate: float
    burst: float
    max_keys: int = 100_000
    _buckets: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict)

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        return bucket

    def acquire(self, key: str, now: float | None = None) -> float:
        """Takes one token; returns 0 when allowed, else the seconds until one is free."""
        bucket = self._bucket(key, time.monotonic() if now is None else now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def wait(self, key: str, now: float | None = None) -> float:
        """The seconds until `key` has a token again (0: it has one); takes nothing."""
        if key not in self._buckets:
            return 0.0
        bucket = self._bucket(key, time.monotonic() if now is None else now)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


def _env_int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class GraphQLLimits:
    """The limits of GraphQL operations that operators tune (SPEC 10); the fixed ones (depth,
    aliases, tokens, page size, cost, period span, subscriptions per connection) are
    constants of the schema."""

    # Every statement of a request is cancelled after this long.
    statement_timeout_ms: int = 5_000
    # Operations per tenant and credential per window, in total over every gateway replica.
    rate_limit: int = 3_000
    rate_window_s: int = 60
    # Open WebSockets per credential and per tenant, in each gateway process.
    sockets_per_credential: int = 20
    sockets_per_tenant: int = 200

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> GraphQLLimits:
        return cls(
            statement_timeout_ms=_env_int(env, "TANDEM_GRAPHQL_STATEMENT_TIMEOUT_MS", 5_000, 1),
            rate_limit=_env_int(env, "TANDEM_GRAPHQL_RATE_LIMIT", 3_000, 1),
            rate_window_s=_env_int(env, "TANDEM_GRAPHQL_RATE_WINDOW_S", 60, 1),
            sockets_per_credential=_env_int(env, "TANDEM_WS_MAX_PER_CREDENTIAL", 20, 1),
            sockets_per_tenant=_env_int(env, "TANDEM_WS_MAX_PER_TENANT", 200, 1),
        )


def rate_key(subject: str, credential: str | None) -> str:
    """Whose operations a rate limit counts, within a tenant: the API key by its id; a JWT
    by its subject, or by a digest of the token when it names none (tokens without `sub`
    must not share one bucket)."""
    if subject != "jwt" or not credential:
        return subject
    return "jwt#" + hashlib.sha256(credential.encode()).hexdigest()[:16]


# Reserves up to $4 operations of the window for one replica. The counter records every
# reservation asked for, so what was granted is what was below the limit before this one:
# min($4, limit - previous), computed by the caller from the new total. Rows of windows an
# hour old go in the same statement, so the table holds a few rows per credential.
_RESERVE_SQL = """
WITH expired AS (
    DELETE FROM graphql_rate_windows
    WHERE tenant_id = $1 AND credential = $2 AND window_start < $3::timestamptz - interval '1 hour'
)
INSERT INTO graphql_rate_windows AS w (tenant_id, credential, window_start, reserved)
VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, credential, window_start)
DO UPDATE SET reserved = w.reserved + EXCLUDED.reserved
RETURNING reserved
"""
_WINDOW_SQL = (
    "SELECT to_timestamp(floor(extract(epoch FROM now()) / $1) * $1) AS start,"
    " extract(epoch FROM now()) AS now"
)


@dataclass
class _Allowance:
    window_start: float  # epoch seconds (database clock) of the window it belongs to
    left: int  # operations this replica reserved and has not used yet
    exhausted: bool  # the window's limit is reached: refuse without asking the database


@dataclass
class SharedRateLimiter:
    """A fixed-window rate limit per (tenant, credential) that holds in total across every
    gateway replica: the count lives in PostgreSQL (`graphql_rate_windows`).

    To spare a round trip per operation, a replica reserves a small allowance (`block`
    operations) at once and spends it locally. Reservations never exceed the limit in sum,
    so the total admitted stays at or below it; what a replica reserved and did not use is
    lost at the window's end (at most `block - 1` per replica per credential)."""

    pool: Callable[[], asyncpg.Pool | None]
    limit: int
    window_s: int
    _allowances: dict[tuple[str, str], _Allowance] = field(default_factory=dict)

    @property
    def block(self) -> int:
        return max(1, min(50, self.limit // 100))

    async def acquire(self, tenant_id: str, credential: str) -> float:
        """Takes one operation; returns 0 when allowed, else the seconds until the window
        ends."""
        key = (tenant_id, credential)
        allowance = self._allowances.get(key)
        now = time.time()
        if allowance is not None and now < allowance.window_start + self.window_s:
            if allowance.left > 0:
                allowance.left -= 1
                return 0.0
            if allowance.exhausted:
                return allowance.window_start + self.window_s - now
        allowance = await self._reserve(tenant_id, credential)
        if key not in self._allowances:
            self._forget_ended(now)
        self._allowances[key] = allowance
        if allowance.left > 0:
            allowance.left -= 1
            return 0.0
        return max(1.0, allowance.window_start + self.window_s - time.time())

    def _forget_ended(self, now: float) -> None:
        """Drops the allowances of windows that ended, so credentials seen once do not
        stay in memory; run when a new credential arrives."""
        ended = [k for k, a in self._allowances.items() if now >= a.window_start + self.window_s]
        for key in ended:
            del self._allowances[key]

    async def _reserve(self, tenant_id: str, credential: str) -> _Allowance:
        pool = self.pool()
        assert pool is not None, "the gateway is not started"
        async with tenant_tx(pool, tenant_id) as conn:
            window = await conn.fetchrow(_WINDOW_SQL, self.window_s)
            reserved = await conn.fetchval(
                _RESERVE_SQL, tenant_id, credential, window["start"], self.block
            )
        previous = reserved - self.block
        granted = max(0, min(self.block, self.limit - previous))
        # The window in local time: the database's clock decides which window it is, the
        # local clock only how long this process keeps using it.
        start = time.time() - (float(window["now"]) - window["start"].timestamp())
        return _Allowance(start, granted, exhausted=granted < self.block)
