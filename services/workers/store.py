"""The worker's PostgreSQL side: the event log, identities, and the lead read model.

Every write is keyed by (tenant, event id), or writes a lead's derived rows from its folded
state (the rows it changed, or all of them), so a batch that is delivered twice leaves the
same rows as a batch delivered once. RLS forbids
COPY into tenant tables, so bulk rows go through per-connection temp staging tables that
PostgreSQL empties at commit.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from shared.db import as_columns, create_pool, delete_by_keys
from shared.domain.events import Event
from shared.locks import Key


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
    "tenant_id",
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
    ord integer, tenant_id text, event_id text, type text, occurred_at timestamptz, lead_id text,
    anonymous_id text, account_id text, channel text, campaign_id text, content_id text,
    message_id text, properties jsonb, stitched boolean, config_version integer
) ON COMMIT DELETE ROWS;
""" + "".join(
    f"CREATE TEMP TABLE IF NOT EXISTS staging_{t} (LIKE {t} INCLUDING DEFAULTS)"
    " ON COMMIT DELETE ROWS;\n"
    for t in _STAGED_TABLES
)


async def _create_staging(conn: asyncpg.Connection) -> None:
    await conn.execute(STAGING_DDL)


# Plans: PostgreSQL's default choice (a generic plan once it costs no more than the custom
# ones). A `SET plan_cache_mode = force_custom_plan` here lasted only until the pool's
# `RESET ALL` at the first release; made to last, it cost 6 µs more of PostgreSQL per
# event (48 to 51 against 57 to 58, 200,000 array events) in planning, now that the key
# look-ups go one key at a time and no longer need a plan per array size.
async def create_worker_pool(dsn: str, *, min_size: int = 1, max_size: int) -> asyncpg.Pool:
    """A pool as the worker's: the staging tables on every connection."""
    return await create_pool(dsn, min_size=min_size, max_size=max_size, setup=_create_staging)


# The event log's own columns, as staged (after the arrival order and tenant) and as read
# back. They are the `Event` fields of the same names (with `seq`, all of them): a row is
# taken from an event, and an event made from a row, by name and without a Python step per
# column.
EVENT_LOG_COLUMNS = ", ".join(EVENTS.columns[2:])
_EVENT_LOG_FIELDS = operator.attrgetter(*EVENTS.columns[2:])


def _event_row(ord_: int, tenant_id: str, e: Event) -> tuple[Any, ...]:
    # `properties` is the event's decoded JSON object, a dict, as the jsonb codec takes it.
    return (ord_, tenant_id, *_EVENT_LOG_FIELDS(e))


def _key_columns(keys: Iterable[Key]) -> tuple[list[str], list[str]]:
    pairs = sorted(set(keys))
    return [t for t, _ in pairs], [n for _, n in pairs]


# An event read back from the log, its columns in the order of `Event`'s fields.
_EVENT_FIELDS = ", ".join(f"e.{f.name}" for f in fields(Event))


def _to_event(row: asyncpg.Record) -> Event:
    return Event(*row[1:])  # after the tenant


async def link_identities(
    conn: asyncpg.Connection, links: Sequence[tuple[str, str, str, datetime]]
) -> None:
    """Records (tenant, anonymous_id) → lead links; the first identify naming an
    anonymous_id wins."""
    if not links:
        return
    await conn.execute(
        """
        INSERT INTO identities (tenant_id, anonymous_id, lead_id, linked_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
        ON CONFLICT DO NOTHING
        """,
        *as_columns(links, 4),
    )


async def resolve_anonymous(conn: asyncpg.Connection, keys: Iterable[Key]) -> dict[Key, str]:
    tenants, ids = _key_columns(keys)
    if not ids:
        return {}
    rows = await conn.fetch(
        "SELECT i.tenant_id, i.anonymous_id, i.lead_id"
        " FROM unnest($1::text[], $2::text[]) AS k(tenant_id, anonymous_id)"
        " CROSS JOIN LATERAL (SELECT * FROM identities i WHERE i.tenant_id = k.tenant_id"
        " AND i.anonymous_id = k.anonymous_id OFFSET 0) AS i",
        tenants,
        ids,
    )
    return {(r[0], r[1]): r[2] for r in rows}


