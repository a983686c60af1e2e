"""The real platform for integration tests: Kafka and PostgreSQL from the local stack (or
TANDEM_* pointing elsewhere), plus a worker and a gateway started here as processes, on
this run's own topics, with the clock pinned where the worked example needs it.

Nothing here is a fake and nothing skips: if the stack is not reachable the tests fail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from tests.conftest import REPO, RUN_ID

# The worked example's clock (examples/README.md): engagement windows and SLA deadlines.
EXAMPLE_NOW = "2026-11-20T00:00:00+00:00"


def _load_stack_env() -> None:
    env_file = REPO / ".state" / "env"
    if "TANDEM_DATABASE_URL" in os.environ or not env_file.exists():
        return
    for line in env_file.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export ") :].partition("=")
            os.environ.setdefault(key.strip(), value.strip().strip("'\""))


_load_stack_env()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of every partition of the topic, from its beginning to where it ended
    when called (records of other tests on this run's topics included: filter them)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        # aiokafka has no public call that waits for one topic's partitions.
        partitions = await consumer._client._wait_on_metadata(topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for messages in (await consumer.getmany(timeout_ms=2000)).values():
                out.extend(messages)
        return out
    finally:
        await consumer.stop()


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Platform:
    database_url: str
    admin_url: str
    kafka_bootstrap: str
    gateway_url: str
    worker: Process
    gateway: Process
    admin: asyncpg.Pool
    tenants: list[str] = field(default_factory=list)

    async def create_tenant(self, prefix: str = "t") -> tuple[str, str]:
        from services.admin.tenants import create_tenant

        slug = f"{prefix}-{RUN_ID}-{uuid.uuid4().hex[:6]}"
        key = await create_tenant(self.admin_url, slug)
        self.tenants.append(slug)
        return slug, key

    async def api_key(self, tenant: str, role: str) -> str:
        from services.admin.tenants import create_api_key

        return await create_api_key(self.admin_url, tenant, role)

    async def post_events(
        self, key: str, events: list[dict[str, Any]], batch: int = 500
    ) -> list[httpx.Response]:
        out = []
        async with httpx.AsyncClient(base_url=self.gateway_url, timeout=30) as client:
            for i in range(0, len(events), batch):
                response = await client.post(
                    "/v1/events",
                    content=orjson.dumps(events[i : i + batch]),
                    headers={"X-API-Key": key, "content-type": "application/json"},
                )
                assert response.status_code == 200, response.text
                assert response.json()["rejected"] == [], response.text
                out.append(response)
        return out

    async def wait_for(
        self,
        probe: Callable[[], Awaitable[bool]],
        timeout: float = 60,
        what: str = "condition",
    ) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if await probe():
                return time.monotonic() - started
            if not self.worker.alive():
                raise AssertionError(f"worker died while waiting for {what}:\n{self.worker.tail()}")
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{self.worker.tail()}")

    async def wait_events(self, tenant: str, count: int, timeout: float = 90) -> None:
        async def probe() -> bool:
            n = await self.admin.fetchval(
                "SELECT count(*) FROM events WHERE tenant_id = $1 AND type <> 'rescore'", tenant
            )
            return bool(n >= count)

        await self.wait_for(probe, timeout, f"{count} events of {tenant} in the read model")

    async def leads(self, tenant: str) -> dict[str, asyncpg.Record]:
        rows = await self.admin.fetch("SELECT * FROM leads WHERE tenant_id = $1", tenant)
        return {r["lead_id"]: r for r in rows}

    def restart_worker(self) -> None:
        self.worker.kill(signal.SIGKILL)
        self.worker.start()


async def run_platform(logs_dir: Path) -> AsyncIterator[Platform]:
    """The body of the session's `platform` fixture (registered in tests/conftest.py)."""
    from shared.db.migrate import migrate
    from shared.kafka import ensure_topics
    from shared.settings import load_settings

    settings = load_settings()
    try:
        await migrate(settings.database_admin_url)
        await ensure_topics(settings.kafka_bootstrap)
    except Exception as exc:
        raise AssertionError(
            f"the stack is not reachable ({exc!r}); run `make test`, which starts it"
        ) from exc
    port = _free_port()
    # The owner role (BYPASSRLS) reaches migrations and the admin CLI only: the gateway and
    # the workers must run without it.
    env = {
        **{k: v for k, v in os.environ.items() if k != "TANDEM_DATABASE_ADMIN_URL"},
        "TANDEM_FIXED_NOW": EXAMPLE_NOW,
        "TANDEM_WORKER_GROUP": f"test-{RUN_ID}-workers",
        "TANDEM_WORKER_DATADIR": str(logs_dir / "faust"),
        "TANDEM_HTTP_PORT": str(port),
        "TANDEM_SWEEP_INTERVAL_S": "2",
        "TANDEM_CONFIG_POLL_INTERVAL_S": "2",
        "TANDEM_SLA_SWEEP_INTERVAL_S": "2",
        "PYTHONUNBUFFERED": "1",
    }
    tandem = str(Path(sys.executable).with_name("tandem"))
    worker = Process("worker", [tandem, "worker"], env, logs_dir / "worker.log")
    gateway = Process("gateway", [tandem, "gateway", "--port", str(port)], env, logs_dir / "gw.log")
    worker.start()
    gateway.start()
    admin = await asyncpg.create_pool(settings.database_admin_url, min_size=1, max_size=4)
    assert admin is not None
    plat = Platform(
        database_url=settings.database_url,
        admin_url=settings.database_admin_url,
        kafka_bootstrap=settings.kafka_bootstrap,
        gateway_url=f"http://127.0.0.1:{port}",
        worker=worker,
        gateway=gateway,
        admin=admin,
    )
    async with httpx.AsyncClient(base_url=plat.gateway_url) as client:

        async def gateway_ready() -> bool:
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await plat.wait_for(gateway_ready, 60, "the gateway to be ready")
    try:
        yield plat
    finally:
        gateway.kill(signal.SIGTERM)
        worker.kill(signal.SIGTERM)
        await admin.close()


