"""SPEC 12: the dashboard's overview query (metrics + pipeline) from 64 concurrent clients
against one gateway process: ≥ 2,000 queries/s with p99 ≤ 150 ms.

The load comes from wrk (C, Debian's `wrk`), so the generator is not what limits the
figure: its CPU is measured next to the gateway's and printed. Every client signs in with
its own viewer key, as every person watching the dashboard does. The query is the
dashboard's own overview query: this period's metrics, the previous period's, and the
pipeline.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from bench.procs import CpuMeter, Process

CLIENTS = 64
# One wrk thread and key per client (a thread's connections share its headers): each
# viewer's own GraphQL rate limit (SPEC 10) applies, as in production.
THREADS = CLIENTS
DURATION_S = 20
WARMUP_S = 3

METRIC_FIELDS = (
    "leadsCreated mqls sqls opportunitiesCreated pipelineAmount dealsWon revenue dealsLost "
    "winRate avgDealValue salesCycleDaysMedian leadToOpportunityRate mqlToSqlRate "
    "opportunityToCustomerRate pipelineVelocity spend newCustomers cac slaCompliance"
)
OVERVIEW_QUERY = (
    "query Overview($from: DateTime!, $to: DateTime!, $previousFrom: DateTime!, "
    "$previousTo: DateTime!) {"
    f" current: metrics(from: $from, to: $to) {{ {METRIC_FIELDS} }}"
    f" previous: metrics(from: $previousFrom, to: $previousTo) {{ {METRIC_FIELDS} }}"
    " pipeline { total stages { stage count } } }"
)

_LUA = """
local keys = {%(keys)s}
local started = 0
function setup(thread)
  started = started + 1
  thread:set("key", keys[(started - 1) %% #keys + 1])
end
function init(args)
  wrk.method = "POST"
  wrk.body = %(body)s
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = key
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%%d duration_us=%%d p50_us=%%d p99_us=%%d "
    .. "non2xx=%%d socket_errors=%%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""
_RESULT = re.compile(r"RESULT (.*)")


@dataclass(frozen=True)
class OverviewFigure:
    clients: int
    queries: int
    seconds: float
    queries_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    gateway_cores: float
    load_generator_cores: float


def overview_body(now: datetime | None = None) -> bytes:
    """The body the dashboard posts for "Last 90 days" (web/src/period.ts)."""
    now = now or datetime.now(UTC)
    to = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    start = to - timedelta(days=90)
    variables = {
        "from": start.isoformat(),
        "to": to.isoformat(),
        "previousFrom": (start - timedelta(days=90)).isoformat(),
        "previousTo": start.isoformat(),
    }
    return orjson.dumps({"query": OVERVIEW_QUERY, "variables": variables})


def _lua(keys: list[str], body: bytes) -> str:
    quoted = ", ".join(f'"{key}"' for key in keys)
    return _LUA % {"keys": quoted, "body": "[==[" + body.decode() + "]==]"}


async def _wrk(url: str, script: Path, seconds: int) -> tuple[dict[str, int], float]:
    """Runs wrk; returns its RESULT line and the CPU seconds it used (its rusage: the only
    child reaped while it runs)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is missing: `make bench` installs it (apt-get install wrk)")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = await asyncio.create_subprocess_exec(
        wrk,
        f"-t{THREADS}",
        f"-c{CLIENTS}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"{url}/graphql",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    match = _RESULT.search(output)
    if process.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    fields = dict(pair.split("=") for pair in match.group(1).split())
    return {k: int(v) for k, v in fields.items()}, cpu


async def measure(
    url: str,
    gateway: Process,
    make_key: Callable[[], Awaitable[str]],
    say: Callable[[str], None],
    seconds: int = DURATION_S,
) -> OverviewFigure:
    keys = [await make_key() for _ in range(THREADS)]
    with tempfile.TemporaryDirectory(prefix="tandem-overview-") as tmp:
        script = Path(tmp) / "overview.lua"
        script.write_text(_lua(keys, overview_body()))
        say(f"overview: {CLIENTS} clients ({THREADS} viewer keys) for {seconds} s, via wrk")
        await _wrk(url, script, WARMUP_S)
        meter = CpuMeter({"gateway": gateway})
        started = time.monotonic()
        result, wrk_cpu = await _wrk(url, script, seconds)
        elapsed = time.monotonic() - started
        cores = meter.cores()
    duration_s = result["duration_us"] / 1e6
    figure = OverviewFigure(
        clients=CLIENTS,
        queries=result["requests"],
        seconds=duration_s,
        queries_per_s=result["requests"] / duration_s,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        non_2xx=result["non2xx"],
        socket_errors=result["socket_errors"],
        gateway_cores=cores["gateway"],
        load_generator_cores=wrk_cpu / elapsed,
    )
    say(
        f"  {figure.queries_per_s:,.0f} queries/s, p50 {figure.p50_ms:.1f} ms, p99 "
        f"{figure.p99_ms:.1f} ms, {figure.non_2xx} non-2xx; CPU cores: gateway "
        f"{figure.gateway_cores:.2f}, wrk {figure.load_generator_cores:.2f} "
        f"(of {os.cpu_count()})"
    )
    return figure
