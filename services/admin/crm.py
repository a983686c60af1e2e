"""`tandem crm`: turns a tenant's CRM sync on (or off) and sets its mapping (SPEC 15)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import asyncpg

from services.admin.tenants import TenantError, require_tenant
from services.delivery.crm_sync import DEFAULT_FIELD_MAPS, TANDEM_FIELDS
from shared.egress import EgressPolicy, UrlRefused, check_stored_url
from shared.secret_box import box, context_for
from shared.settings import load_settings

DEFAULT_ID_TRAITS = {"hubspot": "hubspot_id", "salesforce": "salesforce_id"}
DEFAULT_OBJECTS = {"hubspot": "contacts", "salesforce": "Lead"}
OBJECTS = {"hubspot": ("contacts",), "salesforce": ("Lead", "Contact")}
# A token on the command line would sit in `ps` and the shell's history.
TOKEN_ENV = "TANDEM_CRM_TOKEN"
TOKEN_HELP = f"pipe it into --token-stdin, or set {TOKEN_ENV}"


def read_token(from_stdin: bool) -> str:
    """The CRM token from standard input (--token-stdin) or TANDEM_CRM_TOKEN."""
    token = sys.stdin.readline() if from_stdin else os.environ.get(TOKEN_ENV, "")
    if not token.strip():
        raise TenantError(f"no CRM token given: {TOKEN_HELP}")
    return token.strip()


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """`field=property` pairs over the Tandem fields; those not named keep their default."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, sep, prop = pair.partition("=")
        if not sep or not prop.strip():
            raise TenantError(f"--map {pair!r}: write FIELD=PROPERTY")
        if field not in TANDEM_FIELDS:
            raise TenantError(f"--map {pair!r}: field must be one of {', '.join(TANDEM_FIELDS)}")
        mapping[field] = prop.strip()
    return mapping


async def set_connection(
    admin_dsn: str,
    slug: str,
    provider: str,
    *,
    token: str,
    base_url: str | None = None,
    id_trait: str | None = None,
    object_type: str | None = None,
    mapping: dict[str, str] | None = None,
    api_version: str = "v61.0",
) -> dict[str, str]:
    """Creates or replaces the tenant's connection; returns the field mapping in force."""
    if provider not in DEFAULT_FIELD_MAPS:
        raise TenantError(f"provider must be one of {', '.join(DEFAULT_FIELD_MAPS)}")
    if not token.strip():
        raise TenantError(f"the CRM token is empty: {TOKEN_HELP}")
    if base_url is not None:
        # Refused now rather than at each sync; the delivery service checks the addresses
        # the name resolves to on every request.
        try:
            check_stored_url(base_url, EgressPolicy.from_env())
        except UrlRefused as exc:
            raise TenantError(f"--base-url {base_url!r}: {exc}") from exc
    kind = object_type or DEFAULT_OBJECTS[provider]
    if kind not in OBJECTS[provider]:
        raise TenantError(f"--object for {provider} must be one of {', '.join(OBJECTS[provider])}")
    fields = {**DEFAULT_FIELD_MAPS[provider], **(mapping or {})}
    conn = await asyncpg.connect(admin_dsn)
    try:
        await require_tenant(conn, slug)
        await conn.execute(
            "INSERT INTO crm_connections (tenant_id, provider, enabled, base_url, token,"
            " object_type, id_trait, field_map, api_version)"
            " VALUES ($1, $2, true, $3, $4, $5, $6, $7::jsonb, $8)"
            " ON CONFLICT (tenant_id, provider) DO UPDATE SET enabled = true,"
            " base_url = EXCLUDED.base_url, token = EXCLUDED.token,"
            " object_type = EXCLUDED.object_type, id_trait = EXCLUDED.id_trait,"
            " field_map = EXCLUDED.field_map, api_version = EXCLUDED.api_version",
            slug,
            provider,
            base_url,
            box().seal(token.strip(), context_for("crm_connections", "token", slug)),
            kind,
            id_trait or DEFAULT_ID_TRAITS[provider],
            json.dumps(fields),
            api_version,
        )
    finally:
        await conn.close()
    return fields


async def disable_connection(admin_dsn: str, slug: str, provider: str) -> bool:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await require_tenant(conn, slug)
        done = await conn.execute(
            "UPDATE crm_connections SET enabled = false WHERE tenant_id = $1 AND provider = $2",
            slug,
            provider,
        )
    finally:
        await conn.close()
    return str(done) != "UPDATE 0"


def register(sub: Any) -> None:
    """Adds `tandem crm set|disable` to the CLI's subcommands."""
    crm = sub.add_parser("crm", help="CRM sync of a tenant (HubSpot, Salesforce)")
    actions = crm.add_subparsers(dest="action", required=True)
    put = actions.add_parser("set", help="turn a tenant's sync on, or change it")
    put.add_argument("slug")
    put.add_argument("provider", choices=sorted(DEFAULT_FIELD_MAPS))
    put.add_argument(
        "--token-stdin",
        action="store_true",
        help=f"read the CRM's Bearer token from standard input (else from {TOKEN_ENV})",
    )
    put.add_argument("--base-url", help="API base URL (Salesforce: the org's instance URL)")
    put.add_argument("--id-trait", help="lead trait holding the CRM record id")
    put.add_argument("--object", help="Salesforce: Lead or Contact")
    put.add_argument("--api-version", default="v61.0", help="Salesforce REST API version")
    put.add_argument(
        "--map", action="append", default=[], metavar="FIELD=PROPERTY",
        help=f"CRM property of a Tandem field ({', '.join(TANDEM_FIELDS)}); repeatable",
    )  # fmt: skip
    put.set_defaults(fn=_set)
    off = actions.add_parser("disable", help="turn a tenant's sync off")
    off.add_argument("slug")
    off.add_argument("provider", choices=sorted(DEFAULT_FIELD_MAPS))
    off.set_defaults(fn=_disable)


def _set(args: argparse.Namespace) -> int:
    fields = asyncio.run(
        set_connection(
            load_settings().database_admin_url,
            args.slug,
            args.provider,
            token=read_token(args.token_stdin),
            base_url=args.base_url,
            id_trait=args.id_trait,
            object_type=args.object,
            mapping=parse_mapping(args.map),
            api_version=args.api_version,
        )
    )
    print(f"{args.provider} sync on for {args.slug}; fields:")
    for field, prop in fields.items():
        print(f"  {field} -> {prop}")
    return 0


def _disable(args: argparse.Namespace) -> int:
    found = asyncio.run(
        disable_connection(load_settings().database_admin_url, args.slug, args.provider)
    )
    print(f"{args.provider} sync {'off' if found else 'was not set up'} for {args.slug}")
    return 0
