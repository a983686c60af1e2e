"""The delivery process (`tandem delivery`): the topic reader, the sender, the action-item
and CRM sweeps, and a small HTTP server for /metrics and /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.delivery import crm_sync, metrics, monday, store
from services.delivery.consume import TOPICS, consume
from services.delivery.dispatch import Dispatcher
from services.delivery.settings import DeliverySettings, load_delivery_settings
from services.delivery.sweeps import WinsSweep, purge_delivery_logs, sweep_action_items
from shared.db import create_pool
from shared.kafka import security_options
from shared.settings import Settings, load_settings

log = logging.getLogger("tandem.delivery")

BACKLOG_INTERVAL_S = 5.0


async def _every(name: str, interval_s: float, duty: Callable[[], Awaitable[object]]) -> None:
    # A sweep that fails (PostgreSQL away, a receiver's CRM down) tries again next tick.
    while True:
        try:
            await duty()
        except Exception:
            log.exception("periodic duty failed; retrying at the next tick", extra={"duty": name})
        await asyncio.sleep(interval_s)


async def _connect(settings: Settings) -> asyncpg.Pool:
    while True:
        try:
            return await create_pool(settings.database_url, max_size=20)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("postgres not reachable yet", extra={"error": repr(exc)})
            await asyncio.sleep(1)


async def _http(tasks: list[asyncio.Task[None]], port: int) -> None:
    """GET /healthz and /metrics. Two read-only endpoints do not need a web framework, and
    a plain asyncio server leaves the process's signal handling to this module."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ", 2)[1].split(b"?", 1)[0] if b" " in request else b""
            if path == b"/metrics":
                status, kind, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest()
            elif path == b"/healthz":
                dead = [t.get_name() for t in tasks if t.done()]
                status = "503 Service Unavailable" if dead else "200 OK"
                kind, body = "application/json", orjson.dumps({"ok": not dead, "stopped": dead})
            else:
                status, kind, body = "404 Not Found", "text/plain", b"not found\n"
            head = (
                f"HTTP/1.1 {status}\r\ncontent-type: {kind}\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "0.0.0.0", port)
    async with server:
        await server.serve_forever()


async def serve(settings: Settings, ds: DeliverySettings) -> int:
    """Runs until SIGTERM/SIGINT (0) or until a duty stops for good (1, to be restarted)."""
    pool = await _connect(settings)
    consumer = AIOKafkaConsumer(
        *TOPICS,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=ds.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # A restarted process gets its partitions back quickly.
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
        **security_options(),
    )
    while True:
        try:
            await consumer.start()
            break
        except KafkaConnectionError as exc:
            log.warning("kafka not reachable yet", extra={"error": repr(exc)})
            await asyncio.sleep(1)
    dispatcher = Dispatcher(pool, ds)

    async def backlog() -> None:
        metrics.observe_backlog(*await store.backlog(pool))

    wins = WinsSweep()

    async def action_items() -> None:
        today = settings.now().date()
        if await sweep_action_items(pool, ds.public_url, today):
            dispatcher.wake()
        if await wins.sweep(pool, ds.public_url, today):
            dispatcher.wake()

    async def retention() -> None:
        purged = await purge_delivery_logs(pool, ds.retention_days, datetime.now(UTC))
        if purged:
            log.info("delivery logs purged", extra={"deliveries": purged})

    syncer = crm_sync.CrmSync(pool, ds)
    boards = monday.MondaySync(pool, ds, settings.now)
    tasks = [
        asyncio.create_task(
            consume(consumer, pool, ds.public_url, dispatcher.wake), name="consume"
        ),
        asyncio.create_task(dispatcher.run(), name="dispatch"),
        asyncio.create_task(
            _every("action items", ds.sweep_interval_s, action_items), name="sweep"
        ),
        asyncio.create_task(_every("crm sync", ds.crm_interval_s, syncer.run_once), name="crm"),
        asyncio.create_task(_every("retention", ds.sweep_interval_s, retention), name="retention"),
        asyncio.create_task(
            _every("monday.com sync", ds.monday_interval_s, boards.run_once), name="monday"
        ),
        asyncio.create_task(_every("backlog", BACKLOG_INTERVAL_S, backlog), name="backlog"),
    ]
    tasks.append(asyncio.create_task(_http(tasks, ds.http_port), name="http"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("delivery service started", extra={"group": ds.group_id, "port": ds.http_port})
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    failed = [t for t in tasks if t.done()]
    for task in failed:
        error = None if task.cancelled() else task.exception()
        log.error("delivery duty stopped", extra={"duty": task.get_name()}, exc_info=error)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.gather(*tasks, return_exceptions=True)
    await dispatcher.close()
    await syncer.close()
    await boards.close()
    await consumer.stop()
    await pool.close()
    return 1 if failed else 0


def run_delivery() -> int:
    # httpx narrates every request at INFO; the attempt log line says more.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return asyncio.run(serve(load_settings(), load_delivery_settings()))
