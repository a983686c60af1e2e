"""`tandem tenant quota SLUG --events-per-second N --events-per-day M`: a tenant's intake
quota, enforced by every gateway together within a few seconds of being set."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import asyncpg

from services.admin.tenants import TenantError
from shared.settings import load_settings


async def set_quota(
    admin_dsn: str, slug: str, per_second: int | None, per_day: int | None
) -> tuple[int | None, int | None]:
    """Sets the quota (0 removes a limit; None keeps it); returns the quota in force."""
    for name, value in (("--events-per-second", per_second), ("--events-per-day", per_day)):
        if value is not None and value < 0:
            raise TenantError(f"{name} must be 0 (no limit) or more, got {value}")
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM tenants WHERE tenant_id = $1", slug):
            raise TenantError(f"no tenant {slug!r}")
        row = await conn.fetchrow(
            "INSERT INTO tenant_quotas AS q (tenant_id, events_per_second, events_per_day)"
            " VALUES ($1, nullif($2::int, 0), nullif($3::bigint, 0))"
            " ON CONFLICT (tenant_id) DO UPDATE SET"
            " events_per_second = CASE WHEN $2::int IS NULL THEN q.events_per_second"
            " ELSE nullif($2::int, 0) END,"
            " events_per_day = CASE WHEN $3::bigint IS NULL THEN q.events_per_day"
            " ELSE nullif($3::bigint, 0) END, updated_at = now()"
            " RETURNING events_per_second, events_per_day",
            slug,
            per_second,
            per_day,
        )
    finally:
        await conn.close()
    return row["events_per_second"], row["events_per_day"]


def _quota_command(args: argparse.Namespace) -> int:
    per_second, per_day = asyncio.run(
        set_quota(
            load_settings().database_admin_url,
            args.slug,
            args.events_per_second,
            args.events_per_day,
        )
    )

    def shown(value: int | None, unit: str) -> str:
        return "no limit" if value is None else f"{value:,} events per {unit}"

    print(f"intake quota of {args.slug}: {shown(per_second, 'second')}, {shown(per_day, 'day')}")
    return 0


def register(tenant: Any) -> None:
    """Adds `tandem tenant quota` to the CLI."""
    quota = tenant.add_parser("quota", help="a tenant's intake quota (all gateways together)")
    quota.add_argument("slug")
    quota.add_argument("--events-per-second", type=int, help="0 removes the limit")
    quota.add_argument("--events-per-day", type=int, help="per UTC day; 0 removes the limit")
    quota.set_defaults(fn=_quota_command)
