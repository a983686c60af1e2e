"""`tandem`: the admin command line (SPEC 13)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from aiokafka.errors import KafkaConnectionError

from shared.logs import configure_logging
from shared.settings import load_settings
from shared.tracing import setup_tracing

if TYPE_CHECKING:
    from services.admin.dlq import Filters


def _migrate(args: argparse.Namespace) -> int:
    from shared.db.migrate import migrate

    applied = asyncio.run(migrate(load_settings().database_admin_url))
    print(f"migrations applied: {applied or 'none pending'}")
    return 0


def _topics(args: argparse.Namespace) -> int:
    from shared.kafka import ensure_topics

    created = asyncio.run(ensure_topics(load_settings().kafka_bootstrap))
    print(f"topics created: {created or 'all present'}")
    return 0


def _show_new_key(intro: str, key: str) -> int:
    """Prints a new API key after `intro` and its id: the only time the key is shown."""
    from services.gateway.auth import key_id_of

    print(f"{intro} {key_id_of(key)} (the key is shown once, keep it safe):")
    print(key)
    return 0


def _tenant_create(args: argparse.Namespace) -> int:
    from services.admin.tenants import create_tenant

    key = asyncio.run(create_tenant(load_settings().database_admin_url, args.slug, args.name))
    return _show_new_key(f"tenant {args.slug} created; admin API key id", key)


def _tenant_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from services.admin.tenants import list_tenants

    tenants = asyncio.run(list_tenants(load_settings().database_admin_url))
    table = Table("tenant", "name", "created (UTC)", "active API keys")
    for t in tenants:
        created = t.created_at.isoformat(timespec="seconds")
        table.add_row(t.slug, t.name, created, str(t.active_keys))
    Console(width=160).print(table)
    print(f"{len(tenants)} tenants")
    return 0


def _apikey_create(args: argparse.Namespace) -> int:
    from services.admin.tenants import create_api_key

    key = asyncio.run(create_api_key(load_settings().database_admin_url, args.slug, args.role))
    return _show_new_key(f"{args.role} API key for {args.slug}, id", key)


def _apikey_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from services.admin.apikeys import list_keys

    keys = asyncio.run(list_keys(load_settings().database_admin_url, args.slug))
    table = Table("id", "prefix", "role", "label", "created", "revoked")
    for k in keys:
        revoked = k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "-"
        created = k.created_at.isoformat(timespec="seconds")
        table.add_row(k.key_id, k.prefix, k.role, k.label or "-", created, revoked)
    Console(width=160).print(table)
    return 0


def _apikey_revoke(args: argparse.Namespace) -> int:
    from services.admin.apikeys import revoke_key

    tenant, key_id, role = asyncio.run(
        revoke_key(load_settings().database_admin_url, args.key, confirmed=args.yes)
    )
    if not args.yes:
        print(f"revoking {role} API key {key_id} of {tenant} stops it everywhere within 5 s")
        print("tandem: nothing done; confirm with --yes", file=sys.stderr)
        return 2
    print(f"API key {key_id} of {tenant} revoked; it stops authenticating within 5 s")
    return 0


def _dlq_filters(args: argparse.Namespace) -> Filters:
    from services.admin.dlq import Filters, parse_since

    return Filters(
        tenant=args.tenant,
        reason=args.reason,
        since=parse_since(args.since) if args.since else None,
        refs=frozenset(getattr(args, "refs", None) or ()),
    )


def _dlq_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from services.admin.dlq import read_dead_letters, summary_row

    letters = asyncio.run(read_dead_letters(load_settings().kafka_bootstrap, _dlq_filters(args)))
    table = Table("ref", "time (UTC)", "reason", "tenant", "event id", "error")
    for letter in letters[-args.limit :] if args.limit else letters:
        table.add_row(*summary_row(letter))
    Console(width=200).print(table)
    print(f"{len(letters)} dead letters match")
    return 0


def _dlq_show(args: argparse.Namespace) -> int:
    import orjson

    from services.admin.dlq import Filters, detail, read_dead_letters

    filters = Filters(refs=frozenset([args.ref]))
    letters = asyncio.run(read_dead_letters(load_settings().kafka_bootstrap, filters))
    if not letters:
        print(f"tandem: no dead letter {args.ref}", file=sys.stderr)
        return 2
    for letter in letters:
        print(orjson.dumps(detail(letter), option=orjson.OPT_INDENT_2).decode())
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    from services.admin.dlq import Filters, read_dead_letters, replay

    filters = _dlq_filters(args)
    # Replaying the whole DLQ is possible, but never by forgetting a filter.
    if filters == Filters() and not args.all:
        print(
            "tandem: name what to replay (--tenant, --reason, --since, refs) or --all",
            file=sys.stderr,
        )
        return 2
    bootstrap = load_settings().kafka_bootstrap
    letters = asyncio.run(read_dead_letters(bootstrap, filters))
    if args.dry_run:
        print(f"{len(letters)} dead letters would be replayed")
        return 0
    replayed, skipped = asyncio.run(replay(bootstrap, letters))
    print(f"{replayed} dead letters replayed to their original topics")
    if skipped:
        print(f"{len(skipped)} without a payload could not be replayed: {', '.join(skipped)}")
    return 0


def _rescore(args: argparse.Namespace) -> int:
    from services.admin.rescore import rescore

    settings = load_settings()
    done = asyncio.run(
        rescore(settings.database_url, settings.kafka_bootstrap, args.slug, args.wait)
    )
    print(f"re-score of {args.slug} requested (configuration version {done.version})")
    if args.wait and not done.finished:
        print(
            f"not all of its {done.leads} leads were re-scored within {args.wait:g} s;"
            " the workers continue in the background"
        )
        return 1
    if args.wait:
        print(f"all {done.leads} leads re-scored")
    return 0


def _wait_schema(args: argparse.Namespace) -> int:
    from services.admin.schema_wait import wait_for_schema

    reached, applied, wanted = asyncio.run(
        wait_for_schema(load_settings().database_url, args.timeout)
    )
    if not reached:
        print(
            f"tandem: schema at version {applied}, this release needs {wanted};"
            f" gave up after {args.timeout:g} s (has the migrate Job run?)",
            file=sys.stderr,
        )
        return 1
    print(f"schema at version {applied} (this release needs {wanted})")
    return 0


def _gateway(args: argparse.Namespace) -> int:
    import uvicorn

    from services.gateway.app import create_app
    from services.gateway.auth import ConfigurationError
    from services.gateway.graphql.sockets import MAX_MESSAGE_BYTES

    settings = load_settings()
    configure_logging()
    setup_tracing("tandem-gateway", settings.otlp_endpoint)
    try:
        app = create_app(settings)
    except ConfigurationError as exc:
        print(f"tandem gateway: refusing to start: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        host=args.host,
        port=args.port or settings.http_port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        # Forwarded headers are believed only from these proxies, never from any client.
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        # A GraphQL message is small; a socket sending more is refused (close code 1009).
        ws_max_size=MAX_MESSAGE_BYTES,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from services.workers.app import run_worker

    configure_logging()
    setup_tracing("tandem-worker", load_settings().otlp_endpoint)
    run_worker()
    return 0


def _delivery(args: argparse.Namespace) -> int:
    from services.delivery.app import run_delivery

    configure_logging()
    return run_delivery()


def _demo(args: argparse.Namespace) -> int:
    from services.admin.demo import load_demo

    return asyncio.run(load_demo(args.slug, args.url, leads=args.leads))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tandem", description="Tandem admin commands")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending database migrations").set_defaults(fn=_migrate)
    sub.add_parser("topics", help="create the Kafka topics").set_defaults(fn=_topics)
    wait = sub.add_parser("wait-schema", help="wait until every migration of this release ran")
    wait.add_argument("--timeout", type=float, default=600.0)
    wait.set_defaults(fn=_wait_schema)

    tenant = sub.add_parser("tenant", help="tenants").add_subparsers(dest="action", required=True)
    create = tenant.add_parser("create", help="create a tenant; prints its admin API key")
    create.add_argument("slug")
    create.add_argument("--name")
    create.set_defaults(fn=_tenant_create)
    tenant.add_parser("list", help="every tenant: slug, name, active API keys").set_defaults(
        fn=_tenant_list
    )

    apikey = sub.add_parser("apikey", help="API keys").add_subparsers(dest="action", required=True)
    key = apikey.add_parser("create", help="create an API key with a role")
    key.add_argument("slug")
    key.add_argument("--role", required=True)
    key.set_defaults(fn=_apikey_create)
    keys = apikey.add_parser("list", help="a tenant's API keys: id, prefix, role, revoked")
    keys.add_argument("slug")
    keys.set_defaults(fn=_apikey_list)
    revoke = apikey.add_parser("revoke", help="revoke an API key (stops within 5 s)")
    revoke.add_argument("key", metavar="KEY_ID", help="the key's id, its prefix or the key")
    revoke.add_argument("--yes", action="store_true", help="confirm (without: the plan)")
    revoke.set_defaults(fn=_apikey_revoke)

    dlq = sub.add_parser("dlq", help="dead letters").add_subparsers(dest="action", required=True)
    for name, fn, text in [
        ("list", _dlq_list, "list dead letters"),
        ("replay", _dlq_replay, "publish dead letters again to their original topics"),
    ]:
        cmd = dlq.add_parser(name, help=text)
        cmd.add_argument("--tenant")
        cmd.add_argument("--reason", help="malformed, invalid, unknown_tenant, failed, ...")
        cmd.add_argument("--since", help="2h, 30m, 7d or an ISO 8601 time")
        cmd.set_defaults(fn=fn)
    dlq.choices["list"].add_argument("--limit", type=int, default=100, help="0: all")
    dlq.choices["replay"].add_argument(
        "refs", nargs="*", metavar="REF", help="PARTITION:OFFSET of the letters to replay"
    )
    dlq.choices["replay"].add_argument("--all", action="store_true", help="every dead letter")
    dlq.choices["replay"].add_argument("--dry-run", action="store_true")
    show = dlq.add_parser("show", help="one dead letter in full")
    show.add_argument("ref", metavar="REF", help="PARTITION:OFFSET (or OFFSET)")
    show.set_defaults(fn=_dlq_show)

    rescore = sub.add_parser("rescore", help="re-score every lead of a tenant")
    rescore.add_argument("slug")
    rescore.add_argument(
        "--wait", type=float, default=300.0, help="seconds to follow the progress (0: request only)"
    )
    rescore.set_defaults(fn=_rescore)

    from services.admin.quarantine import add_commands as add_quarantine_commands

    add_quarantine_commands(sub)

    from services.admin.models import add_commands as add_models_commands

    add_models_commands(sub)

    gateway = sub.add_parser("gateway", help="run the HTTP/GraphQL gateway")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int)
    gateway.set_defaults(fn=_gateway)
    sub.add_parser("worker", help="run the stream workers").set_defaults(fn=_worker)
    sub.add_parser(
        "delivery", help="run the delivery service (webhooks, Slack, CRM sync)"
    ).set_defaults(fn=_delivery)

    demo = sub.add_parser("demo", help="create a demo tenant and send it realistic journeys")
    demo.add_argument("--slug", default="demo")
    demo.add_argument("--url", default=None, help="gateway base URL")
    demo.add_argument("--leads", type=int, default=1200)
    demo.set_defaults(fn=_demo)
    from services.admin import importer

    importer.register(sub)
    from services.admin import crm

    crm.register(sub)
    from services.admin import privacy

    privacy.register(sub, tenant)
    from services.admin import sealing

    sealing.register(sub)
    from services.admin import quotas

    quotas.register(tenant)
    return parser


def main(argv: list[str] | None = None) -> int:
    from services.admin.stack_env import load_local_stack_env

    argv = sys.argv[1:] if argv is None else argv
    # A bare `tandem worker` skips building the parser: importing every admin command's
    # module took a third of a second of the start of a worker replacing a crashed one.
    if argv == ["worker"]:
        args = argparse.Namespace(command="worker", fn=_worker)
    else:
        args = build_parser().parse_args(argv)
    # From a fresh shell on a development machine: the local stack's settings. The gateway
    # and the workers take theirs from their environment only, as in a deployment.
    if args.command not in ("gateway", "worker"):
        load_local_stack_env()
    try:
        return int(args.fn(args))
    except Exception as exc:  # the CLI's user gets one clear line, not a traceback
        from services.admin.dlq import DlqError
        from services.admin.tenants import TenantError

        if isinstance(exc, TenantError | DlqError):
            print(f"tandem: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, OSError | KafkaConnectionError):
            print(f"tandem: cannot reach PostgreSQL or Kafka: {exc}", file=sys.stderr)
            print("tandem: start the local stack (`make up`) or set TANDEM_*", file=sys.stderr)
            return 3
        raise


if __name__ == "__main__":
    sys.exit(main())
