"""Erasing one person (SPEC 10), for `tandem erase` and the `eraseLead` mutation alike.

In one transaction of the tenant, under the same per-lead and per-identity locks the workers
take (shared/locks.py), `erase_lead` records the suppression entries (shared/suppression.py) and
deletes the lead's events, its linked anonymous ids and their held touches, its traits and
every row derived from them, then recomputes the accounts the lead belonged to
(shared/account_store.py). An erasure cannot be undone and its suppression drops the
person's later events, so both entry points refuse a lead the tenant does not have
(`lead_known`: a typo must not suppress a stranger); `lift_suppression` undoes a mistaken one.
Metrics follow by themselves: the day counters are kept by triggers on `leads`, attribution
and pipeline figures are read from the credits and opportunities that went with the lead.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

import asyncpg

from shared import account_store, locks
from shared.config_store import current_config
from shared.suppression import ANONYMOUS, LEAD, erasure_key, subject_hash, subject_hashes

# Rows of one lead, table by table: (table, condition on $2 = lead id, $3 = its anonymous
# ids). Tables of a later release that this database does not have yet are skipped.
_LEAD_ROWS: tuple[tuple[str, str], ...] = (
    ("events", "lead_id = $2 OR anonymous_id = ANY($3::text[])"),
    ("identities", "lead_id = $2 OR anonymous_id = ANY($3::text[])"),
    ("stage_transitions", "lead_id = $2"),
    ("attribution_credits", "lead_id = $2"),
    ("opportunities", "lead_id = $2"),
    ("sla_breaches", "lead_id = $2"),
    ("account_members", "lead_id = $2"),
    ("connector_links", "lead_id = $2"),
    ("connector_parked", "event->>'lead_id' = $2 OR event->>'anonymous_id' = ANY($3::text[])"),
    ("crm_pending", "lead_id = $2"),
    ("crm_synced", "lead_id = $2"),
    ("webhook_score_marks", "lead_id = $2"),
    ("leads", "lead_id = $2"),
)


async def erase_lead(conn: asyncpg.Connection, tenant_id: str, lead_id: str) -> dict[str, int]:
    """Erases one lead; `conn` is in a transaction bound to the tenant. Returns the rows
    removed per table (all zero for a lead that does not exist; erasing it still suppresses
    the id). Idempotent."""
    anonymous = await _anonymous_ids(conn, tenant_id, lead_id)
    # The workers' order: identities, then leads; a batch of this lead waits, or is waited on.
    # The lead's fellow account members are locked in the same sweep: their accounts are
    # recomputed below, and taking their locks after this lead's could deadlock with a
    # batch holding one of them while it waits for this lead.
    await locks.lock(conn, tenant_id, "anon", anonymous)
    await locks.lock(
        conn, tenant_id, "lead", [lead_id, *await _fellow_members(conn, tenant_id, lead_id)]
    )
    anonymous = sorted(set(anonymous) | set(await _anonymous_ids(conn, tenant_id, lead_id)))
    key = await erasure_key(conn, tenant_id)
    await conn.execute(
        "INSERT INTO erased_subjects (tenant_id, kind, subject_hash, lead_hash)"
        " SELECT $1, k, h, $4 FROM unnest($2::text[], $3::bytea[]) AS u(k, h)"
        " ON CONFLICT DO NOTHING",
        tenant_id,
        [LEAD] + [ANONYMOUS] * len(anonymous),
        [subject_hash(key, lead_id)] + [subject_hash(key, a) for a in anonymous],
        subject_hash(key, lead_id),
    )
    member_of = [
        r["account_id"]
        for r in await conn.fetch(
            "SELECT account_id FROM account_members WHERE tenant_id = $1 AND lead_id = $2",
            tenant_id,
            lead_id,
        )
    ]
    existing = await _tables(conn, [t for t, _ in _LEAD_ROWS] + ["webhook_deliveries"])
    removed: dict[str, int] = {}
    for table, condition in _LEAD_ROWS:
        if table not in existing:
            continue
        params = (lead_id, anonymous) if "$3" in condition else (lead_id,)
        status = await conn.execute(
            f"DELETE FROM {table} WHERE tenant_id = $1 AND ({condition})", tenant_id, *params
        )
        removed[table] = int(status.split()[-1])
    if "webhook_deliveries" in existing:
        # A delivery's body is the notification about the lead as sent (JSON or a Slack
        # text), naming the lead as a JSON string; its attempts go with it (cascade).
        status = await conn.execute(
            "DELETE FROM webhook_deliveries WHERE tenant_id = $1"
            " AND strpos(body, to_jsonb($2::text)::text) > 0",
            tenant_id,
            lead_id,
        )
        removed["webhook_deliveries"] = int(status.split()[-1])
    await _refresh_accounts(conn, tenant_id, member_of)
    return removed


async def lead_known(conn: asyncpg.Connection, tenant_id: str, lead_id: str) -> bool:
    """Whether the tenant has the lead: in the read model, or as events not projected yet."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM leads WHERE tenant_id = $1 AND lead_id = $2)"
            " OR EXISTS (SELECT 1 FROM events WHERE tenant_id = $1 AND lead_id = $2)",
            tenant_id,
            lead_id,
        )
    )