async def insert_events(
    conn: asyncpg.Connection, events: Sequence[tuple[str, Event]]
) -> dict[Key, int]:
    """Appends events not seen before, in arrival order; returns the new ones' seq by
    (tenant, event id)."""
    if not events:
        return {}
    await conn.copy_records_to_table(
        EVENTS.name,
        records=[_event_row(i, t, e) for i, (t, e) in enumerate(events)],
        columns=EVENTS.columns,
    )
    rows = await conn.fetch(
        f"""
        INSERT INTO events (tenant_id, {EVENT_LOG_COLUMNS})
        SELECT tenant_id, {EVENT_LOG_COLUMNS} FROM staging_events ORDER BY ord
        ON CONFLICT DO NOTHING
        RETURNING tenant_id, event_id, seq
        """
    )
    return {(r[0], r[1]): r[2] for r in rows}


async def stitch_held_touches(conn: asyncpg.Connection, keys: Iterable[Key]) -> set[Key]:
    """Moves held anonymous touches to the leads their (tenant, anonymous_id) is now linked
    to; returns those leads."""
    tenants, ids = _key_columns(keys)
    if not ids:
        return set()
    rows = await conn.fetch(
        """
        UPDATE events e SET lead_id = s.lead_id, stitched = true
        -- Each linked id's lead looked up by key, and its held touches found from there
        -- through events_held_anonymous. Joined as tables, with anonymous ids that repeat
        -- across tenants, the planner hashed the whole identities table: its cost grew
        -- with every tenant's identities (14 ms a batch at 500 tenants).
        FROM (
            SELECT k.tenant_id, k.anonymous_id, i.lead_id
            FROM unnest($1::text[], $2::text[]) AS k(tenant_id, anonymous_id)
            CROSS JOIN LATERAL (
                SELECT i.lead_id FROM identities i
                WHERE i.tenant_id = k.tenant_id AND i.anonymous_id = k.anonymous_id OFFSET 0
            ) AS i
            OFFSET 0
        ) AS s
        WHERE e.tenant_id = s.tenant_id AND e.anonymous_id = s.anonymous_id
          AND e.lead_id IS NULL
        RETURNING e.tenant_id, e.lead_id
        """,
        tenants,
        ids,
    )
    return {(r[0], r[1]) for r in rows}


async def held_behind_links(conn: asyncpg.Connection, keys: Iterable[Key]) -> set[Key]:
    """The (tenant, lead)s whose linked anonymous ids, of these, still hold touches."""
    tenants, ids = _key_columns(keys)
    if not ids:
        return set()
    rows = await conn.fetch(
        """
        SELECT DISTINCT i.tenant_id, i.lead_id
        FROM unnest($1::text[], $2::text[]) AS k(tenant_id, anonymous_id)
        CROSS JOIN LATERAL (
            SELECT tenant_id, lead_id FROM identities i
            WHERE i.tenant_id = k.tenant_id AND i.anonymous_id = k.anonymous_id
            OFFSET 0
        ) AS i
        WHERE EXISTS (
            SELECT 1 FROM events e
            WHERE e.tenant_id = k.tenant_id AND e.anonymous_id = k.anonymous_id
              AND e.lead_id IS NULL
        )
        """,
        tenants,
        ids,
    )
    return {(r[0], r[1]) for r in rows}


async def insert_spend(conn: asyncpg.Connection, events: Sequence[tuple[str, Event]]) -> None:
    if not events:
        return
    await conn.copy_records_to_table(
        "staging_spend",
        records=[SPEND.row(e, tenant_id=t, amount=e.properties["amount"]) for t, e in events],
        columns=SPEND.columns,
    )
    await conn.execute(
        f"INSERT INTO spend ({SPEND.sql_columns}) SELECT {SPEND.sql_columns} FROM staging_spend"
        " ON CONFLICT DO NOTHING"
    )


class Head(NamedTuple):
    """What a lead's stored row says of it before a batch: its last folded seq (the lead
    cache's check), the stage and score a change is published against, and its MQL instant
    and answers (what the SLA clock reads)."""

    last_seq: int
    stage: str
    score: int
    sla: tuple[datetime | None, datetime | None, datetime | None]


async def lead_heads(conn: asyncpg.Connection, leads: Iterable[Key]) -> dict[Key, Head]:
    """The head of each of these leads that has a row (absent: a new lead)."""
    # Lead by lead through the primary key (see shared.db.delete_by_keys): as a join, a
    # batch of a few hundred leads was hashed against the whole table.
    rows = await conn.fetch(
        "SELECT l.tenant_id, l.lead_id, l.last_seq, l.stage, l.score, l.mql_at,"
        " l.sla_response_at, l.sla_disposition_at"
        " FROM unnest($1::text[], $2::text[]) AS k(tenant_id, lead_id)"
        " CROSS JOIN LATERAL (SELECT * FROM leads l WHERE l.tenant_id = k.tenant_id"
        " AND l.lead_id = k.lead_id OFFSET 0) AS l",
        *_key_columns(leads),
    )
    return {(r[0], r[1]): Head(r[2], r[3], r[4], (r[5], r[6], r[7])) for r in rows}


