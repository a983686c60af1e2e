"""The worker's PostgreSQL side: the event log, identities, and the lead read model.

Every write is keyed by (tenant, event id), or writes a lead's derived rows from its folded
state (the rows it changed, or all of them), so a batch that is delivered twice leaves the
same rows as a batch delivered once. RLS forbids
COPY into tenant tables, so bulk rows go through per-connection temp staging tables that
PostgreSQL empties at commit.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from shared.db import as_columns, fetch_dict
from shared.domain.events import Event


class Table:
    """A table's columns in the order COPY sends them, and its rows built by column name:
    a column added by a migration is named here once and filled by name where rows are
    made, so no tuple position has to be kept in step by hand."""

    def __init__(self, name: str, *columns: str) -> None:
        self.name = name
        self.columns = columns
        self.sql_columns = ", ".join(columns)
        self._names = frozenset(columns)

    def row(self, source: object, **values: Any) -> tuple[Any, ...]:
        """A row of `values`, whose other columns are `source`'s attributes of the same
        name: a column added to a table and to the record it mirrors is named nowhere else."""
        unknown = values.keys() - self._names
        if unknown:
            raise ValueError(f"{self.name} row: unknown {sorted(unknown)}")
        return tuple(values[c] if c in values else getattr(source, c) for c in self.columns)

    def index(self, column: str) -> int:
        return self.columns.index(column)


EVENTS = Table(
    "staging_events",
    "ord",
    "event_id",
    "type",
    "occurred_at",
    "lead_id",
    "anonymous_id",
    "account_id",
    "channel",
    "campaign_id",
    "content_id",
    "message_id",
    "properties",
    "stitched",
    "config_version",
)
LEADS = Table(
    "leads",
    "tenant_id",
    "lead_id",
    "account_id",
    "stage",
    "highest_stage",
    "fit_score",
    "fit_grade",
    "disqualified",
    "engagement_score",
    "score",
    "matrix",
    "created_at",
    "engaged_at",
    "mql_at",
    "sql_at",
    "opportunity_at",
    "customer_at",
    "first_touch_channel",
    "traits",
    "fit_evidence",
    "engagement_evidence",
    "last_event_at",
    "scored_at",
    "sla_response_at",
    "sla_response_type",
    "sla_disposition_at",
    "last_sales_activity_at",
    "last_seq",
)
TRANSITIONS = Table(
    "stage_transitions",
    "tenant_id",
    "lead_id",
    "ordinal",
    "from_stage",
    "to_stage",
    "at",
    "event_id",
    "reason",
)
OPPORTUNITIES = Table(
    "opportunities",
    "tenant_id",
    "opportunity_id",
    "lead_id",
    "amount",
    "status",
    "stage",
    "created_at",
    "closed_at",
    "won_amount",
    "lost_reason",
    "competitor",
    "fit_grade_at_win",
    "last_activity_at",
)
CREDITS = Table(
    "attribution_credits",
    "tenant_id",
    "lead_id",
    "opportunity_id",
    "kind",
    "model",
    "touch_event_id",
    "channel",
    "campaign_id",
    "content_id",
    "message_id",
    "fraction",
    "amount",
    "converted_at",
)
SPEND = Table("spend", "tenant_id", "event_id", "campaign_id", "channel", "amount", "occurred_at")

_STAGED_TABLES = ("leads", "stage_transitions", "opportunities", "attribution_credits", "spend")
STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS staging_events (
    ord integer, event_id text, type text, occurred_at timestamptz, lead_id text,
    anonymous_id text, account_id text, channel text, campaign_id text, content_id text,
    message_id text, properties jsonb, stitched boolean, config_version integer
) ON COMMIT DELETE ROWS;
""" + "".join(
    f"CREATE TEMP TABLE IF NOT EXISTS staging_{t} (LIKE {t} INCLUDING DEFAULTS)"
    " ON COMMIT DELETE ROWS;\n"
    for t in _STAGED_TABLES
)


async def prepare_connection(conn: asyncpg.Connection) -> None:
    await conn.execute(STAGING_DDL)


