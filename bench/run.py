"""`make bench`: every figure of SPEC 12 in one run, against processes this run starts.

    python -m bench.run            full scale (6 to 10 minutes on 2 cores)
    python -m bench.run --quick    the same figures at a tenth of the volume (1 to 2 minutes)

Each phase gets its own tenant, and every process its own topic prefix and consumer group
(`bench-<stamp>-...`), so the dev platform's topics, groups and tenants are never touched.
Topics are deleted at the end, and the tenants' rows too unless --keep-data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import UnknownTopicOrPartitionError

from bench import figures, overview, segment_batch, webhooks, workload
from bench.metrics_sql import METRICS_SQL
from bench.procs import CpuMeter, Process, Processes, wait_ready
from services.admin.tenants import create_api_key, create_tenant
from shared.db import create_pool, tenant_tx
from shared.kafka import TOPICS, TOUCHPOINTS, ensure_topics, make_producer
from shared.settings import Settings, load_settings
from simulation.generator import JourneyGenerator

RESULTS = Path(__file__).resolve().parent / "results"
FRESHNESS_INTERVAL_S = 0.05
TOPIC_WAIT_S = 60
FRESHNESS_POLL_S = 0.02
GRAPHQL_ALIASES = 10  # the gateway bounds aliases per query (SPEC 10)
SPAN_DAYS = 90


@dataclasses.dataclass(frozen=True)
class Scale:
    array_events: int
    single_events: int
    http_events: int
    http_clients: int
    # Gateway processes of the HTTP phase, the clients spread over them as a load balancer
    # spreads connections over replicas (the gateway holds no state).
    http_gateways: int
    freshness_seconds: float
    freshness_rate: int
    metrics_queries: int
    bulk_events: int  # the noisy neighbour's import
    live_rate: int  # the live tenant's events/s meanwhile
    two_worker_events: int


FULL = Scale(1_000_000, 100_000, 200_000, 4, 2, 30, 1_000, 200, 500_000, 200, 500_000)
QUICK = Scale(100_000, 20_000, 50_000, 4, 2, 10, 1_000, 50, 50_000, 200, 100_000)


def parse_args(argv: list[str] | None) -> tuple[Scale, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="Measure every figure of SPEC 12."
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the volume")
    parser.add_argument("--events", type=int, help="events of the array-record phase (1,000,000)")
    parser.add_argument("--single-events", type=int, help="events sent one per record (100,000)")
    parser.add_argument("--http-events", type=int, help="events posted over HTTP (200,000)")
    parser.add_argument("--clients", type=int, help="concurrent HTTP clients (4)")
    parser.add_argument("--gateways", type=int, help="gateway processes of the HTTP phase (2)")
    parser.add_argument("--freshness-seconds", type=float, help="length of the 1,000/s run (30)")
    parser.add_argument("--metrics-queries", type=int, help="timed `metrics` queries (200)")
    parser.add_argument("--bulk-events", type=int, help="the noisy neighbour's import (500,000)")
    parser.add_argument(
        "--two-worker-events", type=int, help="events of the 2-worker phase (500,000)"
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the bench tenants' rows afterwards"
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    scale = Scale(
        array_events=args.events or base.array_events,
        single_events=args.single_events or base.single_events,
        http_events=args.http_events or base.http_events,
        http_clients=args.clients or base.http_clients,
        http_gateways=args.gateways or base.http_gateways,
        freshness_seconds=args.freshness_seconds or base.freshness_seconds,
        freshness_rate=base.freshness_rate,
        metrics_queries=args.metrics_queries or base.metrics_queries,
        bulk_events=args.bulk_events or base.bulk_events,
        live_rate=base.live_rate,
        two_worker_events=args.two_worker_events or base.two_worker_events,
    )
    return scale, args


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        # Other work on the machine skews every figure; the load says whether there was any.
        "loadavg_1_5_15": os.getloadavg(),
    }


class Bench:
    def __init__(self, scale: Scale, args: argparse.Namespace, settings: Settings) -> None:
        self.scale = scale
        self.args = args
        self.settings = settings
        self.started = time.monotonic()
        self.stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        self.run_id = f"bench-{self.stamp}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"tandem-{self.run_id}-"))
        self.procs = Processes(self.tmp)
        self.tenants: list[str] = []
        self.results: dict[str, Any] = {}
        self.admin: asyncpg.Connection
        self.producer: AIOKafkaProducer
        self.partitions = 0
        self.machine_at_start: dict[str, Any] = {}

    # -- plumbing ------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        print(f"[bench {time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    def cpu(self, meter: CpuMeter) -> dict[str, float]:
        cores = meter.cores()
        self.say("  CPU in cores: " + ", ".join(f"{k} {v:.2f}" for k, v in cores.items()))
        return cores

    def prefix(self, phase: str) -> str:
        return f"{self.run_id}-{phase}-"

    def touchpoints(self, phase: str) -> str:
        return self.prefix(phase) + TOUCHPOINTS.removeprefix(_own_prefix())

    def env(self, phase: str) -> dict[str, str]:
        return {
            "TANDEM_TOPIC_PREFIX": self.prefix(phase),
            "TANDEM_WORKER_GROUP": f"{self.prefix(phase)}workers",
            "TANDEM_WORKER_DATADIR": str(self.tmp / f"faust-{phase}"),
        }

    async def tenant(self, phase: str) -> str:
        slug = f"{self.run_id}-{phase}"
        await create_tenant(self.settings.database_admin_url, slug)
        self.tenants.append(slug)
        return slug

    async def key(self, tenant: str, role: str) -> str:
        return await create_api_key(self.settings.database_admin_url, tenant, role)

    async def applied(self, tenant: str) -> int:
        count: int = await self.admin.fetchval(
            "SELECT (SELECT count(*) FROM events WHERE tenant_id = $1)"
            " + (SELECT count(*) FROM spend WHERE tenant_id = $1)",
            tenant,
        )
        return count

    async def produce(
        self, topic: str, records: list[tuple[int | None, bytes | None, bytes]]
    ) -> None:
        await self.topic_partitions(topic)
        futures = [
            await self.producer.send(topic, value, key=key, partition=partition)
            for partition, key, value in records
        ]
        await asyncio.gather(*futures)

    async def topic_partitions(self, topic: str) -> int:
        """The topic's partition count, once the producer's metadata knows the topic: a
        busy broker can take a while to publish topics it has just created."""
        deadline = time.monotonic() + TOPIC_WAIT_S
        while True:
            try:
                return len(await self.producer.partitions_for(topic))
            except UnknownTopicOrPartitionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)

    async def wait_applied(
        self,
        tenant: str,
        probes: list[str],
        started: float,
        limit_s: float,
        label: str,
        worker: Process,
    ) -> tuple[float, bool]:
        """Seconds from `started` until every probe event is in the read model, and whether
        they all got there within `limit_s`."""
        deadline = started + limit_s
        next_report = time.perf_counter() + 5
        while True:
            if not worker.alive():
                raise RuntimeError(f"{worker.name} exited:\n{worker.tail()}")
            found = await self.admin.fetchval(
                "SELECT count(*) FROM events WHERE tenant_id = $1 AND event_id = ANY($2::text[])",
                tenant,
                probes,
            )
            now = time.perf_counter()
            if found == len(probes):
                return now - started, True
            if now > deadline:
                return now - started, False
            if now > next_report:
                done = await self.applied(tenant)
                self.say(f"  {label}: {done:,} events applied, {done / (now - started):,.0f}/s")
                next_report = now + 5
            await asyncio.sleep(0.1)

    async def start_worker(self, phase: str, tenant: str) -> Process:
        """A worker on the phase's topics, warmed up: it has joined its group and applied a
        first journey, so the timed part measures processing, not startup."""
        worker = self.procs.worker(f"worker-{phase}", self.env(phase))
        warm = JourneyGenerator(tenant, seed=99, id_prefix="warm-", span_days=SPAN_DAYS)
        load = workload.single_records(warm.events(20, spend=False), self.partitions)
        await self.produce(self.touchpoints(phase), load.records)
        started = time.perf_counter()
        _, done = await self.wait_applied(tenant, load.probes, started, 120, "warm-up", worker)
        if not done:
            raise RuntimeError(f"worker not processing after 120 s:\n{worker.tail()}")
        return worker

    # -- phases --------------------------------------------------------------------------------

    async def http_ingestion(self) -> None:
        scale = self.scale
        tenant = await self.tenant("http")
        key = await self.key(tenant, "ingest")
        generator = JourneyGenerator(tenant, seed=11, include_tenant_id=False, span_days=SPAN_DAYS)
        bodies = workload.http_bodies(workload.generated(generator, scale.http_events))
        self.say(
            f"HTTP ingestion: {scale.http_events:,} events in {len(bodies)} requests of 500, "
            f"{scale.http_clients} clients over {scale.http_gateways} gateway processes, "
            f"topics {self.prefix('http')}*"
        )
        gateways = [
            self.procs.gateway(f"gateway-http-{i + 1}", self.env("http"))
            for i in range(scale.http_gateways)
        ]
        for gateway, url in gateways:
            await wait_ready(gateway, url)
        queue = iter(bodies)
        latencies: list[float] = []
        accepted = 0
        retried = 0

        async def client_loop(client: httpx.AsyncClient) -> None:
            nonlocal accepted, retried
            for body in queue:
                while True:
                    sent = time.perf_counter()
                    response = await client.post("/v1/events", content=body)
                    if response.status_code == 200:
                        break
                    if response.status_code not in (429, 503):
                        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
                    retried += 1
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                latencies.append(time.perf_counter() - sent)
                result = response.json()
                accepted += result["accepted"]
                if result["rejected"]:
                    raise RuntimeError(f"events rejected: {result['rejected'][:2]}")

        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        clients = [
            httpx.AsyncClient(base_url=gateways[i % len(gateways)][1], headers=headers, timeout=30)
            for i in range(scale.http_clients)
        ]
        try:
            # A first request per client opens its connection and the gateway's metadata;
            # its events are posted again in the timed part (the same ids: no worker reads
            # this topic, so nothing is applied twice).
            for client in clients:
                (await client.post("/v1/events", content=bodies[0])).raise_for_status()
            meter = CpuMeter({process.name: process for process, _ in gateways})
            started = time.perf_counter()
            await asyncio.gather(*(client_loop(c) for c in clients))
            elapsed = time.perf_counter() - started
            cores = self.cpu(meter)
        finally:
            for client in clients:
                await client.aclose()
            for gateway, _ in gateways:
                self.procs.stop(gateway)
        rate = accepted / elapsed
        self.results["http_ingestion"] = {
            "events": accepted,
            "seconds": elapsed,
            "events_per_s": rate,
            "requests": len(latencies),
            "clients": scale.http_clients,
            "gateways": scale.http_gateways,
            "request_p50_ms": percentile(latencies, 0.5) * 1000,
            "request_p99_ms": percentile(latencies, 0.99) * 1000,
            "retried": retried,
            "cpu_cores": cores,
        }
        self.say(f"  {accepted:,} events accepted in {elapsed:.1f} s: {rate:,.0f} events/s")

    async def array_processing(self) -> tuple[str, Process]:
        tenant = await self.tenant("arr")
        generator = JourneyGenerator(tenant, seed=1, span_days=SPAN_DAYS)
        n = self.scale.array_events
        self.say(f"array records: generating {n:,} events ...")
        load = workload.array_records(workload.generated(generator, n), self.partitions)
        self.say(f"  {len(load.records):,} records; starting a worker on {self.prefix('arr')}*")
        worker = await self.start_worker("arr", tenant)
        before = await self.applied(tenant)
        meter = CpuMeter({"worker": worker})
        started = time.perf_counter()
        await self.produce(self.touchpoints("arr"), load.records)
        self.say(f"  produced in {time.perf_counter() - started:.1f} s; waiting for the read model")
        elapsed, complete = await self.wait_applied(
            tenant, load.probes, started, max(90, n / 2_500), "array records", worker
        )
        cores = self.cpu(meter)
        done = await self.applied(tenant) - before
        del load
        rate = done / elapsed
        self.results["processing_array"] = {
            "events": n,
            "applied": done,
            "complete": complete and done >= n,
            "seconds": elapsed,
            "events_per_s": rate,
            "cpu_cores": cores,
        }
        self.say(f"  {done:,} events in the read model after {elapsed:.1f} s: {rate:,.0f}/s")
        rss, peak = worker.rss_bytes()
        leads = await self.admin.fetchval("SELECT count(*) FROM leads WHERE tenant_id = $1", tenant)
        self.results["worker_memory"] = {"leads": leads, "rss_bytes": rss, "peak_rss_bytes": peak}
        self.say(
            f"  worker RSS {rss / 2**20:,.0f} MiB (peak {peak / 2**20:,.0f}) at {leads:,} leads"
        )
        return tenant, worker

    async def metrics_latency(self, gateway: Process, url: str, tenant: str) -> None:
        n = self.scale.metrics_queries
        events = await self.applied(tenant)
        now = datetime.now(UTC)
        start, end = now - timedelta(days=SPAN_DAYS + 1), now + timedelta(days=1)
        key = await self.key(tenant, "viewer")
        async with contextlib.AsyncExitStack() as stack:
            fields = await _metrics_fields(url, key)
            if fields:
                via = "GraphQL metrics(from, to) through the gateway"
                client = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=10)
                )
                payload = {
                    "query": "query($from: DateTime!, $to: DateTime!) {"
                    f" metrics(from: $from, to: $to) {{ {' '.join(fields)} }} }}",
                    "variables": {"from": start.isoformat(), "to": end.isoformat()},
                }
                query = _graphql_query(client, payload)
            else:
                via = "equivalent SQL (bench/metrics_sql.py): the gateway has no GraphQL metrics"
                pool = await create_pool(self.settings.database_url, max_size=1)
                stack.push_async_callback(pool.close)
                query = _sql_query(pool, tenant, (tenant, start, end, now, 24))
            self.say(f"metrics: {n} queries over {SPAN_DAYS} days, {events:,} events, via {via}")
            for _ in range(5):
                await query()
            meter = CpuMeter({"gateway": gateway})
            latencies = []
            for _ in range(n):
                started = time.perf_counter()
                await query()
                latencies.append(time.perf_counter() - started)
            cores = self.cpu(meter)
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        self.results["metrics"] = {
            "via": via,
            "events": events,
            "queries": n,
            "p50_ms": p50 * 1000,
            "p99_ms": p99 * 1000,
            "cpu_cores": cores,
        }
        self.say(f"  p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")

    async def freshness(
        self,
        url: str,
        processes: dict[str, Process],
        *,
        phase: str = "fresh",
        rate: int | None = None,
        seconds: float | None = None,
    ) -> dict[str, Any]:
        """Ack → visible latency of a live tenant sending `rate` events/s for `seconds`."""
        rate = rate or self.scale.freshness_rate
        seconds = seconds or self.scale.freshness_seconds
        tenant = await self.tenant(phase)
        ingest = await self.key(tenant, "ingest")
        viewer = await self.key(tenant, "viewer")
        generator = JourneyGenerator(tenant, seed=5, include_tenant_id=False, span_days=SPAN_DAYS)
        stream = generator.events(None, spend=False)
        per_request = round(rate * FRESHNESS_INTERVAL_S)
        graphql = await _has_lead_query(url, viewer)
        via = "GraphQL lead(id)" if graphql else "SQL on the leads table"
        self.say(
            f"freshness: {rate:,} events/s for {seconds:.0f} s"
            f" ({per_request} per request), ack → visible via {via}"
        )
        seen: set[str] = set()
        pending: dict[str, float] = {}
        latencies: list[float] = []
        sends: list[asyncio.Task[None]] = []
        sent_events = 0

        headers = {"Content-Type": "application/json", "X-API-Key": ingest}
        ingest_client = httpx.AsyncClient(base_url=url, headers=headers, timeout=10)
        probe_client = httpx.AsyncClient(base_url=url, headers={"X-API-Key": viewer}, timeout=10)
        pool = await create_pool(self.settings.database_url, max_size=1)

        async def send(batch: list[dict[str, Any]], probe: str | None) -> None:
            response = await ingest_client.post("/v1/events", content=orjson.dumps(batch))
            acked = time.perf_counter()
            if response.status_code != 200 or response.json()["rejected"]:
                raise RuntimeError(f"ingestion failed: {response.text[:300]}")
            if probe:
                pending[probe] = acked

        async def visible(leads: list[str]) -> set[str]:
            if not graphql:
                async with tenant_tx(pool, tenant) as conn:
                    rows = await conn.fetch(
                        "SELECT lead_id FROM leads WHERE tenant_id = $1"
                        " AND lead_id = ANY($2::text[])",
                        tenant,
                        leads,
                    )
                return {r["lead_id"] for r in rows}
            found = set()
            for i in range(0, len(leads), GRAPHQL_ALIASES):
                chunk = leads[i : i + GRAPHQL_ALIASES]
                aliases = " ".join(
                    f"l{j}: lead(id: {json.dumps(lead)}) {{ id }}" for j, lead in enumerate(chunk)
                )
                response = await probe_client.post("/graphql", json={"query": f"{{ {aliases} }}"})
                data = response.json().get("data")
                if data is None:
                    raise RuntimeError(f"lead query failed: {response.text[:300]}")
                found |= {chunk[int(a[1:])] for a, lead in data.items() if lead is not None}
            return found

        sending = asyncio.Event()
        sending.set()

        async def poll(until: float) -> None:
            while time.perf_counter() < until and (pending or sending.is_set()):
                if pending:
                    shown = await visible(list(pending))
                    now = time.perf_counter()
                    for lead in shown:
                        latencies.append(now - pending.pop(lead))
                await asyncio.sleep(FRESHNESS_POLL_S)

        meter = CpuMeter(processes)
        started = time.perf_counter()
        stop_at = started + seconds
        poller = asyncio.create_task(poll(stop_at + 15))
        try:
            tick = 0
            while (at := started + tick * FRESHNESS_INTERVAL_S) < stop_at:
                await asyncio.sleep(max(0, at - time.perf_counter()))
                batch = [next(stream) for _ in range(per_request)]
                # One probe per request: a lead created by it (its first identified event).
                probe = next(
                    (e["lead_id"] for e in batch if "lead_id" in e and e["lead_id"] not in seen),
                    None,
                )
                seen.update(e["lead_id"] for e in batch if "lead_id" in e)
                sends.append(asyncio.create_task(send(batch, probe)))
                sent_events += len(batch)
                tick += 1
            await asyncio.gather(*sends)
            achieved = sent_events / (time.perf_counter() - started)
            sending.clear()
            await poller
            cores = self.cpu(meter)
        finally:
            poller.cancel()
            for task in sends:
                task.cancel()
            await ingest_client.aclose()
            await probe_client.aclose()
            await pool.close()
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        result = {
            "via": via,
            "events": sent_events,
            "events_per_s": achieved,
            "probes": len(latencies) + len(pending),
            "never_visible": len(pending),
            "p50_s": p50,
            "p99_s": p99,
            "max_s": max(latencies),
            "cpu_cores": cores,
        }
        missing = f", {len(pending)} never visible" if pending else ""
        self.say(
            f"  {achieved:,.0f} events/s sent; p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
            f" over {len(latencies)} probes{missing}"
        )
        return result

    async def single_processing(self) -> int:
        tenant = await self.tenant("one")
        generator = JourneyGenerator(tenant, seed=2, span_days=SPAN_DAYS)
        n = self.scale.single_events
        self.say(f"one event per record: generating {n:,} events ...")
        load = workload.single_records(workload.generated(generator, n), self.partitions)
        self.say(f"  starting a worker on {self.prefix('one')}*")
        worker = await self.start_worker("one", tenant)
        before = await self.applied(tenant)
        meter = CpuMeter({"worker": worker})
        started = time.perf_counter()
        await self.produce(self.touchpoints("one"), load.records)
        self.say(f"  produced in {time.perf_counter() - started:.1f} s; waiting for the read model")
        elapsed, complete = await self.wait_applied(
            tenant, load.probes, started, max(60, n / 1_000), "single records", worker
        )
        cores = self.cpu(meter)
        done = await self.applied(tenant) - before
        self.procs.stop(worker)
        rate = done / elapsed
        self.results["processing_single"] = {
            "events": n,
            "applied": done,
            "complete": complete and done >= n,
            "seconds": elapsed,
            "events_per_s": rate,
            "cpu_cores": cores,
        }
        self.say(f"  {done:,} events in the read model after {elapsed:.1f} s: {rate:,.0f}/s")
        return before + n

    async def bare_aiokafka(self, phase: str) -> dict[str, Any]:
        """Reads the whole topic with a plain consumer, decoding every record; again and
        again until two seconds have passed, so a small topic still gives a steady rate."""
        topic = self.touchpoints(phase)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            # The reset an assignment triggers races the first seek: both must go the same way.
            auto_offset_reset="earliest",
        )
        await consumer.start()
        records = events = passes = 0
        elapsed = 0.0
        try:
            partitions = [TopicPartition(topic, p) for p in range(self.partitions)]
            consumer.assign(partitions)
            end = await consumer.end_offsets(partitions)
            while elapsed < 2 and passes < 50:
                await consumer.seek_to_beginning(*partitions)
                counts = await _read_to_end(consumer, end)
                records, events, elapsed = (
                    records + counts[0],
                    events + counts[1],
                    elapsed + counts[2],
                )
                passes += 1
        finally:
            await consumer.stop()
        result = {
            "records": records,
            "events": events,
            "passes": passes,
            "seconds": elapsed,
            "records_per_s": records / elapsed,
            "events_per_s": events / elapsed,
        }
        self.say(
            f"bare aiokafka on {topic}: {records:,} records, {events:,} events ({passes} passes)"
            f" in {elapsed:.2f} s = {events / elapsed:,.0f} events/s"
        )
        return result

    async def bare_faust(self, records: int) -> None:
        topic = self.touchpoints("one")
        self.say(f"bare Faust agent iterating {topic} ({records:,} records) ...")
        env = {
            "BENCH_FAUST_APP_ID": f"{self.run_id}-faust-bare",
            "BENCH_FAUST_DATADIR": str(self.tmp / "faust-bare"),
        }
        argv = [sys.executable, "-m", "bench.faust_bare", topic, str(records)]
        process = self.procs.start("faust-bare", argv, env)
        deadline = time.monotonic() + 90 + records / 2_000
        try:
            while time.monotonic() < deadline:
                # Faust routes print() through its logger: the JSON sits inside a log line.
                lines = [x for x in process.output() if '{"records"' in x]
                if lines:
                    result = json.loads(lines[-1][lines[-1].index('{"records"') :])
                    break
                if not process.alive():
                    raise RuntimeError(f"bare Faust app exited:\n{process.tail()}")
                await asyncio.sleep(0.5)
            else:
                raise RuntimeError(f"bare Faust app did not finish:\n{process.tail()}")
        finally:
            self.procs.stop(process)
        self.results["bare_faust_single"] = result
        self.say(f"  {result['rate']:,.0f} records/s")

    async def recovery(self) -> None:
        """SIGKILL a warmed-up worker, start another at once, send one event: the seconds
        from the kill until that event is in the read model."""
        tenant = await self.tenant("rec")
        self.say(f"recovery: SIGKILL of a worker on {self.prefix('rec')}*, restart, one event")
        first = await self.start_worker("rec", tenant)
        first.kill()
        killed = time.perf_counter()
        second = self.procs.worker("worker-rec-2", self.env("rec"))
        generator = JourneyGenerator(tenant, seed=17, id_prefix="rec-", span_days=SPAN_DAYS)
        load = workload.single_records(generator.events(1, spend=False), self.partitions)
        await self.produce(self.touchpoints("rec"), load.records)
        seconds, done = await self.wait_applied(
            tenant, load.probes, killed, 120, "recovery", second
        )
        self.procs.stop(second)
        self.results["recovery"] = {"seconds": seconds, "complete": done}
        self.say(f"  applied {seconds:.1f} s after the kill")

    async def two_workers(self) -> None:
        """Array records of one tenant through two workers in one group, against the
        one-worker rate of the array phase."""
        tenant = await self.tenant("two")
        n = self.scale.two_worker_events
        generator = JourneyGenerator(tenant, seed=3, span_days=SPAN_DAYS)
        self.say(f"two workers, one tenant: generating {n:,} events ...")
        load = workload.array_records(workload.generated(generator, n), self.partitions)
        env = self.env("two")
        extra = self.procs.worker(
            "worker-two-b", {**env, "TANDEM_WORKER_DATADIR": env["TANDEM_WORKER_DATADIR"] + "-b"}
        )
        worker = await self.start_worker("two", tenant)
        # Both have joined and the group has settled once the second warm-up is applied.
        await asyncio.sleep(8)
        before = await self.applied(tenant)
        meter = CpuMeter({"worker-a": worker, "worker-b": extra})
        started = time.perf_counter()
        await self.produce(self.touchpoints("two"), load.records)
        elapsed, complete = await self.wait_applied(
            tenant, load.probes, started, max(90, n / 2_500), "two workers", worker
        )
        cores = self.cpu(meter)
        done = await self.applied(tenant) - before
        self.procs.stop(extra)
        self.procs.stop(worker)
        rate = done / elapsed
        one = self.results["processing_array"]["events_per_s"]
        self.results["two_workers"] = {
            "events": n,
            "applied": done,
            "complete": complete and done >= n,
            "seconds": elapsed,
            "events_per_s": rate,
            "one_worker_events_per_s": one,
            "ratio": rate / one,
            "cpu_cores": cores,
        }
        self.say(f"  {rate:,.0f} events/s with two workers: {rate / one:.2f}x one worker")

    async def noisy_neighbour(self) -> None:
        """A live tenant's freshness while another tenant bulk-imports through the gateway."""
        scale = self.scale
        importer = await self.tenant("bulk")
        key = await self.key(importer, "ingest")
        generator = JourneyGenerator(
            importer, seed=23, include_tenant_id=False, span_days=SPAN_DAYS
        )
        bodies = workload.http_bodies(workload.generated(generator, scale.bulk_events))
        worker = await self.start_worker("noisy", await self.tenant("noisy-warm"))
        gateway, url = self.procs.gateway("gateway-noisy", self.env("noisy"))
        await wait_ready(gateway, url)
        self.say(
            f"noisy neighbour: {scale.bulk_events:,} events on ?lane=bulk while a live tenant"
            f" sends {scale.live_rate}/s"
        )
        headers = {"X-API-Key": key, "Content-Type": "application/json"}

        async def import_all() -> None:
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
                for body in bodies:
                    while True:
                        response = await client.post("/v1/events?lane=bulk", content=body)
                        if response.status_code == 200:
                            break
                        if response.status_code not in (429, 503):
                            raise RuntimeError(f"bulk import: HTTP {response.status_code}")
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))

        importing = asyncio.create_task(import_all())
        try:
            # The live run lasts as long as the import's drain is expected to (at the array
            # rate measured earlier), so the figure covers the whole import.
            array_rate = self.results["processing_array"]["events_per_s"]
            seconds = max(self.scale.freshness_seconds, scale.bulk_events / array_rate)
            live = await self.freshness(
                url,
                {"gateway": gateway, "worker": worker},
                phase="noisy-live",
                rate=scale.live_rate,
                seconds=seconds,
            )
            await importing
        finally:
            importing.cancel()
        applied = await self.applied(importer)
        self.procs.stop(gateway)
        self.procs.stop(worker)
        self.results["noisy_neighbour"] = {
            **live,
            "live_events_per_s": live["events_per_s"],
            "bulk_events": scale.bulk_events,
            "bulk_applied_during_run": applied,
            "bulk_complete": applied >= scale.bulk_events,
        }
        self.say(f"  {applied:,} of {scale.bulk_events:,} bulk events applied by the end")

    # -- the run -----------------------------------------------------------------------------

    async def run(self) -> int:
        self.say(f"run {self.run_id}; scale {dataclasses.asdict(self.scale)}")
        self.machine_at_start = machine()
        self.say(f"machine {self.machine_at_start}")
        self.say(f"logs of the processes it starts: {self.tmp}")
        self.admin = await asyncpg.connect(self.settings.database_admin_url)
        specs = tuple(
            dataclasses.replace(s, name=self.prefix(p) + s.name.removeprefix(_own_prefix()))
            for p in ("http", "arr", "one", "rec", "two", "noisy")
            for s in TOPICS
        )
        await ensure_topics(self.settings.kafka_bootstrap, specs)
        self.producer = make_producer(self.settings.kafka_bootstrap, request_timeout_ms=30_000)
        await self.producer.start()
        self.partitions = await self.topic_partitions(self.touchpoints("arr"))
        failed = False
        try:
            await self.http_ingestion()
            segment_tenant = await self.tenant("segment")
            self.results["segment_batch"] = dataclasses.asdict(
                await segment_batch.measure(
                    self.procs,
                    self.env("http"),
                    lambda: self.key(segment_tenant, "ingest"),
                    self.scale.http_events,
                    self.say,
                )
            )
            tenant, worker = await self.array_processing()
            gateway, url = self.procs.gateway("gateway-arr", self.env("arr"))
            await wait_ready(gateway, url)
            await self.metrics_latency(gateway, url, tenant)
            figure = await overview.measure(
                url, gateway, lambda: self.key(tenant, "viewer"), self.say
            )
            self.results["overview"] = dataclasses.asdict(figure)
            self.results["freshness"] = await self.freshness(
                url, {"gateway": gateway, "worker": worker}
            )
            hooks_tenant = await self.tenant("hooks")
            self.results["webhooks"] = dataclasses.asdict(
                await webhooks.measure(
                    self.procs,
                    self.env("arr"),
                    url,
                    hooks_tenant,
                    await self.key(hooks_tenant, "ingest"),
                    self.settings.database_admin_url,
                    self.scale.freshness_seconds,
                    self.say,
                )
            )
            self.procs.stop(gateway)
            self.procs.stop(worker)
            one_records = await self.single_processing()
            self.results["bare_aiokafka_single"] = await self.bare_aiokafka("one")
            self.results["bare_aiokafka_array"] = await self.bare_aiokafka("arr")
            await self.bare_faust(one_records)
            self.results["processing_vs_faust"] = {
                "ratio": self.results["processing_single"]["events_per_s"]
                / self.results["bare_faust_single"]["rate"]
            }
            await self.recovery()
            await self.two_workers()
            await self.noisy_neighbour()
        except BaseException:
            failed = True
            raise
        finally:
            self.procs.stop_all()
            await self.producer.stop()
            await self.cleanup(keep_logs=failed)
        self.report()
        return 0

    async def cleanup(self, *, keep_logs: bool) -> None:
        """Best effort, step by step: a broker or database that went away during the run
        must not keep the other steps from running."""
        with contextlib.suppress(Exception):
            await self.admin.close()
        try:
            deleted = await _delete_topics(self.settings.kafka_bootstrap, self.run_id)
            self.say(f"deleted {deleted} bench topics")
        except Exception as exc:
            keep_logs = True
            self.say(f"could not delete the topics {self.run_id}-*: {exc!r}")
        if self.tenants and not self.args.keep_data:
            self.say(f"removing the rows of {len(self.tenants)} bench tenants ...")
            try:
                await _drop_tenants(self.settings.database_admin_url, self.tenants)
            except Exception as exc:
                keep_logs = True
                self.say(f"could not remove the tenants {', '.join(self.tenants)}: {exc!r}")
        if keep_logs:
            self.say(f"process logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the report --------------------------------------------------------------------------

    def report(self) -> None:
        r = self.results
        rows = figures.rows(r)
        info = [
            ("bare aiokafka read+decode, one event per record", "bare_aiokafka_single"),
            ("bare aiokafka read+decode, array records", "bare_aiokafka_array"),
        ]
        width = max(len(row["figure"]) for row in rows) + 2
        print()
        print(f"{'figure':<{width}}{'target':>20}{'measured':>18}{'ratio':>8}{'vs ceiling':>12}")
        print("-" * (width + 66))
        for row in rows:
            ceiling = f"{row['vs_ceiling']:.1%}" if row["vs_ceiling"] is not None else ""
            ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else ""
            verdict = "met" if row["met"] else "MISSED"
            note = f"  {row['note']}" if row["note"] else ""
            print(
                f"{row['figure']:<{width}}{row['target_text']:>20}{row['measured_text']:>18}"
                f"{ratio:>8}{ceiling:>12}  {verdict}{note}"
            )
        print()
        ceilings = {label: r[key]["events_per_s"] for label, key in info if key in r}
        if "bare_faust_single" in r:
            ceilings["bare Faust agent iteration, one event per record"] = r["bare_faust_single"][
                "rate"
            ]
        for label, value in ceilings.items():
            unit = "records/s" if "Faust" in label else "events/s"
            print(f"{label:<{width}}{'':>20}{figures.fmt(value, unit):>18}")
        self.results["figures"] = rows
        self.results["ceilings"] = ceilings
        self.write_json()

    def write_json(self) -> None:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{self.stamp}.json"
        document = {
            "run": self.run_id,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine_at_start": self.machine_at_start,
            "machine_at_end": machine(),
            "scale": dataclasses.asdict(self.scale),
            "results": self.results,
        }
        path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        print(f"\nresults written to {os.path.relpath(path)}")


def _own_prefix() -> str:
    """The prefix this process's shared.kafka names carry (replaced by each phase's)."""
    return os.environ.get("TANDEM_TOPIC_PREFIX", "")


async def _metrics_fields(url: str, key: str) -> list[str]:
    """The scalar fields of the gateway's Metrics type; none when it serves no such type."""
    query = '{ __type(name: "Metrics") { fields { name type { kind ofType { kind } } } } }'
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}) as client:
        try:
            response = await client.post("/graphql", json={"query": query})
            found = (response.json().get("data") or {}).get("__type")
        except (httpx.HTTPError, ValueError):
            return []
    if response.status_code != 200 or not found:
        return []
    return [
        f["name"]
        for f in found["fields"]
        if "SCALAR" in (f["type"]["kind"], (f["type"].get("ofType") or {}).get("kind"))
    ]


