"""What a GraphQL WebSocket may hold of the gateway: a bounded number of sockets per
credential and per tenant (the next one is closed with code 4429), `connection_init`s per
client address within a rate, and one shared re-check of a credential however many sockets
use it (each socket re-checks every 2 s; they share the database lookup)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.gateway.auth import Principal
from services.gateway.limits import BoundedTtlCache

# Close code of a socket over a limit (4xxx: application; 429 as in HTTP).
WS_TOO_MANY = 4429
# Largest WebSocket message the gateway reads (uvicorn refuses larger ones, code 1009).
MAX_MESSAGE_BYTES = 256 * 1024
# connection_init per client address: each one authenticates.
INITS_PER_S = 10.0
INITS_BURST = 40.0
# How long one credential check answers every socket of that credential.
SHARED_CHECK_S = 1.5


@dataclass
class SocketSlots:
    """Open sockets per credential and per tenant in this process."""

    per_credential: int
    per_tenant: int
    _credentials: dict[tuple[str, str], int] = field(default_factory=dict)
    _tenants: dict[str, int] = field(default_factory=dict)

    def take(self, tenant_id: str, credential: str) -> str | None:
        """Takes a slot; returns why not when the credential or the tenant has none left."""
        held = self._credentials.get((tenant_id, credential), 0)
        if held >= self.per_credential:
            return f"at most {self.per_credential} open connections per credential"
        if self._tenants.get(tenant_id, 0) >= self.per_tenant:
            return f"at most {self.per_tenant} open connections per tenant"
        self._credentials[(tenant_id, credential)] = held + 1
        self._tenants[tenant_id] = self._tenants.get(tenant_id, 0) + 1
        return None

    def give_back(self, tenant_id: str, credential: str) -> None:
        # Entries go at zero, so memory follows the sockets open now.
        key = (tenant_id, credential)
        if self._credentials.get(key, 0) > 1:
            self._credentials[key] -= 1
        else:
            self._credentials.pop(key, None)
        if self._tenants.get(tenant_id, 0) > 1:
            self._tenants[tenant_id] -= 1
        else:
            self._tenants.pop(tenant_id, None)


class SharedCheck:
    """Re-checks of one credential within SHARED_CHECK_S share one lookup (the first
    caller's), so N sockets of a key cost one query per interval, not N."""

    def __init__(self, ttl_s: float = SHARED_CHECK_S, max_entries: int = 10_000) -> None:
        self._checks: BoundedTtlCache[bytes, asyncio.Task[Principal]] = BoundedTtlCache(
            max_entries, ttl_s
        )

    async def check(self, credential: str, run: Callable[[], Awaitable[Principal]]) -> Principal:
        digest = hashlib.sha256(credential.encode()).digest()
        task = self._checks.get(digest)
        if task is None:
            task = asyncio.ensure_future(run())
            self._checks.put(digest, task)
        # shield: one socket closing must not cancel the check the others wait on
        return await asyncio.shield(task)
