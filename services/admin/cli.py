"""`tandem`: the admin command line (SPEC 13)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from shared.logs import configure_logging
from shared.settings import load_settings


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


def _tenant_create(args: argparse.Namespace) -> int:
    from services.admin.tenants import create_tenant

    key = asyncio.run(create_tenant(load_settings().database_admin_url, args.slug, args.name))
    print(f"tenant {args.slug} created; admin API key (shown once, keep it safe):")
    print(key)
    return 0


def _apikey_create(args: argparse.Namespace) -> int:
    from services.admin.tenants import create_api_key

    key = asyncio.run(create_api_key(load_settings().database_admin_url, args.slug, args.role))
    print(f"{args.role} API key for {args.slug} (shown once, keep it safe):")
    print(key)
    return 0


def _gateway(args: argparse.Namespace) -> int:
    import uvicorn

    from services.gateway.app import create_app
    from services.gateway.auth import ConfigurationError

    settings = load_settings()
    configure_logging()
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
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from services.workers.app import run_worker

    configure_logging()
    run_worker()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from services.admin.demo import load_demo

    return asyncio.run(load_demo(args.slug, args.url, leads=args.leads))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tandem", description="Tandem admin commands")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending database migrations").set_defaults(fn=_migrate)
    sub.add_parser("topics", help="create the Kafka topics").set_defaults(fn=_topics)

    tenant = sub.add_parser("tenant", help="tenants").add_subparsers(dest="action", required=True)
    create = tenant.add_parser("create", help="create a tenant; prints its admin API key")
    create.add_argument("slug")
    create.add_argument("--name")
    create.set_defaults(fn=_tenant_create)

    apikey = sub.add_parser("apikey", help="API keys").add_subparsers(dest="action", required=True)
    key = apikey.add_parser("create", help="create an API key with a role")
    key.add_argument("slug")
    key.add_argument("--role", required=True)
    key.set_defaults(fn=_apikey_create)

    gateway = sub.add_parser("gateway", help="run the HTTP/GraphQL gateway")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int)
    gateway.set_defaults(fn=_gateway)
    sub.add_parser("worker", help="run the stream workers").set_defaults(fn=_worker)

    demo = sub.add_parser("demo", help="create a demo tenant and send it realistic journeys")
    demo.add_argument("--slug", default="demo")
    demo.add_argument("--url", default=None, help="gateway base URL")
    demo.add_argument("--leads", type=int, default=300)
    demo.set_defaults(fn=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except Exception as exc:  # the CLI's user gets one clear line, not a traceback
        from services.admin.tenants import TenantError

        if isinstance(exc, TenantError):
            print(f"tandem: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