def _graphql_query(
    client: httpx.AsyncClient, payload: dict[str, Any]
) -> Callable[[], Awaitable[None]]:
    async def query() -> None:
        response = await client.post("/graphql", json=payload)
        if response.status_code != 200 or response.json().get("errors"):
            raise RuntimeError(f"metrics query failed: {response.text[:300]}")

    return query


def _sql_query(
    pool: asyncpg.Pool, tenant: str, args: tuple[Any, ...]
) -> Callable[[], Awaitable[None]]:
    async def query() -> None:
        async with tenant_tx(pool, tenant) as conn:
            await conn.fetchrow(METRICS_SQL, *args)

    return query


async def _read_to_end(
    consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]
) -> tuple[int, int, float]:
    """Records, events and seconds (from the first fetched batch) to read up to `end`."""
    remaining = {tp for tp, offset in end.items() if offset > 0}
    records = events = 0
    started = 0.0
    deadline = time.monotonic() + 60 + sum(end.values()) / 5_000
    while remaining:
        if time.monotonic() > deadline:
            raise RuntimeError(f"could not read {len(remaining)} partitions to their end")
        batches = await consumer.getmany(timeout_ms=1_000, max_records=10_000)
        if not started and batches:
            started = time.perf_counter()
        for tp, messages in batches.items():
            for message in messages:
                decoded = orjson.loads(message.value)
                events += len(decoded) if isinstance(decoded, list) else 1
            records += len(messages)
            if messages and messages[-1].offset + 1 >= end[tp]:
                remaining.discard(tp)
    return records, events, time.perf_counter() - started