def lock_key(tenant_id: str, kind: str, name: str) -> int:
    """A 64-bit advisory-lock key for one lead or identity of one tenant. The tenant is part
    of the hashed text (with separators no id can forge), so tenants do not share keys."""
    digest = hashlib.blake2b(
        f"{tenant_id}\x1f{kind}\x1f{name}".encode(), digest_size=8, person=b"tandem-lock"
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock(conn: asyncpg.Connection, tenant_id: str, kind: str, names: Iterable[str]) -> None:
    """Serialises, until the transaction ends, every writer of these leads (kind "lead") or
    anonymous identities (kind "anon"): batch projection, re-score and sweeps, in every
    worker. Nothing wider is locked, so several workers share one tenant. Keys are taken in
    one sorted order; identities before leads, so no two writers can wait on each other."""
    keys = sorted({lock_key(tenant_id, kind, n) for n in names})
    if keys:
        await conn.execute(
            "SELECT count(pg_advisory_xact_lock(k))"
            " FROM (SELECT k FROM unnest($1::bigint[]) AS u(k) ORDER BY k) AS sorted",
            keys,
        )


# The event log's own columns, as staged (after the arrival order) and as read back. They
# are the `Event` fields of the same names (with `seq`, all of them): a row is taken from an
# event, and an event made from a row, by name and without a Python step per column.
EVENT_LOG_COLUMNS = ", ".join(EVENTS.columns[1:])
_EVENT_LOG_FIELDS = operator.attrgetter(*EVENTS.columns[1:])


def _event_row(ord_: int, e: Event) -> tuple[Any, ...]:
    # `properties` is the event's decoded JSON object, a dict, as the jsonb codec takes it.
    return (ord_, *_EVENT_LOG_FIELDS(e))


def _to_event(row: asyncpg.Record) -> Event:
    return Event(**row)


async def link_identities(
    conn: asyncpg.Connection, tenant_id: str, links: Sequence[tuple[str, str, datetime]]
) -> None:
    """Records anonymous_id → lead links; the first identify naming an anonymous_id wins."""
    if not links:
        return
    await conn.execute(
        """
        INSERT INTO identities (tenant_id, anonymous_id, lead_id, linked_at)
        SELECT $1, a, l, t FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS u(a, l, t)
        ON CONFLICT DO NOTHING
        """,
        tenant_id,
        [a for a, _, _ in links],
        [lead for _, lead, _ in links],
        [t for _, _, t in links],
    )


async def resolve_anonymous(
    conn: asyncpg.Connection, tenant_id: str, anonymous_ids: Iterable[str]
) -> dict[str, str]:
    ids = list(set(anonymous_ids))
    if not ids:
        return {}
    return await fetch_dict(
        conn,
        "SELECT anonymous_id, lead_id FROM identities"
        " WHERE tenant_id = $1 AND anonymous_id = ANY($2::text[])",
        tenant_id,
        ids,
    )


async def insert_events(
    conn: asyncpg.Connection, tenant_id: str, events: Sequence[Event]
) -> dict[str, int]:
    """Appends events not seen before, in arrival order; returns the new ones' seq by id."""
    if not events:
        return {}
    await conn.copy_records_to_table(
        EVENTS.name,
        records=[_event_row(i, e) for i, e in enumerate(events)],
        columns=EVENTS.columns,
    )
    return await fetch_dict(
        conn,
        f"""
        INSERT INTO events (tenant_id, {EVENT_LOG_COLUMNS})
        SELECT $1, {EVENT_LOG_COLUMNS} FROM staging_events ORDER BY ord
        ON CONFLICT DO NOTHING
        RETURNING event_id, seq
        """,
        tenant_id,
    )


async def stitch_held_touches(
    conn: asyncpg.Connection, tenant_id: str, anonymous_ids: Sequence[str]
) -> set[str]:
    """Moves held anonymous touches to the leads their anonymous_id is now linked to."""
    if not anonymous_ids:
        return set()
    rows = await conn.fetch(
        """
        UPDATE events e SET lead_id = i.lead_id, stitched = true
        FROM identities i
        WHERE e.tenant_id = $1 AND i.tenant_id = $1 AND e.lead_id IS NULL
          AND e.anonymous_id = i.anonymous_id AND i.anonymous_id = ANY($2::text[])
          -- Stated for both sides, so the planner drives from the few linked ids through
          -- events_held_anonymous instead of scanning every held touch of the tenant.
          AND e.anonymous_id = ANY($2::text[])
        RETURNING e.lead_id
        """,
        tenant_id,
        list(anonymous_ids),
    )
    return {r["lead_id"] for r in rows}


async def insert_spend(conn: asyncpg.Connection, tenant_id: str, events: Sequence[Event]) -> None:
    if not events:
        return
    await conn.copy_records_to_table(
        "staging_spend",
        records=[SPEND.row(e, tenant_id=tenant_id, amount=e.properties["amount"]) for e in events],
        columns=SPEND.columns,
    )
    await conn.execute(
        f"INSERT INTO spend ({SPEND.sql_columns}) SELECT {SPEND.sql_columns} FROM staging_spend"
        " ON CONFLICT DO NOTHING"
    )


class Head(NamedTuple):
    """What a lead's stored row says of it before a batch: its last folded seq (the lead
    cache's check) and the stage and score a change is published against."""

    last_seq: int
    stage: str
    score: int


async def lead_heads(
    conn: asyncpg.Connection, tenant_id: str, lead_ids: Sequence[str]
) -> dict[str, Head]:
    """The head of each of these leads that has a row (absent: a new lead)."""
    rows = await conn.fetch(
        "SELECT lead_id, last_seq, stage, score FROM leads"
        " WHERE tenant_id = $1 AND lead_id = ANY($2::text[])",
        tenant_id,
        list(lead_ids),
    )
    return {r[0]: Head(r[1], r[2], r[3]) for r in rows}


async def load_lead_events(
    conn: asyncpg.Connection, tenant_id: str, lead_ids: Sequence[str]
) -> dict[str, list[Event]]:
    rows = await conn.fetch(
        f"""
        SELECT seq, {EVENT_LOG_COLUMNS} FROM events
        WHERE tenant_id = $1 AND lead_id = ANY($2::text[])
        ORDER BY lead_id, occurred_at, seq
        """,
        tenant_id,
        list(lead_ids),
    )
    by_lead: dict[str, list[Event]] = {}
    for row in rows:
        by_lead.setdefault(row["lead_id"], []).append(_to_event(row))
    return by_lead


@dataclass(slots=True)
class LeadWrites:
    """The rows a batch changed. `replaced` leads have every transition and credit
    rewritten; the others get their new transitions appended and the credits of
    `credits_dropped` conversions, (lead, opportunity, kind), replaced by `credits`."""

    replaced: list[str] = field(default_factory=list)
    leads: list[tuple[Any, ...]] = field(default_factory=list)
    transitions: list[tuple[Any, ...]] = field(default_factory=list)
    opportunities: list[tuple[Any, ...]] = field(default_factory=list)
    credits: list[tuple[Any, ...]] = field(default_factory=list)
    credits_dropped: list[tuple[str, str, str]] = field(default_factory=list)


_LEAD_UPDATES = ", ".join(
    f"{c} = EXCLUDED.{c}" for c in LEADS.columns if c not in ("tenant_id", "lead_id")
)
_OPPORTUNITY_UPDATES = ", ".join(
    f"{c} = EXCLUDED.{c}" for c in OPPORTUNITIES.columns if c not in ("tenant_id", "opportunity_id")
)


async def write_lead_rows(
    conn: asyncpg.Connection, tenant_id: str, w: LeadWrites
) -> dict[str, int]:
    """Writes what changed; returns how many transitions each replaced lead had, so the
    caller publishes only the new ones."""
    counts: dict[str, int] = {}
    if w.replaced:
        counts = await fetch_dict(
            conn,
            """
            WITH gone AS (
                DELETE FROM stage_transitions WHERE tenant_id = $1 AND lead_id = ANY($2::text[])
                RETURNING lead_id
            )
            SELECT lead_id, count(*) FROM gone GROUP BY lead_id
            """,
            tenant_id,
            w.replaced,
        )
        await conn.execute(
            "DELETE FROM attribution_credits WHERE tenant_id = $1 AND lead_id = ANY($2::text[])",
            tenant_id,
            w.replaced,
        )
    if w.credits_dropped:
        await conn.execute(
            """
            DELETE FROM attribution_credits c
            USING unnest($2::text[], $3::text[], $4::text[]) AS d(lead_id, opportunity_id, kind)
            WHERE c.tenant_id = $1 AND c.lead_id = d.lead_id
              AND c.opportunity_id = d.opportunity_id AND c.kind = d.kind
            """,
            tenant_id,
            *as_columns(w.credits_dropped, 3),
        )
    await _stage_and_insert(
        conn, LEADS, w.leads, f"(tenant_id, lead_id) DO UPDATE SET {_LEAD_UPDATES}"
    )
    await _stage_and_insert(conn, TRANSITIONS, w.transitions)
    await _stage_and_insert(conn, CREDITS, w.credits)
    if w.opportunities:
        # An opportunity id is the tenant's; should two leads name the same one, the later
        # row wins rather than the upsert failing on a row it would touch twice.
        at = OPPORTUNITIES.index("opportunity_id")
        unique = list({row[at]: row for row in w.opportunities}.values())
        await _stage_and_insert(
            conn,
            OPPORTUNITIES,
            unique,
            f"(tenant_id, opportunity_id) DO UPDATE SET {_OPPORTUNITY_UPDATES}",
        )
    return counts


async def _stage_and_insert(
    conn: asyncpg.Connection,
    table: Table,
    rows: Sequence[tuple[Any, ...]],
    on_conflict: str | None = None,
) -> None:
    if not rows:
        return
    await conn.copy_records_to_table(f"staging_{table.name}", records=rows, columns=table.columns)
    cols = table.sql_columns
    upsert = f" ON CONFLICT {on_conflict}" if on_conflict else ""
    await conn.execute(
        f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM staging_{table.name}{upsert}"
    )