async def erased_at(conn: asyncpg.Connection, tenant_id: str, lead_id: str) -> datetime | None:
    """When the lead was erased, if its suppression is in force."""
    value: datetime | None = await conn.fetchval(
        "SELECT max(erased_at) FROM erased_subjects WHERE tenant_id = $1 AND kind = $2"
        " AND subject_hash = ANY($3::bytea[])",
        tenant_id,
        LEAD,
        await suppressed_hashes(conn, tenant_id, lead_id),
    )
    return value


async def lift_suppression(conn: asyncpg.Connection, tenant_id: str, subject_id: str) -> int:
    """Lifts the suppression of a lead (with the anonymous ids erased with it) or of one
    anonymous id; returns the entries removed. Later events naming them are applied again;
    what was erased or dropped meanwhile stays gone."""
    status = await conn.execute(
        "DELETE FROM erased_subjects WHERE tenant_id = $1 AND (subject_hash = ANY($2::bytea[])"
        " OR lead_hash = ANY($2::bytea[]))",
        tenant_id,
        await suppressed_hashes(conn, tenant_id, subject_id),
    )
    return int(status.split()[-1])


async def suppressed_hashes(
    conn: asyncpg.Connection, tenant_id: str, subject_id: str
) -> list[bytes]:
    """Every hash under which the tenant may have recorded `subject_id`'s suppression."""
    return subject_hashes(await erasure_key(conn, tenant_id), subject_id)


async def _tables(conn: asyncpg.Connection, names: list[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT relname FROM pg_class WHERE relname = ANY($1::text[])"
        " AND relnamespace = 'public'::regnamespace",
        names,
    )
    return {r["relname"] for r in rows}


async def _fellow_members(conn: asyncpg.Connection, tenant_id: str, lead_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT other.lead_id FROM account_members own"
        " JOIN account_members other"
        " ON other.tenant_id = own.tenant_id AND other.account_id = own.account_id"
        " WHERE own.tenant_id = $1 AND own.lead_id = $2",
        tenant_id,
        lead_id,
    )
    return [r["lead_id"] for r in rows]


async def _anonymous_ids(conn: asyncpg.Connection, tenant_id: str, lead_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT anonymous_id FROM identities WHERE tenant_id = $1 AND lead_id = $2"
        " UNION SELECT anonymous_id FROM events WHERE tenant_id = $1 AND lead_id = $2"
        " AND anonymous_id IS NOT NULL",
        tenant_id,
        lead_id,
    )
    return sorted(r["anonymous_id"] for r in rows)


async def _refresh_accounts(
    conn: asyncpg.Connection, tenant_id: str, account_ids: list[str]
) -> None:
    """Recomputes the accounts the lead belonged to from their remaining members; an account
    left without members goes with the lead."""
    if not account_ids:
        return
    members = [
        r["lead_id"]
        for r in await conn.fetch(
            "SELECT lead_id FROM account_members WHERE tenant_id = $1"
            " AND account_id = ANY($2::text[])",
            tenant_id,
            account_ids,
        )
    ]
    if members:
        _, config = await current_config(conn, tenant_id)
        await account_store.update_accounts(conn, tenant_id, members, config)
    await conn.execute(
        "DELETE FROM accounts a WHERE a.tenant_id = $1 AND a.account_id = ANY($2::text[])"
        " AND NOT EXISTS (SELECT 1 FROM account_members m"
        " WHERE m.tenant_id = a.tenant_id AND m.account_id = a.account_id)",
        tenant_id,
        account_ids,
    )


async def erase(
    transaction: Callable[[], AbstractAsyncContextManager[asyncpg.Connection]],
    tenant_id: str,
    lead_id: str,
) -> dict[str, int]:
    """Erases a lead in two transactions of the tenant: the second removes whatever a batch
    of the lead that was already past the suppression check (and waiting on the lead's
    lock) wrote meanwhile."""
    totals: dict[str, int] = {}
    for _ in range(2):
        async with transaction() as conn:
            for table, n in (await erase_lead(conn, tenant_id, lead_id)).items():
                totals[table] = totals.get(table, 0) + n
    return totals
