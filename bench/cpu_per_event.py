"""CPU time per 1,000 events of the worker and of its PostgreSQL backends.

    python -m bench.cpu_per_event [--events N] [--single] [--profile SECONDS]

Wall-clock rates mean little on a shared machine; CPU time spent per event does not depend
on how many other processes compete for the cores. One warmed-up worker on its own topics
applies N generated events (array records as HTTP batches of 500 bring them, or one event
per record with --single); the run reports the CPU seconds (utime + stime from /proc) the
worker process and the PostgreSQL backends serving its connections used until every event
was in the read model. --profile records the worker's stacks meanwhile (py-spy, collapsed
format).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from pathlib import Path

import asyncpg

from bench import workload
from bench.procs import ROOT, _process_seconds
from bench.run import QUICK, SPAN_DAYS, Bench, _own_prefix
from shared.kafka import TOPICS, ensure_topics, make_producer
from shared.settings import load_settings
from simulation.generator import JourneyGenerator


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _tcp() -> list[tuple[int, int, str]]:
    """(local port, remote port, inode) of every TCP socket of this network namespace."""
    rows = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
            rows.append((local, remote, fields[9]))
    return rows


def _backends(worker_pid: int, pg_port: int) -> list[int]:
    """The PostgreSQL backends at the other end of the worker's connections: found from
    the sockets in /proc, since pg_stat_activity hides other roles' client ports."""
    tcp = _tcp()
    mine = _socket_inodes(worker_pid)
    ports = {local for local, remote, inode in tcp if inode in mine and remote == pg_port}
    theirs = {inode for local, remote, inode in tcp if local == pg_port and remote in ports}
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and (entry / "comm").read_text().strip() == "postgres"
                and _socket_inodes(int(entry.name)) & theirs
            ):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_per_event")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--single", action="store_true", help="one event per record")
    parser.add_argument("--profile", type=float, default=0, help="py-spy seconds (0: none)")
    args = parser.parse_args(argv)
    settings = load_settings()
    bench = Bench(QUICK, argparse.Namespace(keep_data=False), settings)
    phase = "cpu"
    bench.admin = await asyncpg.connect(settings.database_admin_url)
    specs = tuple(
        dataclasses.replace(s, name=bench.prefix(phase) + s.name.removeprefix(_own_prefix()))
        for s in TOPICS
    )
    await ensure_topics(settings.kafka_bootstrap, specs)
    bench.producer = make_producer(settings.kafka_bootstrap, request_timeout_ms=30_000)
    await bench.producer.start()
    try:
        bench.partitions = await bench.topic_partitions(bench.touchpoints(phase))
        tenant = await bench.tenant(phase)
        generator = JourneyGenerator(tenant, seed=1, span_days=SPAN_DAYS)
        events = workload.generated(generator, args.events)
        shape = workload.single_records if args.single else workload.array_records
        load = shape(events, bench.partitions)
        worker = await bench.start_worker(phase, tenant)
        pg_port = int(settings.database_url.rsplit(":", 1)[1].split("/", 1)[0])
        backends = _backends(worker.pid, pg_port)
        before = {pid: _process_seconds(pid) for pid in [worker.pid, *backends]}
        applied_before = await bench.applied(tenant)
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
            tenant, load.probes, started, 1_800, "events", worker
        )
        backends = sorted(set(backends) | set(_backends(worker.pid, pg_port)))
        worker_s = _process_seconds(worker.pid) - before[worker.pid]
        pg_s = sum(_process_seconds(p) - before.get(p, 0.0) for p in backends)
        applied = await bench.applied(tenant) - applied_before
        if spy is not None:
            await spy.wait()
        kind = "one event per record" if args.single else "array records"
        print(
            f"{kind}: {applied:,} events applied (complete: {done}) in {elapsed:.1f} s wall;"
            f" worker {worker_s:.2f} CPU s = {1_000 * worker_s / applied:.3f} s per 1,000"
            f" events; its {len(backends)} PostgreSQL backends {pg_s:.2f} CPU s ="
            f" {1_000 * pg_s / applied:.3f} s per 1,000 events",
            flush=True,
        )
    finally:
        bench.procs.stop_all()
        await bench.producer.stop()
        await bench.cleanup(keep_logs=False)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
