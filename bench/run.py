"""`make bench`: every figure of SPEC 12 in one run, against processes this run starts.

    python -m bench.run                       full scale (20 to 30 minutes on 2 cores)
    python -m bench.run --quick               the same figures at a tenth of the volume
    python -m bench.run --only history --scale 0.05
                                              one phase (and what it needs), small

Each phase gets its own tenants, and every process its own topic prefix and consumer group
(`bench-<stamp>-...`), so the dev platform's topics, groups and tenants are never touched.
Topics are deleted at the end, and the tenants' rows too unless --keep-data.

A figure that compares two setups runs both on the same workload in the same run: the
two-worker figure replays the very records the one-worker pass applied, into the same
tenant emptied in between; the many-tenants figure sends the same journeys once as one
tenant's and once spread over many tenants.
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
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import UnknownTopicOrPartitionError

from bench import figures, history, overview, segment_batch, sink, statements, webhooks, workload
from bench.metrics_sql import METRICS_SQL
from bench.procs import ROOT, CpuMeter, Process, Processes, WorkCpu, wait_ready
from services.admin.tenants import create_api_key, create_tenant
from shared.db import create_pool, tenant_tx
from shared.kafka import TOPICS, TOUCHPOINTS, ensure_topics, make_producer
from shared.settings import Settings, load_settings
from simulation.generator import JourneyGenerator

RESULTS = Path(__file__).resolve().parent / "results"
# Written by the browser test of the dashboard's first meaningful paint (SPEC 16).
FIRST_PAINT = ROOT / "tests" / "browser" / "artifacts" / "first_paint.json"
FRESHNESS_INTERVAL_S = 0.05
TOPIC_WAIT_S = 60
FRESHNESS_POLL_S = 0.02
# Unseen probes looked for per round of a poll: a poll stops at the first round that finds
# one missing, so it costs the server a few hundred look-ups however many probes wait.
PROBE_ROUND = 200
GRAPHQL_ALIASES = 10  # the gateway bounds aliases per query (SPEC 10)
SPAN_DAYS = 90
# How long the `metrics` figure waits for autovacuum to finish with the array phase's rows.
VACUUM_WAIT_S = 180
LEADS_PER_SMALL_TENANT = 10


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
    history_touches: int  # of the long lead; the short one has history.SHORT_TOUCHES
    history_probes: int  # per lead
    small_tenants: int  # of LEADS_PER_SMALL_TENANT leads, against one tenant of as many
    training_leads: int  # simulated leads the predictive model is trained on


FULL = Scale(
    array_events=1_000_000,
    single_events=100_000,
    http_events=200_000,
    http_clients=4,
    http_gateways=2,
    freshness_seconds=30,
    freshness_rate=1_000,
    metrics_queries=200,
    bulk_events=500_000,
    live_rate=200,
    two_worker_events=500_000,
    history_touches=20_000,
    history_probes=20,
    small_tenants=500,
    training_leads=100_000,
)


def scaled(factor: float) -> Scale:
    """FULL with every volume multiplied by `factor` (rates, clients and processes kept)."""

    def n(value: int, least: int) -> int:
        return max(least, round(value * factor))

    return dataclasses.replace(
        FULL,
        array_events=n(FULL.array_events, 2_000),
        single_events=n(FULL.single_events, 1_000),
        http_events=n(FULL.http_events, 5_000),
        freshness_seconds=max(5.0, FULL.freshness_seconds * factor),
        metrics_queries=n(FULL.metrics_queries, 20),
        bulk_events=n(FULL.bulk_events, 5_000),
        two_worker_events=n(FULL.two_worker_events, 2_000),
        history_touches=n(FULL.history_touches, 100),
        small_tenants=n(FULL.small_tenants, 2),
        training_leads=n(FULL.training_leads, 2_000),
    )


# The phases in the order of a full run, each with the phases it needs.
PHASES: dict[str, tuple[str, ...]] = {
    "http": (),
    "segment": (),
    "array": (),
    "metrics": ("array",),
    "overview": ("array",),
    "freshness": ("array",),
    "webhooks": ("array",),
    "ceilings": ("array",),
    "single": (),
    "recovery": (),
    "two-workers": (),
    "many-tenants": (),
    "history": (),
    "noisy": ("array",),
    "training": (),
}


# The topic prefixes (`bench-<stamp>-<prefix>-`) each phase's processes use.
TOPIC_PREFIXES: dict[str, tuple[str, ...]] = {
    "http": ("http",),
    "segment": ("http",),
    "array": ("arr",),
    "metrics": ("arr",),
    "overview": ("arr",),
    "freshness": ("arr",),
    "webhooks": ("arr",),
    "ceilings": ("arr",),
    "single": ("one",),
    "recovery": ("rec",),
    "two-workers": ("two1", "two2"),
    "many-tenants": ("mtone", "mtmany"),
    "history": ("hist",),
    "noisy": ("noisy",),
    "training": (),
}


def selected_phases(only: str | None) -> list[str]:
    """The phases to run, in run order: all, or those named and the phases they need."""
    if not only:
        return list(PHASES)
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    unknown = wanted - PHASES.keys()
    if unknown:
        raise SystemExit(f"unknown phase {', '.join(sorted(unknown))}; phases: {', '.join(PHASES)}")
    for name in list(wanted):
        wanted.update(PHASES[name])
    return [name for name in PHASES if name in wanted]


def _cpu_per_event(cpu: WorkCpu, applied: int) -> dict[str, Any]:
    """The CPU the worker and its PostgreSQL backends spent, and per applied event."""
    used = cpu.seconds()
    return {
        "cpu_seconds": {"worker": used["worker"], "postgres": used["postgres"]},
        "postgres_backends": int(used["postgres_backends"]),
        "cpu_us_per_event": {
            "worker": used["worker"] / max(1, applied) * 1e6,
            "postgres": used["postgres"] / max(1, applied) * 1e6,
        },
    }


def _cpu_us(run: dict[str, Any]) -> float:
    return float(sum(run["cpu_us_per_event"].values()))


def parse_args(argv: list[str] | None) -> tuple[Scale, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="Measure every figure of SPEC 12."
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the volume")
    parser.add_argument("--scale", type=float, help="volumes times this factor (1)")
    parser.add_argument(
        "--only", help=f"comma-separated phases (and what they need): {', '.join(PHASES)}"
    )
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
    base = scaled(args.scale or (0.1 if args.quick else 1.0))
    overrides = {
        "array_events": args.events,
        "single_events": args.single_events,
        "http_events": args.http_events,
        "http_clients": args.clients,
        "http_gateways": args.gateways,
        "freshness_seconds": args.freshness_seconds,
        "metrics_queries": args.metrics_queries,
        "bulk_events": args.bulk_events,
        "two_worker_events": args.two_worker_events,
    }
    scale = dataclasses.replace(base, **{k: v for k, v in overrides.items() if v})
    args.phases = selected_phases(args.only)
    return scale, args


def pg_port(dsn: str) -> int:
    return urlsplit(dsn).port or 5432


def _command(*argv: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    return ""


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
        "lscpu": _command("lscpu"),
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

    def env(self, phase: str, group: str = "workers") -> dict[str, str]:
        return {
            "TANDEM_TOPIC_PREFIX": self.prefix(phase),
            "TANDEM_WORKER_GROUP": f"{self.prefix(phase)}{group}",
            "TANDEM_WORKER_DATADIR": str(self.tmp / f"faust-{phase}-{group}"),
        }

    async def tenant(self, phase: str) -> str:
        slug = f"{self.run_id}-{phase}"
        await create_tenant(self.settings.database_admin_url, slug)
        self.tenants.append(slug)
        return slug

    async def key(self, tenant: str, role: str) -> str:
        return await create_api_key(self.settings.database_admin_url, tenant, role)

    async def applied(self, *tenants: str) -> int:
        count: int = await self.admin.fetchval(
            "SELECT (SELECT count(*) FROM events WHERE tenant_id = ANY($1::text[]))"
            " + (SELECT count(*) FROM spend WHERE tenant_id = ANY($1::text[]))",
            list(tenants),
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

    async def ensure_phase_topics(self, *phases: str) -> None:
        specs = tuple(
            dataclasses.replace(s, name=self.prefix(p) + s.name.removeprefix(_own_prefix()))
            for p in phases
            for s in TOPICS
        )
        await ensure_topics(self.settings.kafka_bootstrap, specs)

    async def found(self, probes: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of the (tenant, event id) probes that are in the read model."""
        # Probe by probe through the primary key (a join of thousands of probes was planned
        # as a scan of the whole event log).
        rows = await self.admin.fetch(
            "SELECT e.tenant_id, e.event_id"
            " FROM unnest($1::text[], $2::text[]) AS p(tenant_id, event_id)"
            " CROSS JOIN LATERAL (SELECT tenant_id, event_id FROM events e"
            " WHERE e.tenant_id = p.tenant_id AND e.event_id = p.event_id OFFSET 0) AS e",
            [t for t, _ in probes],
            [e for _, e in probes],
        )
        return {(r[0], r[1]) for r in rows}

    async def wait_applied(
        self,
        probes: list[tuple[str, str]],
        started: float,
        limit_s: float,
        label: str,
        workers: list[Process],
        cpu: WorkCpu | None = None,
        count: int | None = None,
    ) -> tuple[float, bool]:
        """Seconds from `started` until every probe event is in the read model (and, given
        `count`, until the tenants' applied events number that many), and whether they all
        got there within `limit_s`. A worker applies two batches at once, and the later may
        commit first: the last event of a partition is no proof that all before it are in."""
        tenants = sorted({t for t, _ in probes})
        deadline = started + limit_s
        next_report = time.perf_counter() + 5
        # With many tenants there are thousands of probes, and the bench's own queries must
        # not take the cores it measures: a poll looks for the unseen probes a round at a
        # time, in the order they were produced, and stops at a round with one missing.
        waiting = list(dict.fromkeys(probes))
        while True:
            for worker in workers:
                if not worker.alive():
                    raise RuntimeError(f"{worker.name} exited:\n{worker.tail()}")
            while waiting:
                looked, rest = waiting[:PROBE_ROUND], waiting[PROBE_ROUND:]
                seen = await self.found(looked)
                waiting = [p for p in looked if p not in seen] + rest
                if len(seen) < len(looked):
                    break
            done = not waiting
            if done and count is not None and await self.applied(*tenants) < count:
                # Counting a large tenant's events is work for the server under test:
                # only once every probe is in, and less often.
                done = False
                await asyncio.sleep(0.2)
            now = time.perf_counter()
            if done:
                return now - started, True
            if now > deadline:
                return now - started, False
            if cpu is not None:
                cpu.sample()
            if now > next_report:
                applied = await self.applied(*tenants)
                self.say(
                    f"  {label}: {applied:,} events applied, {applied / (now - started):,.0f}/s"
                )
                next_report = now + 5
            await asyncio.sleep(0.1)

    async def start_worker(
        self, phase: str, tenant: str, env: dict[str, str] | None = None, name: str = ""
    ) -> Process:
        """A worker on the phase's topics, warmed up: it has joined its group and applied a
        first journey of `tenant`, so the timed part measures processing, not startup."""
        worker = self.procs.worker(name or f"worker-{phase}", env or self.env(phase))
        warm = JourneyGenerator(
            tenant, seed=99, id_prefix=f"warm-{worker.name}-", span_days=SPAN_DAYS
        )
        load = workload.single_records(warm.events(20, spend=False), self.partitions)
        await self.produce(self.touchpoints(phase), load.records)
        started = time.perf_counter()
        _, done = await self.wait_applied(load.probes, started, 120, "warm-up", [worker])
        if not done:
            raise RuntimeError(f"worker not processing after 120 s:\n{worker.tail()}")
        return worker

    async def timed_apply(
        self,
        phase: str,
        load: workload.Workload,
        workers: list[Process],
        label: str,
        *,
        min_rate: float = 2_500,
        cpu: WorkCpu | None = None,
    ) -> dict[str, Any]:
        """Produces the workload to the phase's topic of warmed-up workers and times it until
        it is all in the read model: the rate, whether it completed, the CPU in cores."""
        tenants = sorted({t for t, _ in load.probes})
        before = await self.applied(*tenants)
        meter = CpuMeter({w.name: w for w in workers})
        started = time.perf_counter()
        await self.produce(self.touchpoints(phase), load.records)
        self.say(f"  produced in {time.perf_counter() - started:.1f} s; waiting for the read model")
        elapsed, complete = await self.wait_applied(
            load.probes,
            started,
            max(90, load.events / min_rate),
            label,
            workers,
            cpu,
            count=before + load.events,
        )
        cores = self.cpu(meter)
        done = await self.applied(*tenants) - before
        rate = done / elapsed
        self.say(f"  {done:,} events in the read model after {elapsed:.1f} s: {rate:,.0f}/s")
        return {
            "events": load.events,
            "applied": done,
            "complete": complete and done >= load.events,
            "seconds": elapsed,
            "events_per_s": rate,
            "cpu_cores": cores,
        }

    # -- phases --------------------------------------------------------------------------------

    async def post_all(
        self, urls: list[str], bodies: list[bytes], key: str
    ) -> tuple[int, float, list[float], int]:
        """Posts the bodies with the scale's clients spread over `urls`: events accepted,
        seconds, request latencies, requests retried after 429/503."""
        queue = iter(bodies)
        latencies: list[float] = []
        accepted = retried = 0

        async def client_loop(client: httpx.AsyncClient) -> None:
            nonlocal accepted, retried
            for body in queue:
                response, refused, latency = await workload.post_until_taken(
                    client, "/v1/events", body
                )
                retried += refused
                latencies.append(latency)
                result = response.json()
                accepted += result["accepted"]
                if result["rejected"]:
                    raise RuntimeError(f"events rejected: {result['rejected'][:2]}")

        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        clients = [
            httpx.AsyncClient(base_url=urls[i % len(urls)], headers=headers, timeout=30)
            for i in range(self.scale.http_clients)
        ]
        try:
            # A first request per client opens its connection and the gateway's metadata;
            # its events are posted again in the timed part (the same ids: no worker reads
            # this topic, so nothing is applied twice).
            for client in clients:
                (await client.post("/v1/events", content=bodies[0])).raise_for_status()
            started = time.perf_counter()
            await asyncio.gather(*(client_loop(c) for c in clients))
            elapsed = time.perf_counter() - started
        finally:
            for client in clients:
                await client.aclose()
        return accepted, elapsed, latencies, retried

    async def http_ingestion(self) -> None:
        """The same bodies posted through one gateway process, then through the scale's."""
        scale = self.scale
        tenant = await self.tenant("http")
        key = await self.key(tenant, "ingest")
        generator = JourneyGenerator(tenant, seed=11, include_tenant_id=False, span_days=SPAN_DAYS)
        bodies = workload.http_bodies(workload.generated(generator, scale.http_events))
        runs: dict[int, dict[str, Any]] = {}
        for count in sorted({1, scale.http_gateways}):
            self.say(
                f"HTTP ingestion: {scale.http_events:,} events in {len(bodies)} requests of 500,"
                f" {scale.http_clients} clients over {count} gateway processes,"
                f" topics {self.prefix('http')}*"
            )
            gateways = [
                self.procs.gateway(f"gateway-http-{count}-{i + 1}", self.env("http"))
                for i in range(count)
            ]
            try:
                for gateway, url in gateways:
                    await wait_ready(gateway, url)
                meter = CpuMeter({process.name: process for process, _ in gateways})
                accepted, elapsed, latencies, retried = await self.post_all(
                    [url for _, url in gateways], bodies, key
                )
                cores = self.cpu(meter)
            finally:
                for gateway, _ in gateways:
                    self.procs.stop(gateway)
            runs[count] = {
                "events": accepted,
                "seconds": elapsed,
                "events_per_s": accepted / elapsed,
                "requests": len(latencies),
                "request_p50_ms": figures.percentile(latencies, 0.5) * 1000,
                "request_p99_ms": figures.percentile(latencies, 0.99) * 1000,
                "retried": retried,
                "cpu_cores": cores,
            }
            self.say(
                f"  {accepted:,} events accepted in {elapsed:.1f} s:"
                f" {accepted / elapsed:,.0f} events/s"
            )
        self.results["http_ingestion"] = {
            **runs[scale.http_gateways],
            "clients": scale.http_clients,
            "gateways": scale.http_gateways,
            "one_gateway_events_per_s": runs[1]["events_per_s"],
            "one_gateway": runs[1],
        }

    async def array_processing(self) -> tuple[str, Process]:
        tenant = await self.tenant("arr")
        generator = JourneyGenerator(tenant, seed=1, span_days=SPAN_DAYS)
        n = self.scale.array_events
        self.say(f"array records: generating {n:,} events ...")
        load = workload.array_records(workload.generated(generator, n), self.partitions)
        self.say(f"  {len(load.records):,} records; starting a worker on {self.prefix('arr')}*")
        worker = await self.start_worker("arr", tenant)
        cpu = WorkCpu([worker], pg_port(self.settings.database_url))
        before = await statements.snapshot(self.admin)
        result = await self.timed_apply("arr", load, [worker], "array records", cpu=cpu)
        del load
        after = await statements.snapshot(self.admin)
        for line in statements.report(before, after, result["applied"], most=8).splitlines():
            self.say(f"  {line}")
        result |= _cpu_per_event(cpu, result["applied"])
        self.results["processing_array"] = result
        self.say(
            f"  CPU per applied event: worker {result['cpu_us_per_event']['worker']:.0f} µs,"
            f" its {result['postgres_backends']} PostgreSQL backends"
            f" {result['cpu_us_per_event']['postgres']:.0f} µs"
        )
        rss, peak = worker.rss_bytes()
        leads = await self.admin.fetchval("SELECT count(*) FROM leads WHERE tenant_id = $1", tenant)
        self.results["worker_memory"] = {"leads": leads, "rss_bytes": rss, "peak_rss_bytes": peak}
        self.say(
            f"  worker RSS {rss / 2**20:,.0f} MiB (peak {peak / 2**20:,.0f}) at {leads:,} leads"
        )
        return tenant, worker

    async def metrics_latency(self, gateway: Process, url: str, tenant: str) -> None:
        """`metrics` over a different period for every query, so that no answer comes from
        the gateway's overview cache: first right after the array phase, while autovacuum
        may still be working through its million rows (printed apart), then, as the figure,
        once no vacuum runs (waited for up to VACUUM_WAIT_S); then one period again and
        again, the cached figure."""
        n = self.scale.metrics_queries
        events = await self.applied(tenant)
        now = datetime.now(UTC)
        key = await self.key(tenant, "viewer")
        async with contextlib.AsyncExitStack() as stack:
            fields = await _metrics_fields(url, key)
            query: Callable[[datetime, datetime], Awaitable[None]]
            if fields:
                via = "GraphQL metrics(from, to) through the gateway"
                client = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=10)
                )
                query = _graphql_query(client, fields)
            else:
                via = "equivalent SQL (bench/metrics_sql.py): the gateway has no GraphQL metrics"
                pool = await create_pool(self.settings.database_url, max_size=1)
                stack.push_async_callback(pool.close)
                query = _sql_query(pool, tenant, now)
            periods = distinct_periods(now, 2 * n + 5)
            self.say(
                f"metrics: {n} queries, each over its own period of about {SPAN_DAYS} days,"
                f" {events:,} events, via {via}"
            )
            for start, end in periods[2 * n :]:  # warm-up, on periods of their own
                await query(start, end)

            async def timed(batch: list[tuple[datetime, datetime]]) -> list[float]:
                latencies = []
                for start, end in batch:
                    started = time.perf_counter()
                    await query(start, end)
                    latencies.append(time.perf_counter() - started)
                return latencies

            vacuuming = await self.vacuums()
            meter = CpuMeter({"gateway": gateway})
            during = await timed(periods[n : 2 * n])
            self.cpu(meter)
            self.say(
                f"  right after the array phase ({', '.join(vacuuming) or 'no vacuum running'}):"
                f" p50 {figures.percentile(during, 0.5) * 1000:.1f} ms,"
                f" p99 {figures.percentile(during, 0.99) * 1000:.1f} ms"
            )
            wait_started = time.monotonic()
            for _ in range(VACUUM_WAIT_S):
                if not (still := await self.vacuums()):
                    break
                await asyncio.sleep(1)
            waited = time.monotonic() - wait_started
            self.say(
                f"  waited {waited:.0f} s for autovacuum"
                + (f", still running on {', '.join(still)}" if still else "")
            )
            meter = CpuMeter({"gateway": gateway})
            latencies = await timed(periods[:n])
            cores = self.cpu(meter)
            start, end = periods[0]  # answered above: from here on a cache may answer it
            cached = await timed([(start, end)] * n)
        p50, p99 = figures.percentile(latencies, 0.5), figures.percentile(latencies, 0.99)
        cached_p99 = figures.percentile(cached, 0.99)
        self.results["metrics"] = {
            "via": via,
            "events": events,
            "queries": n,
            "distinct_periods": len(set(periods[: 2 * n])),
            "p50_ms": p50 * 1000,
            "p99_ms": p99 * 1000,
            "cached_p50_ms": figures.percentile(cached, 0.5) * 1000,
            "cached_p99_ms": cached_p99 * 1000,
            "during_vacuum": {
                "vacuuming": vacuuming,
                "p50_ms": figures.percentile(during, 0.5) * 1000,
                "p99_ms": figures.percentile(during, 0.99) * 1000,
            },
            "vacuum_wait_s": waited,
            "vacuum_still_running": still,
            "cpu_cores": cores,
        }
        self.say(
            f"  every period different: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms;"
            f" one period repeated (cached): p99 {cached_p99 * 1000:.1f} ms"
        )

    async def vacuums(self) -> list[str]:
        """The tables a vacuum or analyze (autovacuum's or anyone's) is working on now."""
        rows = await self.admin.fetch(
            "SELECT c.relname FROM (SELECT relid FROM pg_stat_progress_vacuum"
            " UNION ALL SELECT relid FROM pg_stat_progress_analyze) p"
            " JOIN pg_class c ON c.oid = p.relid ORDER BY 1"
        )
        return [r["relname"] for r in rows]

    async def freshness(
        self,
        url: str,
        processes: dict[str, Process],
        *,
        phase: str = "fresh",
        rate: int | None = None,
        seconds: float | None = None,
    ) -> dict[str, Any]:
        """Ack → visible latency of a live tenant sending `rate` events/s for `seconds`; a
        probe not visible 15 s after the last send is lost: infinitely late."""
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
        summary = figures.latency_summary(latencies, lost=len(pending))
        result = {
            "via": via,
            "events": sent_events,
            "events_per_s": achieved,
            **summary,
            "cpu_cores": cores,
        }
        self.say(
            f"  {achieved:,.0f} events/s sent; p50 {summary['p50_s'] * 1000:.0f} ms,"
            f" p99 {summary['p99_s'] * 1000:.0f} ms over {summary['samples']} probes,"
            f" {len(pending)} never seen (counted as infinitely late)"
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
        result = await self.timed_apply("one", load, [worker], "single records", min_rate=1_000)
        self.procs.stop(worker)
        self.results["processing_single"] = result
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
        from the kill until that event is in the read model (inf if it never is)."""
        tenant = await self.tenant("rec")
        self.say(f"recovery: SIGKILL of a worker on {self.prefix('rec')}*, restart, one event")
        # As a deployment runs it: the replacement has the killed worker's instance id.
        env = {**self.env("rec"), "TANDEM_WORKER_INSTANCE": f"{self.prefix('rec')}worker-0"}
        first = await self.start_worker("rec", tenant, env)
        first.kill()
        killed = time.perf_counter()
        second = self.procs.worker("worker-rec-2", env)
        generator = JourneyGenerator(tenant, seed=17, id_prefix="rec-", span_days=SPAN_DAYS)
        load = workload.single_records(generator.events(1, spend=False), self.partitions)
        await self.produce(self.touchpoints("rec"), load.records)
        seconds, done = await self.wait_applied(load.probes, killed, 120, "recovery", [second])
        self.procs.stop(second)
        self.results["recovery"] = {"seconds": seconds, "complete": done}
        self.say(f"  applied {seconds:.1f} s after the kill" if done else "  never applied")

    async def two_workers(self) -> None:
        """The same array records of one tenant through one worker, then, into that tenant
        emptied, through two workers of a fresh group: one workload, two setups."""
        tenant = await self.tenant("two")
        warm = await self.tenant("two-warm")
        n = self.scale.two_worker_events
        generator = JourneyGenerator(tenant, seed=3, span_days=SPAN_DAYS)
        self.say(f"two workers vs one, one tenant: generating {n:,} events ...")
        load = workload.array_records(workload.generated(generator, n), self.partitions)
        passes: dict[str, dict[str, Any]] = {}
        for label, count in (("one", 1), ("two", 2)):
            phase = f"two{count}"  # each pass its own topics, the same records produced
            self.say(f"  {count} worker(s) on {self.prefix(phase)}*")
            workers = [
                self.procs.worker(
                    f"worker-{phase}-{i}",
                    {**self.env(phase), "TANDEM_WORKER_DATADIR": str(self.tmp / f"{phase}-{i}")},
                )
                for i in range(1, count)
            ]
            workers.append(
                await self.start_worker(
                    phase,
                    warm,
                    {**self.env(phase), "TANDEM_WORKER_DATADIR": str(self.tmp / f"{phase}-0")},
                    name=f"worker-{phase}-0",
                )
            )
            if count > 1:
                # Both have joined and the group has settled once the warm-up is applied
                # and the second member's join has had time to rebalance.
                await asyncio.sleep(8)
            try:
                passes[label] = await self.timed_apply(phase, load, workers, f"{count} worker(s)")
            finally:
                for worker in workers:
                    self.procs.stop(worker)
            if label == "one":
                self.say(f"  emptying {tenant} for the second pass ...")
                await _empty_tenants(self.admin, [tenant])
        del load
        ratio = figures.ratio(passes["two"]["events_per_s"], passes["one"]["events_per_s"])
        self.results["two_workers"] = {"events": n, "ratio": ratio, **passes}
        self.say(f"  two workers {ratio:.2f}x one worker on the same {n:,} events")

    async def many_tenants(self) -> None:
        """The same journeys as one tenant's and spread over many small tenants."""
        count = self.scale.small_tenants
        leads = count * LEADS_PER_SMALL_TENANT
        one = await self.tenant("mt-one")
        self.say(f"many tenants: {leads:,} journeys as one tenant and as {count} tenants ...")
        journeys = list(JourneyGenerator(one, seed=29, span_days=SPAN_DAYS).journeys(leads))
        tenants = []
        for i in range(count):
            tenants.append(await self.tenant(f"mt-{i:03d}"))
        setups = {
            "one": workload.array_records((e for j in journeys for e in j), self.partitions),
            "many": workload.batch_records(
                workload.journeys_of_tenants(journeys, tenants, LEADS_PER_SMALL_TENANT),
                self.partitions,
            ),
        }
        del journeys
        runs: dict[str, dict[str, Any]] = {}
        for label, load in setups.items():
            phase = f"mt{label}"
            self.say(f"  {label}: {load.events:,} events in {len(load.records):,} records")
            worker = await self.start_worker(phase, await self.tenant(f"mt-warm-{label}"))
            cpu = WorkCpu([worker], pg_port(self.settings.database_url))
            before = await statements.snapshot(self.admin)
            try:
                runs[label] = await self.timed_apply(phase, load, [worker], label, cpu=cpu)
            finally:
                self.procs.stop(worker)
            runs[label] |= _cpu_per_event(cpu, runs[label]["applied"])
            after = await statements.snapshot(self.admin)
            report = statements.report(before, after, runs[label]["applied"], most=8)
            for line in report.splitlines():
                self.say(f"  {line}")
        ratio = figures.ratio(runs["many"]["events_per_s"], runs["one"]["events_per_s"])
        # A pass lasts seconds, so its rate moves with whatever else the machine runs; the
        # CPU that the worker and its backends spent per event does not.
        cost = figures.ratio(_cpu_us(runs["many"]), _cpu_us(runs["one"]))
        self.results["many_tenants"] = {
            "tenants": count,
            "leads": leads,
            "events": setups["one"].events,
            "ratio": ratio,
            "cpu_ratio": cost,
            **runs,
        }
        self.say(
            f"  {count} tenants at {ratio:.2f}x one tenant's rate, at {cost:.2f}x its CPU"
            " (worker and PostgreSQL) per event"
        )

    async def noisy_neighbour(self) -> None:
        """A live tenant's freshness while another tenant bulk-imports through the gateway,
        and the import's applied rate, which must hold ≥ 0.5x the array-records rate."""
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
        array_rate = self.results["processing_array"]["events_per_s"]
        # The live run lasts as long as the import may take at its target rate, so that an
        # import that meets the target is applied within it.
        seconds = max(scale.freshness_seconds, scale.bulk_events / (0.5 * array_rate))
        self.say(
            f"noisy neighbour: {scale.bulk_events:,} events on ?lane=bulk while a live tenant"
            f" sends {scale.live_rate}/s for {seconds:.0f} s"
        )
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        posted = 0
        progress: list[tuple[float, int]] = []

        async def import_all() -> None:
            nonlocal posted
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
                for body in bodies:
                    while True:
                        response = await client.post("/v1/events?lane=bulk", content=body)
                        if response.status_code == 200:
                            break
                        if response.status_code not in (429, 503):
                            raise RuntimeError(f"bulk import: HTTP {response.status_code}")
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                    posted += response.json()["accepted"]

        async def watch(started: float) -> None:
            """The import's progress every 2 s (printed every 10 s): the time it took to be
            applied is known to 2 s, for a count that costs PostgreSQL little."""
            while True:
                await asyncio.sleep(2)
                applied = await self.applied(importer)
                elapsed = time.perf_counter() - started
                progress.append((elapsed, applied))
                if len(progress) % 5 == 0 or applied >= scale.bulk_events:
                    self.say(
                        f"  bulk import: {posted:,} posted, {applied:,} of {scale.bulk_events:,}"
                        f" applied after {elapsed:.0f} s ({applied / elapsed:,.0f} events/s)"
                    )
                if applied >= scale.bulk_events:
                    return

        started = time.perf_counter()
        importing = asyncio.create_task(import_all())
        watching = asyncio.create_task(watch(started))
        try:
            live = await self.freshness(
                url,
                {"gateway": gateway, "worker": worker},
                phase="noisy-live",
                rate=scale.live_rate,
                seconds=seconds,
            )
            if importing.done():
                importing.result()  # a failed import fails the phase
        finally:
            importing.cancel()
            watching.cancel()
            # The watcher may be in the middle of a count on the admin connection: it must
            # have stopped before the connection is used again.
            await asyncio.gather(importing, watching, return_exceptions=True)
        applied = await self.applied(importer)
        elapsed = time.perf_counter() - started
        done_at = next((t for t, n in progress if n >= scale.bulk_events), None)
        bulk_rate = scale.bulk_events / done_at if done_at else applied / elapsed
        self.procs.stop(gateway)
        self.procs.stop(worker)
        self.results["noisy_neighbour"] = {
            **live,
            "live_events_per_s": live["events_per_s"],
            "bulk": {
                "events": scale.bulk_events,
                "posted": posted,
                "applied": applied,
                "seconds": done_at or elapsed,
                "complete": applied >= scale.bulk_events,
                "events_per_s": bulk_rate,
                "vs_array": figures.ratio(bulk_rate, array_rate),
                "progress": progress,
            },
        }
        self.say(
            f"  bulk import applied {bulk_rate:,.0f} events/s"
            f" ({figures.ratio(bulk_rate, array_rate):.2f}x the array-records rate),"
            f" {applied:,} of {scale.bulk_events:,} by the end"
        )

    # -- the run -----------------------------------------------------------------------------

    async def run(self) -> int:
        phases = self.args.phases
        self.say(f"run {self.run_id}; phases {', '.join(phases)}")
        self.say(f"scale {dataclasses.asdict(self.scale)}")
        self.machine_at_start = machine()
        self.say(
            f"machine: {self.machine_at_start['cpu']}, {self.machine_at_start['nproc']} CPUs,"
            f" {self.machine_at_start['memory_gib']} GiB,"
            f" load {self.machine_at_start['loadavg_1_5_15']}"
        )
        self.say(f"logs of the processes it starts: {self.tmp}")
        self.admin = await asyncpg.connect(self.settings.database_admin_url)
        topics = [prefix for phase in phases for prefix in TOPIC_PREFIXES[phase]]
        await self.ensure_phase_topics(*dict.fromkeys(topics))
        self.producer = make_producer(self.settings.kafka_bootstrap, request_timeout_ms=30_000)
        await self.producer.start()
        if topics:  # the training phase alone needs no topic
            self.partitions = await self.topic_partitions(self.touchpoints(topics[0]))
        failed = False
        try:
            await self.run_phases(phases)
        except BaseException:
            failed = True
            raise
        finally:
            self.procs.stop_all()
            await self.producer.stop()
            await self.cleanup(keep_logs=failed)
        self.report()
        return 0

    async def run_phases(self, phases: list[str]) -> None:
        if "http" in phases:
            await self.http_ingestion()
        if "segment" in phases:
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
        if "array" in phases:
            await self.array_group(phases)
        if "single" in phases:
            one_records = await self.single_processing()
            self.results["bare_aiokafka_single"] = await self.bare_aiokafka("one")
            await self.bare_faust(one_records)
            self.results["processing_vs_faust"] = {
                "ratio": self.results["processing_single"]["events_per_s"]
                / self.results["bare_faust_single"]["rate"]
            }
        if "recovery" in phases:
            await self.recovery()
        if "two-workers" in phases:
            await self.two_workers()
        if "many-tenants" in phases:
            await self.many_tenants()
        if "history" in phases:
            self.results["history"] = await history.measure(self)
        if "noisy" in phases:
            await self.noisy_neighbour()
        if "training" in phases:
            self.results["predictive_training"] = await self.training()

    async def training(self) -> dict[str, Any]:
        """The models job's training on simulated leads, in a process of its own so that its
        peak memory is the training's alone (bench/training.py)."""
        leads = self.scale.training_leads
        self.say(f"training the predictive model on {leads:,} simulated leads ...")
        done = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.training", "--leads", str(leads), "--json",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await done.communicate()
        if done.returncode != 0:
            raise RuntimeError(f"bench.training exited {done.returncode}")
        measured = orjson.loads(out.splitlines()[-1])
        return {
            "leads": measured["leads"],
            "seconds": measured["seconds"],
            "peak_rss_bytes": measured["peak_bytes"],
        }

    async def array_group(self, phases: list[str]) -> None:
        """The array phase and what runs against its tenant, worker and gateway."""
        tenant, worker = await self.array_processing()
        gateway, url = self.procs.gateway("gateway-arr", self.env("arr"))
        await wait_ready(gateway, url)
        if "metrics" in phases:
            await self.metrics_latency(gateway, url, tenant)
        if "overview" in phases:
            figure = await overview.measure(
                url, gateway, lambda: self.key(tenant, "viewer"), self.say
            )
            self.results["overview"] = dataclasses.asdict(figure)
        if "freshness" in phases:
            self.results["freshness"] = await self.freshness(
                url, {"gateway": gateway, "worker": worker}
            )
        if "webhooks" in phases:
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
        if "ceilings" in phases:
            self.results["bare_aiokafka_array"] = await self.bare_aiokafka("arr")
            self.results["bare_sink"] = await sink.measure(
                self.settings,
                self.touchpoints("arr"),
                self.partitions,
                f"bench_sink_{self.stamp.replace('-', '_')}",
                self.say,
            )

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
        derived(r)
        paint = first_paint(FIRST_PAINT)
        if paint is not None:
            r["first_paint"] = paint
        rows = figures.rows(r)
        width = max(len(row["figure"]) for row in rows) + 2
        print()
        print(f"{'figure':<{width}}{'target':>20}{'measured':>18}{'ratio':>8}{'vs ceiling':>12}")
        print("-" * (width + 66))
        for row in rows:
            ceiling = f"{row['vs_ceiling']:.1%}" if row["vs_ceiling"] is not None else ""
            ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else ""
            verdict = "met" if row["met"] else "-" if row["measured"] is None else "MISSED"
            note = f"  {row['note']}" if row["note"] else ""
            print(
                f"{row['figure']:<{width}}{row['target_text']:>20}{row['measured_text']:>18}"
                f"{ratio:>8}{ceiling:>12}  {verdict}{note}"
            )
        print()
        ceilings = references(r)
        for label, (value, unit) in ceilings.items():
            print(f"{label:<{width}}{'':>20}{figures.fmt(value, unit):>18}")
        self.results["figures"] = rows
        self.results["ceilings"] = {label: value for label, (value, _) in ceilings.items()}
        self.write_json()

    def write_json(self) -> None:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{self.stamp}.json"
        document = {
            "run": self.run_id,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "phases": self.args.phases,
            "machine_at_start": self.machine_at_start,
            "machine_at_end": machine(),
            "scale": dataclasses.asdict(self.scale),
            "results": self.results,
        }
        # Infinite latencies (lost probes) have no JSON spelling: they are written as null.
        path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        print(f"\nresults written to {os.path.relpath(path)}")


def distinct_periods(now: datetime, count: int) -> list[tuple[datetime, datetime]]:
    """`count` periods of about SPAN_DAYS + 2 days around the generated span, no two alike
    (each starts 7 minutes later and ends 5 minutes earlier than the one before), so
    that a cache keyed by the period cannot answer any of them."""
    start, end = now - timedelta(days=SPAN_DAYS + 1), now + timedelta(days=1)
    return [
        (start + timedelta(minutes=7 * i), end - timedelta(minutes=5 * i)) for i in range(count)
    ]


def derived(results: figures.Results) -> None:
    """Figures computed from two phases' results."""
    if "processing_array" in results and "bare_sink" in results:
        sink_rate = results["bare_sink"]["events_per_s"]
        results["processing_vs_sink"] = {
            "ratio": figures.ratio(results["processing_array"]["events_per_s"], sink_rate),
            "sink_events_per_s": sink_rate,
        }


def references(results: figures.Results) -> dict[str, tuple[float, str]]:
    """The machine's ceilings the run measured, printed below the figures."""
    out = {}
    for label, key in (
        ("bare aiokafka read+decode, one event per record", "bare_aiokafka_single"),
        ("bare aiokafka read+decode, array records", "bare_aiokafka_array"),
        ("bare sink: aiokafka + COPY into one table, array records", "bare_sink"),
    ):
        if key in results:
            out[label] = (float(results[key]["events_per_s"]), "events/s")
    if "bare_faust_single" in results:
        out["bare Faust agent iteration, one event per record"] = (
            float(results["bare_faust_single"]["rate"]),
            "records/s",
        )
    return out


def first_paint(path: Path) -> dict[str, Any] | None:
    """The browser test's last measure of the dashboard's first meaningful paint, if any."""
    try:
        data = json.loads(path.read_text())
        return {"numbers_ms": float(data["numbers_ms"]), "written": str(data["written"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
    client: httpx.AsyncClient, fields: list[str]
) -> Callable[[datetime, datetime], Awaitable[None]]:
    text = (
        "query($from: DateTime!, $to: DateTime!) {"
        f" metrics(from: $from, to: $to) {{ {' '.join(fields)} }} }}"
    )

    async def query(start: datetime, end: datetime) -> None:
        variables = {"from": start.isoformat(), "to": end.isoformat()}
        response = await client.post("/graphql", json={"query": text, "variables": variables})
        if response.status_code != 200 or response.json().get("errors"):
            raise RuntimeError(f"metrics query failed: {response.text[:300]}")

    return query


def _sql_query(
    pool: asyncpg.Pool, tenant: str, now: datetime
) -> Callable[[datetime, datetime], Awaitable[None]]:
    async def query(start: datetime, end: datetime) -> None:
        async with tenant_tx(pool, tenant) as conn:
            await conn.fetchrow(METRICS_SQL, tenant, start, end, now, 24)

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
        await _empty_tenants(conn, tenants)
        await conn.execute("DELETE FROM tenants WHERE tenant_id = ANY($1::text[])", tenants)
    finally:
        await conn.close()


async def _empty_tenants(conn: asyncpg.Connection, tenants: list[str]) -> None:
    """Deletes every row of the tenants but the tenants themselves."""
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
