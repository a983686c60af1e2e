"""SQL of the delivery service. Every statement on tenant data runs in a transaction bound
to its tenant (row-level security); the cross-tenant look-ups go through the SECURITY
DEFINER functions of migration 0010, which return which tenants have work, not the work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from shared.db import tenant_tx


@dataclass(frozen=True, slots=True)
class Webhook:
    webhook_id: str
    url: str
    event_types: frozenset[str]
    slack_format: bool
    score_threshold: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Claimed:
    tenant_id: str
    delivery_id: str
    webhook_id: str
    event_id: str
    event_type: str
    body: bytes
    attempt: int
    created_at: datetime
    url: str
    secret: str  # as stored: sealed (shared/secret_box.py), opened when an attempt signs


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    started_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    status: str  # PENDING (to retry), DELIVERED or FAILED
    next_attempt_at: datetime | None


DeliveryRow = tuple[str, str, str, str, str, str]  # tenant, delivery, webhook, event, type, body


async def enabled_webhooks(conn: asyncpg.Connection, tenant_id: str) -> list[Webhook]:
    rows = await conn.fetch(
        "SELECT webhook_id, url, event_types, slack_format, score_threshold, created_at"
        " FROM webhooks WHERE tenant_id = $1 AND enabled ORDER BY webhook_id",
        tenant_id,
    )
    return [
        Webhook(
            r["webhook_id"],
            r["url"],
            frozenset(r["event_types"]),
            r["slack_format"],
            r["score_threshold"],
            r["created_at"],
        )
        for r in rows
    ]


async def leads_by_id(
    conn: asyncpg.Connection, tenant_id: str, lead_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT lead_id, stage, fit_score, fit_grade, engagement_score, score, matrix, mql_at"
        " FROM leads WHERE tenant_id = $1 AND lead_id = ANY($2::text[])",
        tenant_id,
        list(lead_ids),
    )
    # The shape the derived topics carry a lead in (see payloads.lead_object).
    return {
        r["lead_id"]: dict(r, mql_at=r["mql_at"].isoformat() if r["mql_at"] else None) for r in rows
    }


async def closed_opportunities(
    conn: asyncpg.Connection, tenant_id: str, lead_ids: Sequence[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest closed opportunity per (lead, status)."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (lead_id, status) lead_id, status, opportunity_id, amount,"
        " won_amount, lost_reason, competitor, closed_at FROM opportunities"
        " WHERE tenant_id = $1 AND lead_id = ANY($2::text[]) AND closed_at IS NOT NULL"
        " ORDER BY lead_id, status, closed_at DESC, opportunity_id",
        tenant_id,
        list(lead_ids),
    )
    return {
        (r["lead_id"], r["status"]): {
            "id": r["opportunity_id"],
            "amount": float(r["amount"]),
            "won_amount": float(r["won_amount"]) if r["won_amount"] is not None else None,
            "lost_reason": r["lost_reason"],
            "competitor": r["competitor"],
            "closed_at": r["closed_at"].isoformat(),
        }
        for r in rows
    }


async def score_marks(
    conn: asyncpg.Connection, tenant_id: str, lead_ids: Sequence[str]
) -> dict[tuple[str, str], int]:
    rows = await conn.fetch(
        "SELECT webhook_id, lead_id, score FROM webhook_score_marks"
        " WHERE tenant_id = $1 AND lead_id = ANY($2::text[])",
        tenant_id,
        list(lead_ids),
    )
    return {(r["webhook_id"], r["lead_id"]): r["score"] for r in rows}


async def save_score_marks(
    conn: asyncpg.Connection, tenant_id: str, marks: dict[tuple[str, str], int]
) -> None:
    if not marks:
        return
    await conn.execute(
        "INSERT INTO webhook_score_marks (tenant_id, webhook_id, lead_id, score)"
        " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[])"
        " ON CONFLICT (tenant_id, webhook_id, lead_id) DO UPDATE SET score = EXCLUDED.score",
        tenant_id,
        [w for w, _ in marks],
        [lead for _, lead in marks],
        list(marks.values()),
    )


async def insert_deliveries(conn: asyncpg.Connection, rows: Sequence[DeliveryRow]) -> int:
    """Records new deliveries; those already recorded (a re-read) are left as they are."""
    if not rows:
        return 0
    inserted = await conn.fetch(
        "INSERT INTO webhook_deliveries"
        " (tenant_id, delivery_id, webhook_id, event_id, event_type, body)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::text[]) ON CONFLICT DO NOTHING RETURNING delivery_id",
        *(list(col) for col in zip(*rows, strict=True)),
    )
    return len(inserted)


async def queue_crm(conn: asyncpg.Connection, tenant_id: str, lead_ids: Sequence[str]) -> None:
    """Puts the leads on the work list of every enabled CRM connection of the tenant."""
    await conn.execute(
        "INSERT INTO crm_pending (tenant_id, provider, lead_id)"
        " SELECT c.tenant_id, c.provider, l FROM crm_connections c, unnest($2::text[]) l"
        " WHERE c.tenant_id = $1 AND c.enabled"
        # A lead queued again moves to the back with a new time, which tells the sync that
        # a batch in flight did not carry this change.
        " ON CONFLICT (tenant_id, provider, lead_id) DO UPDATE SET queued_at = now()",
        tenant_id,
        list(lead_ids),
    )


async def due_webhooks(pool: asyncpg.Pool, limit: int) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT * FROM tandem_due_webhooks($1)", limit)
    return [(r["tenant_id"], r["webhook_id"]) for r in rows]


async def webhook_tenants(pool: asyncpg.Pool, event_type: str) -> list[str]:
    return [r[0] for r in await pool.fetch("SELECT tandem_webhook_tenants($1)", event_type)]


_CLAIM = """
    WITH due AS (
        SELECT delivery_id FROM webhook_deliveries
        WHERE tenant_id = $1 AND webhook_id = $2 AND status = 'PENDING'
          AND next_attempt_at <= now()
        ORDER BY next_attempt_at, delivery_id LIMIT $3
        FOR UPDATE SKIP LOCKED
    )
    UPDATE webhook_deliveries d
    SET next_attempt_at = now() + make_interval(secs => $4::float8)
    FROM due, webhooks w
    WHERE d.tenant_id = $1 AND d.delivery_id = due.delivery_id
      AND w.tenant_id = d.tenant_id AND w.webhook_id = d.webhook_id AND w.enabled
    RETURNING d.delivery_id, d.event_id, d.event_type, d.body, d.attempts,
              d.created_at, w.url, w.secret
