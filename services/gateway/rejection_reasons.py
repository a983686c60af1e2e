"""The ingestion check that a lead_rejected names one of the tenant's rejection reasons
(SPEC 7 `rejection_reasons`). The event schemas cannot know a tenant's list, so the gateway
checks it here and refuses just that event, with the allowed reasons, while the valid rest
of the batch is accepted: nothing valid is lost and the sender learns what to fix."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import asyncpg

from shared.config_store import current_config
from shared.db import tenant_tx

# How long a tenant's list is reused: a batch should not cost a config read, and a changed
# list is honoured within seconds.
TTL_S = 5.0


class RejectionReasons:
    """The tenant's allowed reasons, cached per tenant for TTL_S."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}

    async def allowed(self, pool: asyncpg.Pool, tenant_id: str) -> tuple[str, ...]:
        now = self._clock()
        cached = self._cache.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with tenant_tx(pool, tenant_id) as conn:
            _, config = await current_config(conn, tenant_id)
        reasons = config.sla.rejection_reasons
        self._cache[tenant_id] = (now + TTL_S, reasons)
        return reasons


def reason_errors(event: dict[str, Any], allowed: tuple[str, ...]) -> list[dict[str, str]]:
    """The error of a schema-valid event whose rejection reason the tenant does not know."""
    if event.get("type") != "lead_rejected":
        return []
    reason = event.get("properties", {}).get("reason")
    if reason in allowed:
        return []
    return [
        {
            "field": "properties.reason",
            "reason": f"{reason!r} is not one of this tenant's rejection reasons "
            f"({', '.join(allowed)}); an admin can change them with updateSlaRules",
        }
    ]
