"""`tandem quarantine list | release SLUG | replay SLUG`: tenants the workers quarantined.

A tenant whose events fail in a burst is quarantined by the workers and its further events
are parked in `parked_events` (services/workers/quarantine.py). `release` lets its new events
flow again, leaving the parked ones where they are; `replay` releases the tenant and sends
its parked events back to the touchpoint topic, in the order they were read, removing each
chunk once Kafka has acknowledged it. Processing is idempotent by (tenant, event id), so a
replay interrupted and run again applies nothing twice.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import orjson

from services.admin.progress import progress
from services.admin.tenants import require_tenant
from shared.db import create_pool, drain, tenant_fetch, tenant_tx
from shared.kafka import TOUCHPOINTS, make_producer
from shared.records import encode_records
from shared.settings import load_settings

REPLAY_CHUNK = 1_000


@dataclass(frozen=True)
class QuarantinedTenant:
    tenant_id: str
    since: datetime
    failures: int
    window: int
    last_error: str
    parked: int


async def list_quarantined(database_url: str) -> list[QuarantinedTenant]:
    pool = await create_pool(database_url, max_size=1)
    try:
        slugs = [r["t"] for r in await pool.fetch("SELECT tandem_quarantined_tenants() AS t")]
        out = []
        for slug in sorted(slugs):
            rows = await tenant_fetch(
                pool,
                slug,
                "SELECT q.since, q.failures, q.window_size, q.last_error,"
                " (SELECT count(*) FROM parked_events p WHERE p.tenant_id = q.tenant_id)"
                " AS parked FROM quarantined_tenants q WHERE q.tenant_id = $1",
            )
            for row in rows:  # none when released since the list was read
                out.append(
                    QuarantinedTenant(
                        slug,
                        row["since"],
                        row["failures"],
                        row["window_size"],
                        row["last_error"],
                        row["parked"],
                    )
                )
        return out
    finally:
        await pool.close()


async def _release(pool: asyncpg.Pool, slug: str) -> bool:
    await require_tenant(pool, slug)
    async with tenant_tx(pool, slug) as conn:
        # Waits for a worker parking events of this tenant right now (it holds the row
        # FOR SHARE); once this commits, no worker parks another of its events.
        gone = await conn.fetchval(
            "DELETE FROM quarantined_tenants WHERE tenant_id = $1 RETURNING true", slug
        )
    return bool(gone)


async def release(database_url: str, slug: str) -> bool:
    """Lifts the quarantine; returns False if the tenant was not quarantined."""
    pool = await create_pool(database_url, max_size=1)
    try:
        return await _release(pool, slug)
    finally:
        await pool.close()


async def replay(
    database_url: str, bootstrap: str, slug: str, topic: str = TOUCHPOINTS
) -> tuple[bool, int]:
    """Releases the tenant and replays its parked events; returns (was quarantined, events)."""
    pool = await create_pool(database_url, max_size=1)
    producer = make_producer(bootstrap, request_timeout_ms=30_000)
    await producer.start()
    try:
        was_quarantined = await _release(pool, slug)
        async with tenant_tx(pool, slug) as conn:
            total = await conn.fetchval(
                "SELECT count(*) FROM parked_events WHERE tenant_id = $1", slug
            )
        partitions = len(await producer.partitions_for(topic))
        with progress() as bar:
            task = bar.add_task(f"replaying {slug}", total=total)

            async def send(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> None:
                events = [orjson.loads(r["payload"]) for r in rows]
                futures = [
                    await producer.send(topic, r.value, key=r.key, partition=r.partition)
                    for r in encode_records(events, partitions)
                ]
                await asyncio.gather(*futures)
                # Removed in the transaction that read them, after Kafka acknowledged.
                await conn.execute(
                    "DELETE FROM parked_events WHERE tenant_id = $1 AND (topic, partition,"
                    ' "offset", idx) IN (SELECT * FROM unnest($2::text[], $3::int[],'
                    " $4::bigint[], $5::int[]))",
                    slug,
                    [r["topic"] for r in rows],
                    [r["partition"] for r in rows],
                    [r["offset"] for r in rows],
                    [r["idx"] for r in rows],
                )
                bar.advance(task, len(rows))

            # A chunk short of REPLAY_CHUNK ends it: released, the tenant gets no new parked
            # events.
            replayed = await drain(
                pool,
                slug,
                'SELECT topic, partition, "offset", idx, payload FROM parked_events'
                ' WHERE tenant_id = $1 ORDER BY parked_at, partition, "offset", idx'
                " LIMIT $2",
                REPLAY_CHUNK,
                send,
            )
        return was_quarantined, replayed
    finally:
        await producer.stop()
        await pool.close()


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    tenants = asyncio.run(list_quarantined(load_settings().database_url))
    table = Table("tenant", "since (UTC)", "failures / window", "parked events", "last error")
    for t in tenants:
        since = t.since.isoformat(timespec="seconds")
        table.add_row(t.tenant_id, since, f"{t.failures} / {t.window}", str(t.parked), t.last_error)
    Console(width=200).print(table)
    print(f"{len(tenants)} tenants quarantined")
    return 0


def _release_cmd(args: argparse.Namespace) -> int:
    if asyncio.run(release(load_settings().database_url, args.slug)):
        print(f"{args.slug} released: its new events are applied again")
        print(f"its parked events stay parked until `tandem quarantine replay {args.slug}`")
    else:
        print(f"{args.slug} was not quarantined")
    return 0


def _replay_cmd(args: argparse.Namespace) -> int:
    settings = load_settings()
    was, count = asyncio.run(replay(settings.database_url, settings.kafka_bootstrap, args.slug))
    state = "released and" if was else "(not quarantined)"
    print(f"{args.slug} {state} {count} parked events replayed to {TOUCHPOINTS}")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    quarantine = sub.add_parser(
        "quarantine", help="tenants quarantined for a burst of failing events"
    ).add_subparsers(dest="action", required=True)
    quarantine.add_parser("list", help="quarantined tenants and their parked events").set_defaults(
        fn=_list
    )
    for name, fn, text in [
        ("release", _release_cmd, "apply the tenant's new events again (parked ones stay)"),
        ("replay", _replay_cmd, "release the tenant and replay its parked events"),
    ]:
        cmd = quarantine.add_parser(name, help=text)
        cmd.add_argument("slug")
        cmd.set_defaults(fn=fn)