"""

# Every attempt's row and its delivery's new state, for any number of attempts.
_RECORD = """
    WITH o AS (
        SELECT * FROM unnest($2::text[], $3::int[], $4::timestamptz[], $5::int[], $6::int[],
                             $7::text[], $8::text[], $9::timestamptz[])
            AS o(delivery_id, attempt, started_at, status_code, latency_ms, error, status,
                 next_attempt_at)
    ), attempts AS (
        INSERT INTO webhook_attempts
            (tenant_id, delivery_id, attempt, started_at, status_code, latency_ms, error)
        SELECT $1, delivery_id, attempt, started_at, status_code, latency_ms, error FROM o
        ON CONFLICT DO NOTHING
    )
    UPDATE webhook_deliveries d
    SET attempts = o.attempt, status = o.status,
        next_attempt_at = coalesce(o.next_attempt_at, d.next_attempt_at),
        last_status_code = o.status_code, last_error = o.error,
        completed_at = CASE WHEN o.status = 'PENDING' THEN NULL ELSE now() END
    FROM o
    WHERE d.tenant_id = $1 AND d.delivery_id = o.delivery_id
"""


async def record_and_claim(
    pool: asyncpg.Pool,
    tenant_id: str,
    webhook_id: str,
    done: Sequence[tuple[Claimed, AttemptOutcome]],
    limit: int,
    lease_s: float,
) -> list[Claimed]:
    """One transaction per batch: records the outcomes of the webhook's finished attempts
    (one statement) and takes up to `limit` of its due deliveries, leasing them for
    `lease_s`: their next_attempt_at moves past the lease, so another process (or this one
    after a crash) takes them again only if the attempt's outcome was never recorded."""
    async with tenant_tx(pool, tenant_id) as conn:
        if done:
            await conn.execute(
                _RECORD,
                tenant_id,
                [c.delivery_id for c, _ in done],
                [c.attempt for c, _ in done],
                [o.started_at for _, o in done],
                [o.status_code for _, o in done],
                [o.latency_ms for _, o in done],
                [o.error for _, o in done],
                [o.status for _, o in done],
                [o.next_attempt_at for _, o in done],
            )
        rows = await conn.fetch(_CLAIM, tenant_id, webhook_id, limit, lease_s) if limit else []
    return [
        Claimed(
            tenant_id,
            r["delivery_id"],
            webhook_id,
            r["event_id"],
            r["event_type"],
            r["body"].encode(),
            r["attempts"] + 1,
            r["created_at"],
            r["url"],
            r["secret"],
        )
        for r in rows
    ]


async def backlog(pool: asyncpg.Pool) -> tuple[int, int, datetime | None]:
    row = await pool.fetchrow("SELECT * FROM tandem_delivery_backlog()")
    assert row is not None
    return int(row["pending"]), int(row["retrying"]), row["oldest_pending"]