async def load_lead_events(
    conn: asyncpg.Connection, leads: Iterable[Key]
) -> dict[Key, list[Event]]:
    rows = await conn.fetch(
        f"""
        SELECT e.tenant_id, {_EVENT_FIELDS}
        FROM unnest($1::text[], $2::text[]) AS k(tenant_id, lead_id)
        -- One lead at a time through events_lead, whatever the statistics say a lead holds
        -- (see shared.db.delete_by_keys).
        CROSS JOIN LATERAL (
            SELECT * FROM events e
            WHERE e.tenant_id = k.tenant_id AND e.lead_id = k.lead_id
            OFFSET 0
        ) AS e
        ORDER BY e.tenant_id, e.lead_id, occurred_at, seq
        """,
        *_key_columns(leads),
    )
    by_lead: dict[Key, list[Event]] = {}
    for row in rows:
        by_lead.setdefault((row[0], row["lead_id"]), []).append(_to_event(row))
    return by_lead


@dataclass(slots=True)
class LeadWrites:
    """The rows a batch changed (each row names its tenant). `replaced` leads have every
    transition and credit rewritten; the others get their new transitions appended and the
    credits of `credits_dropped` conversions, (tenant, lead, opportunity, kind), replaced
    by `credits`."""

    replaced: list[Key] = field(default_factory=list)
    leads: list[tuple[Any, ...]] = field(default_factory=list)
    transitions: list[tuple[Any, ...]] = field(default_factory=list)
    opportunities: list[tuple[Any, ...]] = field(default_factory=list)
    credits: list[tuple[Any, ...]] = field(default_factory=list)
    credits_dropped: list[tuple[str, str, str, str]] = field(default_factory=list)


# `updated_at` is not a folded value: it says when the row was last written (a re-score's
# progress is followed by it), as a fresh insert's default would.
_LEAD_UPDATES = ", ".join(
    [f"{c} = EXCLUDED.{c}" for c in LEADS.columns if c not in ("tenant_id", "lead_id")]
    + ["updated_at = now()"]
)
_OPPORTUNITY_UPDATES = ", ".join(
    f"{c} = EXCLUDED.{c}" for c in OPPORTUNITIES.columns if c not in ("tenant_id", "opportunity_id")
)


async def write_lead_rows(conn: asyncpg.Connection, w: LeadWrites) -> dict[Key, int]:
    """Writes what changed; returns how many transitions each replaced lead had, so the
    caller publishes only the new ones."""
    counts: dict[Key, int] = {}
    if w.replaced:
        tenants, ids = _key_columns(w.replaced)
        rows = await conn.fetch(
            f"""
            WITH gone AS (
                {delete_by_keys("stage_transitions", ("tenant_id", "lead_id"))}
                RETURNING tenant_id, lead_id
            )
            SELECT tenant_id, lead_id, count(*) FROM gone GROUP BY tenant_id, lead_id
            """,
            tenants,
            ids,
        )
        counts = {(r[0], r[1]): r[2] for r in rows}
        await conn.execute(
            delete_by_keys("attribution_credits", ("tenant_id", "lead_id")), tenants, ids
        )
    if w.credits_dropped:
        await conn.execute(
            delete_by_keys(
                "attribution_credits", ("tenant_id", "lead_id", "opportunity_id", "kind")
            ),
            *as_columns(w.credits_dropped, 4),
        )
    await _stage_and_insert(
        conn, LEADS, w.leads, f"(tenant_id, lead_id) DO UPDATE SET {_LEAD_UPDATES}"
    )
    await _stage_and_insert(conn, TRANSITIONS, w.transitions)
    await _stage_and_insert(conn, CREDITS, w.credits)
    if w.opportunities:
        # An opportunity id is the tenant's; should two leads name the same one, the later
        # row wins rather than the upsert failing on a row it would touch twice.
        tenant, at = OPPORTUNITIES.index("tenant_id"), OPPORTUNITIES.index("opportunity_id")
        unique = list({(row[tenant], row[at]): row for row in w.opportunities}.values())
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
