"""CPU time per 1,000 events of the worker and of its PostgreSQL backends.

    python -m bench.cpu_per_event [--events N] [--single] [--tenants N] [--profile SECONDS]

Wall-clock rates mean little on a shared machine; CPU time spent per event does not depend
on how many other processes compete for the cores. One warmed-up worker on its own topics
applies N generated events (array records as HTTP batches of 500 bring them, or one event
per record with --single; with --tenants, the journeys of N tenants of 10 leads each, as
the many-tenants phase posts them); the run reports the CPU seconds (utime + stime from
/proc) the worker process and the PostgreSQL backends serving its connections used until
every event was in the read model, and the worker's resident memory after it. --profile
records the worker's stacks meanwhile (py-spy, collapsed format) and prints the share of
samples in each processing step. Where the server keeps statement statistics (pg_stat_statements, in
the `stats` schema; the local stack loads it), the statements that took the most of the
database's time during the run are printed, with their calls and rows per 1,000 events.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import asyncpg

from bench import stacks, statements, workload
from bench.procs import ROOT, WorkCpu
from bench.run import LEADS_PER_SMALL_TENANT, SPAN_DAYS, Bench, pg_port, scaled
from shared.kafka import make_producer
from shared.settings import load_settings
from simulation.generator import JourneyGenerator


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_per_event")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--single", action="store_true", help="one event per record")
    parser.add_argument(
        "--tenants", type=int, default=1, help="spread over this many tenants of 10 leads"
    )
    parser.add_argument("--profile", type=float, default=0, help="py-spy seconds (0: none)")
    args = parser.parse_args(argv)
    settings = load_settings()
    bench = Bench(scaled(0.1), argparse.Namespace(keep_data=False), settings)
    phase = "cpu"
    bench.admin = await asyncpg.connect(settings.database_admin_url)
    await bench.ensure_phase_topics(phase)
    bench.producer = make_producer(settings.kafka_bootstrap, request_timeout_ms=30_000)
    await bench.producer.start()
    try:
        bench.partitions = await bench.topic_partitions(bench.touchpoints(phase))
        tenant = await bench.tenant(phase)
        generator = JourneyGenerator(tenant, seed=1, span_days=SPAN_DAYS)
        if args.tenants > 1:
            journeys = list(generator.journeys(args.tenants * LEADS_PER_SMALL_TENANT))
            tenants = [await bench.tenant(f"{phase}-{i:03d}") for i in range(args.tenants)]
            load = workload.batch_records(
                workload.journeys_of_tenants(journeys, tenants, LEADS_PER_SMALL_TENANT),
                bench.partitions,
            )
        else:
            tenants = [tenant]
            events = workload.generated(generator, args.events)
            shape = workload.single_records if args.single else workload.array_records
            load = shape(events, bench.partitions)
        worker = await bench.start_worker(phase, tenant)
        cpu = WorkCpu([worker], pg_port(settings.database_url))
        applied_before = await bench.applied(*tenants)
        statements_before = await statements.snapshot(bench.admin)
        spy = None
        if args.profile:
            out = ROOT / f"profile-{bench.stamp}.txt"
            spy = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--nonblocking",
                "--format",
                "raw",
                "-d",
                str(int(args.profile)),
                "-o",
                str(out),
                "--pid",
                str(worker.pid),
            )
        started = time.perf_counter()
        await bench.produce(bench.touchpoints(phase), load.records)
        elapsed, done = await bench.wait_applied(
            load.probes, started, 1_800, "events", [worker], cpu, count=applied_before + load.events
        )
        used = cpu.seconds()
        worker_s, pg_s = used["worker"], used["postgres"]
        applied = await bench.applied(*tenants) - applied_before
        if spy is not None:
            await spy.wait()
            print(stacks.report(out), flush=True)
        kind = "one event per record" if args.single else "array records"
        if args.tenants > 1:
            kind = f"{args.tenants} tenants' requests"
        print(
            f"{kind}: {applied:,} events applied (complete: {done}) in {elapsed:.1f} s wall;"
            f" worker {worker_s:.2f} CPU s = {1_000 * worker_s / applied:.3f} s per 1,000"
            f" events; its {used['postgres_backends']:.0f} PostgreSQL backends {pg_s:.2f} CPU s ="
            f" {1_000 * pg_s / applied:.3f} s per 1,000 events",
            flush=True,
        )
        rss, peak = worker.rss_bytes()
        print(f"worker RSS {rss / 2**20:,.0f} MiB (peak {peak / 2**20:,.0f})", flush=True)
        print(statements.report(statements_before, await statements.snapshot(bench.admin), applied))
    finally:
        bench.procs.stop_all()
        await bench.producer.stop()
        await bench.cleanup(keep_logs=False)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
