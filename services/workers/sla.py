"""The SLA clock (SPEC 7): at the wall clock, record every MQL whose response or
disposition deadline has passed without an answer in time, and alert each breach once.

Per tenant, a sweep
1. detects: inserts the new breach rows (ON CONFLICT DO NOTHING, so sweeps and workers may
   overlap) and commits, so the API shows a breach even while Kafka is away. A lead can
   only become breached when its deadline passes or when its MQL instant or answers
   change, so after a first full pass the sweep checks just those: the MQLs whose deadline
   passed since the last sweep, and the leads to which this worker committed such a change
   since then (every writer of a lead row sweeps its tenant and reports here). The cost of
   a sweep thus follows the traffic, not the number of breaches a tenant has piled up. A
   full pass still runs every FULL_PASS_S, on a tenant's first sweep in this process and
   after its SLA rules change, so a lead written by a worker that died before its next
   sweep is never left out;
2. emits: in one transaction, locks the rows without `emitted_at` (FOR UPDATE SKIP LOCKED,
   so two workers never send the same row at the same time), sends them to alerts.v1, waits
   for Kafka's acknowledgement, sets `emitted_at` and commits.

A row is marked only after Kafka has its alert, so a crash never loses one: after a restart,
the first sweep over the tenant finds `emitted_at` still NULL and sends it. The one window
left the other way is a crash (or a lost database connection) between the acknowledgement
and the commit: that alert is then sent a second time. Its key and `id`,
"tenant:lead:kind:mql_at", are the same on every send, so a consumer drops the repeat.

Deadlines use the tenant's current SLA rules, as `slaReport` and `metrics` do.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from services.workers.configs import TenantConfigs
from shared.db import as_columns, drain, tenant_tx
from shared.domain.config import SlaRules
from shared.domain.sla import SlaKind, alert_id, classify, deadline
from shared.kafka import ALERTS
from shared.locks import Key

log = logging.getLogger("tandem.worker.sla")

EMIT_CHUNK = 500
FULL_PASS_S: Final = 300

# The lead column that answers each limit.
_ANSWER_COLUMN = {SlaKind.RESPONSE: "sla_response_at", SlaKind.DISPOSITION: "sla_disposition_at"}


def _hours(rules: SlaRules, kind: SlaKind) -> float:
    if kind is SlaKind.RESPONSE:
        return rules.mql_response_hours
    return rules.mql_disposition_hours


class SlaClock:
    """Each tenant's last sweep, and the leads committed since: what the next sweep must
    check."""

    def __init__(self) -> None:
        self._swept: dict[str, tuple[datetime, SlaRules, datetime]] = {}
        self._written: dict[str, set[str]] = defaultdict(set)

    def committed(self, leads: Iterable[Key]) -> None:
        """Leads to which a transaction of this worker has just committed a new MQL instant
        or answer (or whose rows it rewrote whole)."""
        for tenant_id, lead_id in leads:
            self._written[tenant_id].add(lead_id)

    async def sweep(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        configs: TenantConfigs,
        now: datetime,
    ) -> None:
        # The tenants this worker applies events or config changes for, as the decay sweep:
        # a worker never alerts for tenants whose topics it does not serve.
        for tenant_id in sorted(configs.cached_tenants()):
            versions = await configs.versions(tenant_id)
            await self.detect_due(pool, tenant_id, versions[max(versions)].sla, now)
            await emit(pool, producer, tenant_id, now)

    async def detect_due(
        self, pool: asyncpg.Pool, tenant_id: str, rules: SlaRules, now: datetime
    ) -> None:
        """Records the tenant's new breaches: of every lead on a full pass, else of the
        leads whose deadline passed since the last sweep and those committed since."""
        # Taken before reading: a lead committed from here on is checked next time.
        written = self._written.pop(tenant_id, set())
        last = self._swept.get(tenant_id)
        try:
            if (
                last is None
                or last[1] != rules
                or now < last[0]
                or now - last[2] >= timedelta(seconds=FULL_PASS_S)
            ):
                await detect(pool, tenant_id, rules, now)
                full_pass = now
            else:
                await detect(pool, tenant_id, rules, now, since=last[0], leads=written)
                full_pass = last[2]
        except BaseException:
            self._written[tenant_id] |= written
            raise
        self._swept[tenant_id] = (now, rules, full_pass)


async def detect(
    pool: asyncpg.Pool,
    tenant_id: str,
    rules: SlaRules,
    now: datetime,
    *,
    since: datetime | None = None,
    leads: Iterable[str] = (),
) -> None:
    """Records the tenant's breaches not recorded yet: of every lead, or (`since` the last
    sweep) of the leads whose deadline passed after it and of `leads`."""
    async with tenant_tx(pool, tenant_id) as conn:
        found: list[tuple[str, str, str, datetime, datetime, datetime]] = []
        for kind, column in _ANSWER_COLUMN.items():
            hours = _hours(rules, kind)
            # (rows read, condition on them, their arguments)
            scopes: list[tuple[str, str, list[Any]]] = [("leads l", "", [])]
            if since is not None:
                # Deadlines passed since the last sweep's clock; leads written since.
                passed = "AND l.mql_at >= $5::timestamptz - make_interval(secs => $3::float8)"
                # Lead by lead through the key (LATERAL, OFFSET 0): as `lead_id = ANY(...)`
                # the planner read every MQL of the tenant through (tenant_id, mql_at) and
                # kept those in the list (550 ms a sweep at a million events).
                by_key = (
                    "unnest($5::text[]) AS k(lead_id) CROSS JOIN LATERAL (SELECT * FROM leads"
                    " WHERE tenant_id = $1 AND lead_id = k.lead_id OFFSET 0) AS l"
                )
                scopes = [("leads l", passed, [since])]
                if committed := sorted(leads):
                    scopes.append((by_key, "", [committed]))
            # Only leads already past the deadline and not recorded for this MQL: the
            # index on (tenant_id, mql_at) bounds the scan, and each lead's breach is looked
            # up by its key. OFFSET 0 keeps that a lookup per lead (PostgreSQL never turns an
            # EXISTS with an OFFSET into a join): planned on a growing tenant's stale
            # statistics, the anti-join read every breach of the tenant (3.4 s for 4,000
            # leads).
            rows = [
                r
                for source, scope, args in scopes
                for r in await conn.fetch(
                    f"""
                SELECT l.lead_id, l.mql_at, l.{column} AS answered_at
                FROM {source}
                WHERE l.tenant_id = $1
                  AND l.mql_at < $2::timestamptz - make_interval(secs => $3::float8)
                  {scope}
                  AND (l.{column} IS NULL
                       OR l.{column} > l.mql_at + make_interval(secs => $3::float8))
                  AND NOT EXISTS (
                      SELECT 1 FROM sla_breaches b
                      WHERE b.tenant_id = l.tenant_id AND b.lead_id = l.lead_id
                        AND b.kind = $4 AND b.mql_at = l.mql_at
                      OFFSET 0)
                """,
                    tenant_id,
                    now,
                    hours * 3600,
                    kind.value,
                    *args,
                )
            ]
            found.extend(
                (
                    tenant_id,
                    r["lead_id"],
                    kind.value,
                    r["mql_at"],
                    deadline(r["mql_at"], hours),
                    now,
                )
                for r in rows
                if classify(r["mql_at"], r["answered_at"], now, hours).breached
            )
        # A lead both due and written since is found twice.
        found = list(dict.fromkeys(found))
        if found:
            # One statement for all of them (a busy tenant finds thousands a sweep).
            await conn.execute(
                "INSERT INTO sla_breaches (tenant_id, lead_id, kind, mql_at, deadline, detected_at)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],"
                " $5::timestamptz[], $6::timestamptz[]) ON CONFLICT DO NOTHING",
                *as_columns(found, 6),
            )
    if found:
        log.info("sla breaches detected", extra={"tenant_id": tenant_id, "breaches": len(found)})


async def emit(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, tenant_id: str, now: datetime
) -> None:
    """Sends the tenant's breaches not sent yet to alerts.v1, a chunk per transaction."""

    async def send(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> None:
        futures = []
        for row in rows:
            alert = alert_document(tenant_id, row)
            futures.append(
                await producer.send(ALERTS, orjson.dumps(alert), key=alert["id"].encode())
            )
        for future in futures:
            await future
        # The very rows this transaction locked, by their physical address: a join on the
        # key, planned on a growing tenant's stale statistics, compared every unsent
        # breach with every sent one (410 ms for 250).
        await conn.execute(
            "UPDATE sla_breaches SET emitted_at = $2"
            " WHERE tenant_id = $1 AND ctid = ANY($3::tid[])",
            tenant_id,
            now,
            [r["ctid"] for r in rows],
        )
        log.info("sla alerts sent", extra={"tenant_id": tenant_id, "alerts": len(rows)})

    await drain(
        pool,
        tenant_id,
        "SELECT ctid, lead_id, kind, mql_at, deadline, detected_at FROM sla_breaches"
        " WHERE tenant_id = $1 AND emitted_at IS NULL"
        " ORDER BY deadline, lead_id, kind LIMIT $2 FOR UPDATE SKIP LOCKED",
        EMIT_CHUNK,
        send,
    )


def alert_document(tenant_id: str, row: asyncpg.Record) -> dict[str, Any]:
    kind = SlaKind(row["kind"])
    return {
        "id": alert_id(tenant_id, row["lead_id"], kind, row["mql_at"]),
        "type": "sla_breach",
        "tenant_id": tenant_id,
        "lead_id": row["lead_id"],
        "kind": kind.value,
        "mql_at": row["mql_at"].isoformat(),
        "deadline": row["deadline"].isoformat(),
        "detected_at": row["detected_at"].isoformat(),
    }