async def _has_lead_query(url: str, key: str) -> bool:
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}) as client:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            response = await client.post(
                "/graphql", json={"query": '{ lead(id: "bench-probe") { id } }'}
            )
            return response.status_code == 200 and "data" in response.json()
    return False


async def _delete_topics(bootstrap: str, prefix: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if topics:
            await admin.delete_topics(topics)
        return len(topics)
    finally:
        await admin.close()


async def _drop_tenants(admin_dsn: str, tenants: list[str]) -> None:
    """Deletes every row of the tenants, children before the tables they reference."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await _delete_rows(conn, tenants)
    finally:
        await conn.close()


async def _delete_rows(conn: asyncpg.Connection, tenants: list[str]) -> None:
    tables = [
        r["table_name"]
        for r in await conn.fetch(
            """
            SELECT c.table_name FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id'
              AND t.table_type = 'BASE TABLE' AND c.table_name <> 'tenants'
            """
        )
    ]
    for _ in range(len(tables) + 1):
        blocked = []
        for table in tables:
            try:
                await conn.execute(
                    f'DELETE FROM "{table}" WHERE tenant_id = ANY($1::text[])', tenants
                )
            except asyncpg.ForeignKeyViolationError:
                blocked.append(table)
        if not blocked:
            break
        tables = blocked
    await conn.execute("DELETE FROM tenants WHERE tenant_id = ANY($1::text[])", tenants)


def main(argv: list[str] | None = None) -> int:
    scale, args = parse_args(argv)
    bench = Bench(scale, args, load_settings())
    try:
        return asyncio.run(bench.run())
    except KeyboardInterrupt:
        print("\nbench interrupted; its processes, topics and tenants were cleaned up")
        return 130


if __name__ == "__main__":
    sys.exit(main())
