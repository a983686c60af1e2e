"""The worker's long-lived resources and its periodic duties (config changes, decay sweep)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from services.workers import checkpoint, store
from services.workers.configs import TenantConfigs
from services.workers.dead_letters import DeadLetterQueue
from services.workers.failures import FailurePolicy, TenantBursts
from services.workers.lead_cache import LeadCache
from services.workers.project import LeadChange, LeadProjector
from services.workers.quarantine import Quarantine
from services.workers.records import DeadLetter, Incoming
from services.workers.sla import SlaClock
from shared import locks
from shared.db import tenant_tx
from shared.kafka import LEAD_STATE, TRANSITIONS, make_producer
from shared.settings import Settings

log = logging.getLogger("tandem.worker")

SWEEP_CHUNK = 1_000
# Engagement shown for a lead is re-evaluated at the wall clock at least this often.
SWEEP_MAX_AGE_S = 3_600


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = asyncio.Lock()
        self._started = False
        self.pool: asyncpg.Pool
        self.configs: TenantConfigs
        self.projector: LeadProjector
        self.producer: AIOKafkaProducer
        self.dlq: DeadLetterQueue
        self.quarantine: Quarantine
        self.policy: FailurePolicy
        self.sla = SlaClock()

    @property
    def started(self) -> bool:
        return self._started

    async def ready(self) -> None:
        if self._started:
            return
        async with self._lock:
            if self._started:
                return
            while True:
                try:
                    # A connection for each batch in flight in either lane, and two for
                    # the sweeps and what runs after a commit.
                    self.pool = await store.create_worker_pool(
                        self.settings.database_url,
                        max_size=2 * self.settings.batches_in_flight + 2,
                    )
                    break
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("postgres not reachable yet", extra={"error": repr(exc)})
                    await asyncio.sleep(1)
            self.producer = make_producer(self.settings.kafka_bootstrap, request_timeout_ms=30_000)
            await self.producer.start()
            self.configs = TenantConfigs(self.pool)
            self.projector = LeadProjector(
                self.pool,
                self.configs,
                self.settings.now,
                LeadCache(self.settings.lead_cache_size),
                self.sla.committed,
            )
            self.dlq = DeadLetterQueue(self.producer)
            self.quarantine = Quarantine(self.pool, self.producer)
            self.policy = FailurePolicy(
                self.project,
                self.dlq,
                self.quarantine,
                TenantBursts(self.settings.dlq_min_window, self.settings.dlq_max_ratio),
                self.configs.is_known,
                self.settings.now,
            )
            self._started = True

    async def close(self) -> None:
        """Flushes what was produced and releases connections, after the consumer stopped."""
        if not self._started:
            return
        self._started = False
        await self.producer.stop()
        await self.pool.close()

    async def project(self, incoming: Sequence[Incoming]) -> list[DeadLetter]:
        return await self.projector.project(incoming, self.publish_changes)

    async def publish_changes(self, changes: list[LeadChange]) -> None:
        futures = []
        for change in changes:
            key = f"{change.tenant_id}:{change.lead_id}".encode()
            doc: dict[str, Any] = {
                "tenant_id": change.tenant_id,
                "lead_id": change.lead_id,
                "previous_stage": change.previous_stage,
                "stage": change.stage,
                "fit_score": change.fit_score,
                "engagement_score": change.engagement_score,
                "score": change.score,
                "matrix": change.matrix,
                "fit_grade": change.fit_grade,
                "mql_at": change.mql_at.isoformat() if change.mql_at else None,
                "at": change.at.isoformat(),
            }
            futures.append(await self.producer.send(LEAD_STATE, orjson.dumps(doc), key=key))
            # A transition carries the lead as this batch leaves it, so a reader (webhooks)
            # needs no read of a read model this transaction has not committed yet.
            lead = {
                k: v
                for k, v in doc.items()
                if k not in ("tenant_id", "lead_id", "previous_stage", "at")
            }
            for transition in change.new_transitions:
                body = {
                    "tenant_id": change.tenant_id,
                    "lead_id": change.lead_id,
                    **transition,
                    "lead": lead,
                }
                futures.append(await self.producer.send(TRANSITIONS, orjson.dumps(body), key=key))
        for future in futures:
            await future

    async def on_config_message(self, value: bytes) -> None:
        try:
            note = orjson.loads(value)
            tenant_id, version = str(note["tenant_id"]), int(note["version"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("ignoring malformed tenant-config message", extra={"value": value[:200]})
            return
        self.configs.announced(tenant_id, version)
        await self.configs.refresh([tenant_id])
        await self.rescore_changed()

    async def poll_configs(self) -> None:
        await self.configs.refresh(self.configs.cached_tenants())
        await self.rescore_changed()

    async def rescore_changed(self) -> None:
        """Re-scores each tenant with a version newer than its last re-score. A re-score that
        fails is not marked, so the next poll runs it again."""
        for tenant_id, version in self.configs.unscored().items():
            await self.rescore(tenant_id, version)
            self.configs.rescored(tenant_id, version)

    async def rescore(self, tenant_id: str, version: int) -> None:
        """Appends a re-score event to every lead of the tenant and refolds them (SPEC 4),
        a chunk of leads at a time under those leads' locks: a batch applying events to one
        of them runs wholly before or after, so its fold never misses the re-score event."""
        started = time.monotonic()
        async with tenant_tx(self.pool, tenant_id) as conn:
            rows = await conn.fetch("SELECT lead_id FROM leads WHERE tenant_id = $1", tenant_id)
        lead_ids = sorted(r["lead_id"] for r in rows)
        for i in range(0, len(lead_ids), SWEEP_CHUNK):
            chunk = lead_ids[i : i + SWEEP_CHUNK]
            async with checkpoint.transaction(self.pool, [tenant_id], self.publish_changes) as tx:
                conn = tx.conn
                await locks.lock(conn, tenant_id, "lead", chunk)
                await conn.execute(
                    """
                    INSERT INTO events
                        (tenant_id, event_id, type, occurred_at, lead_id, config_version)
                    SELECT $1, 'rescore:' || $2::int || ':' || lead_id, 'rescore', $3, lead_id,
                           $2::int
                    FROM unnest($4::text[]) AS u(lead_id)
                    ON CONFLICT DO NOTHING
                    """,
                    tenant_id,
                    version,
                    self.settings.now(),
                    chunk,
                )
                tx.emit(await self.projector.refold(conn, tenant_id, chunk))
                tx.after_commit(self._committed(tenant_id, chunk))
        log.info(
            "tenant re-scored",
            extra={
                "tenant_id": tenant_id,
                "config_version": version,
                "leads": len(lead_ids),
                "seconds": round(time.monotonic() - started, 3),
            },
        )

    def _committed(self, tenant_id: str, lead_ids: list[str]) -> Callable[[], None]:
        """Tells the SLA clock, once committed, that these leads' rows were rewritten."""
        return lambda: self.sla.committed((tenant_id, lead_id) for lead_id in lead_ids)

    async def decay_sweep(self) -> None:
        now = self.settings.now()
        for tenant_id in self.configs.cached_tenants():
            async with tenant_tx(self.pool, tenant_id) as conn:
                rows = await conn.fetch(
                    "SELECT lead_id FROM leads WHERE tenant_id = $1"
                    " AND scored_at < $2::timestamptz - make_interval(secs => $3::float8)",
                    tenant_id,
                    now,
                    SWEEP_MAX_AGE_S if self.settings.fixed_now is None else 0,
                )
            await self._refold_in_chunks(tenant_id, sorted(r["lead_id"] for r in rows))

    async def _refold_in_chunks(self, tenant_id: str, lead_ids: list[str]) -> None:
        for i in range(0, len(lead_ids), SWEEP_CHUNK):
            chunk = lead_ids[i : i + SWEEP_CHUNK]
            async with checkpoint.transaction(self.pool, [tenant_id], self.publish_changes) as tx:
                await locks.lock(tx.conn, tenant_id, "lead", chunk)
                tx.emit(await self.projector.refold(tx.conn, tenant_id, chunk))
                tx.after_commit(self._committed(tenant_id, chunk))