@dataclass
class WorkerGroup:
    """Worker processes of a consumer group and topics of their own (its prefix), beside the
    platform's worker: what scale-out tests run several workers on."""

    platform: Platform
    prefix: str
    group: str
    workers: list[Process]

    @property
    def touchpoints(self) -> str:
        return f"{self.prefix}touchpoints.v1"

    async def applied(self, tenant: str) -> int:
        return int(
            await self.platform.admin.fetchval(
                "SELECT count(*) FROM events WHERE tenant_id = $1 AND type <> 'rescore'", tenant
            )
        )

    async def wait_applied(
        self, tenant: str, count: int, alive: list[Process] | None = None
    ) -> None:
        """Waits until the tenant has `count` events applied, failing at once if one of
        the workers meant to be `alive` (all of them unless said) has died."""
        deadline = time.monotonic() + 240
        while await self.applied(tenant) < count:
            for w in self.workers if alive is None else alive:
                assert w.alive(), w.tail()
            assert time.monotonic() < deadline, "\n".join(w.tail(20) for w in self.workers)
            await asyncio.sleep(0.2)

    async def all_joined(self) -> None:
        """Waits until every worker holds partitions of the group, so that the events produced
        next are shared between them rather than taken by the first to start."""
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.platform.kafka_bootstrap)
        await admin.start()
        try:
            deadline = time.monotonic() + 120
            while True:
                described = (await admin.describe_consumer_groups([self.group]))[0].to_object()
                state = described["groups"][0]
                if state["state"] == "Stable" and len(state["members"]) >= len(self.workers):
                    return
                for w in self.workers:
                    assert w.alive(), w.tail()
                assert time.monotonic() < deadline, state
                await asyncio.sleep(0.5)
        finally:
            await admin.close()

    def stop(self) -> None:
        for worker in self.workers:
            worker.kill(signal.SIGTERM)


@pytest.fixture
def start_workers(
    platform: Platform, tmp_path: Path
) -> Iterator[Callable[[str, int], WorkerGroup]]:
    """`start_workers(name, n)` creates the topics of a prefix of its own and starts `n`
    workers on them in one consumer group; every group started is stopped at the end."""
    groups: list[WorkerGroup] = []
    tandem = str(Path(sys.executable).with_name("tandem"))

    def start(name: str, n: int) -> WorkerGroup:
        prefix, group = f"{name}-{RUN_ID}.", f"{name}-{RUN_ID}"
        env = {**platform.worker.env, "TANDEM_TOPIC_PREFIX": prefix, "TANDEM_WORKER_GROUP": group}
        subprocess.run([tandem, "topics"], env=env, check=True, cwd=REPO, capture_output=True)
        workers = [
            Process(
                f"{name}-worker-{i}",
                [tandem, "worker"],
                {**env, "TANDEM_WORKER_DATADIR": str(tmp_path / f"{name}-faust-{i}")},
                tmp_path / f"{name}-worker-{i}.log",
            )
            for i in range(n)
        ]
        started = WorkerGroup(platform, prefix, group, workers)
        groups.append(started)
        for worker in workers:
            worker.start()
        return started

    yield start
    for started in groups:
        started.stop()
