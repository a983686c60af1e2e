"""Per-tenant quarantine (SPEC 11): where a tenant whose events fail in a burst is put.

A quarantined tenant's further events are parked in `parked_events` (kept whole, replayable
with `tandem quarantine replay`), an alert goes to alerts.v1, and every other tenant keeps
flowing. Parking takes a share lock on the tenant's quarantine row and parks only while the
row exists, so once `tandem quarantine release` has deleted it no event can be parked
behind the operator's back: the worker applies it instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from services.workers.records import Incoming
from shared.db import tenant_tx
from shared.kafka import ALERTS

log = logging.getLogger("tandem.quarantine")

# Another worker's quarantine, or an operator's release, is seen within this many seconds.
REFRESH_S = 1.0


class Quarantine:
    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer) -> None:
        self._pool = pool
        self._producer = producer
        self._tenants: frozenset[str] = frozenset()
        self._checked = float("-inf")

    async def tenants(self) -> frozenset[str]:
        """The quarantined tenants, re-read at most every REFRESH_S."""
        if time.monotonic() - self._checked >= REFRESH_S:
            rows = await self._pool.fetch("SELECT tandem_quarantined_tenants() AS t")
            self._tenants = frozenset(r["t"] for r in rows)
            self._checked = time.monotonic()
        return self._tenants

    async def enter(
        self, tenant_id: str, failures: int, window: int, last_error: str, now: datetime
    ) -> None:
        """Quarantines the tenant (once) and raises the alert."""
        async with tenant_tx(self._pool, tenant_id) as conn:
            since = await conn.fetchval(
                "INSERT INTO quarantined_tenants"
                " (tenant_id, since, failures, window_size, last_error)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING since",
                tenant_id,
                now,
                failures,
                window,
                last_error[:2000],
            )
        self._tenants = self._tenants | {tenant_id}
        if since is None:
            return  # another worker got there first and raised the alert
        alert = {
            "id": f"quarantine:{tenant_id}:{since.isoformat()}",
            "type": "tenant_quarantined",
            "tenant_id": tenant_id,
            "failures": failures,
            "window": window,
            "last_error": last_error[:500],
            "at": since.isoformat(),
        }
        await self._producer.send_and_wait(ALERTS, orjson.dumps(alert), key=alert["id"].encode())
        log.critical(
            "tenant quarantined: its further events are parked",
            extra={"tenant_id": tenant_id, "failures": failures, "window": window},
        )

    async def park(self, tenant_id: str, items: Sequence[Incoming]) -> bool:
        """Parks the tenant's events; False (nothing parked) if it is no longer quarantined."""
        async with tenant_tx(self._pool, tenant_id) as conn:
            held = await conn.fetchval(
                "SELECT true FROM quarantined_tenants WHERE tenant_id = $1 FOR SHARE", tenant_id
            )
            if not held:
                self._tenants = self._tenants - {tenant_id}
                return False
            await conn.execute(
                """
                INSERT INTO parked_events (tenant_id, topic, partition, "offset", idx, payload)
                SELECT $1, t, p, o, i, v
                FROM unnest($2::text[], $3::int[], $4::bigint[], $5::int[], $6::bytea[])
                    AS u(t, p, o, i, v)
                ON CONFLICT DO NOTHING
                """,
                tenant_id,
                [i.source.topic for i in items],
                [i.source.partition for i in items],
                [i.source.offset for i in items],
                [-1 if i.source.index is None else i.source.index for i in items],
                [orjson.dumps(i.event) for i in items],
            )
        log.warning("events parked", extra={"tenant_id": tenant_id, "events": len(items)})
        return True
