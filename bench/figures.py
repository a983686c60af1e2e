"""The figures `make bench` reports: SPEC 12's table, one registered entry per figure.

A figure reads its measured value from the run's results (the dict each phase fills under
its own key) and is printed with its target and met/missed; a figure whose phase did not
run is printed as "not measured", never dropped. To add one, measure it in a phase that
stores `results[KEY]`, and register it here (or from the phase's module) with `figure(...)`.

Latency figures count what never arrived: a probe that was never seen is infinitely late
(`percentile(..., lost=n)`), so a run that loses more than 1 % of its probes has p99 = inf
and misses its target, however fast the others were.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Results = dict[str, Any]


def percentile(values: Sequence[float], q: float, *, lost: int = 0) -> float:
    """The nearest-rank `q` percentile of `values` plus `lost` infinitely late samples
    (nan when there is no sample at all)."""
    n = len(values) + lost
    if n == 0:
        return math.nan
    rank = min(n, max(1, math.ceil(q * n)))  # 1-based
    ordered = sorted(values)
    return ordered[rank - 1] if rank <= len(ordered) else math.inf


def latency_summary(values: Sequence[float], lost: int) -> dict[str, float | int]:
    """p50, p99 and max in seconds, lost samples counted as infinitely late."""
    return {
        "samples": len(values) + lost,
        "lost": lost,
        "p50_s": percentile(values, 0.5, lost=lost),
        "p99_s": percentile(values, 0.99, lost=lost),
        "max_s": math.inf if lost else (max(values) if values else math.nan),
    }


@dataclass(frozen=True)
class Figure:
    key: str  # the results entry the figure is read from
    title: str  # printed even when the figure was not measured
    op: str  # ">=" or "<="
    target: float
    unit: str  # events/s, records/s, s, ms, MiB, µs, x
    measured: Callable[[Any], float]  # given results[key]
    # The machine's ceiling for this figure (given all results), for the "vs ceiling" column.
    ceiling: Callable[[Results], float | None] = lambda _: None
    note: Callable[[Any], str] = lambda _: ""
    detail: Callable[[Any], str] = lambda _: ""  # appended to the title, in parentheses
    # A condition the figure is held to besides its own value: a non-empty answer says why
    # the figure is missed whatever its value (a latency taken while the load it is about
    # did not happen is no pass).
    guard: Callable[[Any, Results], str] = lambda _d, _r: ""

    def label(self, data: Any) -> str:
        detail = self.detail(data) if data is not None else ""
        return f"{self.title} ({detail})" if detail else self.title


FIGURES: list[Figure] = []


def figure(
    key: str,
    title: str,
    op: str,
    target: float,
    unit: str,
    measured: Callable[[Any], float],
    *,
    ceiling: Callable[[Results], float | None] | None = None,
    note: Callable[[Any], str] | None = None,
    detail: Callable[[Any], str] | None = None,
    guard: Callable[[Any, Results], str] | None = None,
) -> Figure:
    if op not in (">=", "<="):
        raise ValueError(f"op must be >= or <=, not {op!r}")
    entry = Figure(
        key,
        title,
        op,
        target,
        unit,
        measured,
        ceiling or (lambda _: None),
        note or (lambda _: ""),
        detail or (lambda _: ""),
        guard or (lambda _d, _r: ""),
    )
    FIGURES.append(entry)
    return entry


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "no sample"
    if math.isinf(value):
        return f"inf {unit}"
    if unit in ("events/s", "records/s", "messages/s", "queries/s"):
        return f"{value:,.0f} {unit}"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def is_met(op: str, measured: float, target: float) -> bool:
    """Whether `measured` meets the target; no sample (nan) meets nothing."""
    if math.isnan(measured):
        return False
    return measured >= target if op == ">=" else measured <= target


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator for a figure that compares two setups: nan when the
    denominator was not measured (zero), never a division error that hides the row."""
    if denominator == 0 or math.isnan(denominator) or math.isnan(numerator):
        return math.nan
    return numerator / denominator


def rows(results: Results) -> list[dict[str, Any]]:
    """One row per registered figure, in registration order."""
    out = []
    for f in FIGURES:
        target_text = f"{'≥' if f.op == '>=' else '≤'} {fmt(f.target, f.unit)}"
        data = results.get(f.key)
        if data is None:
            out.append(
                {
                    "figure": f.title,
                    "target": f.target,
                    "target_text": target_text,
                    "measured": None,
                    "measured_text": "not measured",
                    "unit": f.unit,
                    "ratio": None,
                    "met": False,
                    "vs_ceiling": None,
                    "note": "",
                }
            )
            continue
        measured = f.measured(data)
        ceiling = f.ceiling(results)
        why_not = f.guard(data, results)
        notes = [n for n in (f.note(data), why_not) if n]
        out.append(
            {
                "figure": f.label(data),
                "target": f.target,
                "target_text": target_text,
                "measured": measured,
                "measured_text": fmt(measured, f.unit),
                "unit": f.unit,
                # Ratio to target: >= 1 meets a ">=" target, <= 1 meets a "<=" one.
                "ratio": measured / f.target,
                "met": is_met(f.op, measured, f.target) and not why_not,
                "vs_ceiling": measured / ceiling if ceiling else None,
                "note": "; ".join(notes),
            }
        )
    return out


def _ceiling(name: str) -> Callable[[Results], float | None]:
    def read(results: Results) -> float | None:
        entry = results.get(name)
        return float(entry["events_per_s"]) if entry else None

    return read


def cores_text(cores: dict[str, float], *names: str) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in cores.items() if k.startswith(names))


def _lost(data: dict[str, Any], what: str = "never seen") -> str:
    return f"{data['lost']} of {data['samples']} probes {what}" if data["lost"] else ""


# -- SPEC 12, in its order ----------------------------------------------------------------

figure(
    "processing_array",
    "processing, HTTP batches of 500",
    ">=",
    20_000,
    "events/s",
    lambda d: d["events_per_s"],
    ceiling=_ceiling("bare_aiokafka_array"),
    note=lambda d: "" if d["complete"] else "timed out",
    detail=lambda d: f"{d['events']:,} events",
)
figure(
    "processing_array",
    "CPU per applied event in that phase, worker",
    "<=",
    50,
    "µs",
    lambda d: d["cpu_us_per_event"]["worker"],
    detail=lambda d: f"{d['cpu_seconds']['worker']:.1f} CPU s for {d['applied']:,} events",
)
figure(
    "processing_array",
    "CPU per applied event in that phase, PostgreSQL",
    "<=",
    40,
    "µs",
    lambda d: d["cpu_us_per_event"]["postgres"],
    detail=lambda d: (
        f"{d['cpu_seconds']['postgres']:.1f} CPU s in {d['postgres_backends']} backends"
    ),
)
figure(
    "processing_single",
    "processing, one event per record",
    ">=",
    5_000,
    "events/s",
    lambda d: d["events_per_s"],
    ceiling=_ceiling("bare_aiokafka_single"),
    note=lambda d: "" if d["complete"] else "timed out",
    detail=lambda d: f"{d['events']:,} events",
)
figure(
    "processing_vs_faust",
    "processing one-per-record / bare Faust iteration",
    ">=",
    0.6,
    "x",
    lambda d: d["ratio"],
)
figure(
    "history",
    "history: ack -> visible p50, 20,000-touch lead / 10-touch lead",
    "<=",
    1.5,
    "x",
    lambda d: d["ratio"],
    detail=lambda d: (
        f"{d['long_touches']:,} touches {d['long']['p50_s'] * 1000:.0f} ms,"
        f" {d['short_touches']} touches {d['short']['p50_s'] * 1000:.0f} ms"
    ),
    note=lambda d: "; ".join(
        f"{side}: {d[side]['lost']} probes never seen"
        for side in ("long", "short")
        if d[side]["lost"]
    ),
)
figure(
    "many_tenants",
    "many tenants: 500 tenants of 10 leads / one tenant of 5,000",
    ">=",
    0.8,
    "x",
    lambda d: d["ratio"],
    detail=lambda d: (
        f"{d['tenants']} tenants {d['many']['events_per_s']:,.0f} events/s,"
        f" one tenant {d['one']['events_per_s']:,.0f} events/s, {d['events']:,} events each"
        # Runs before the CPU was measured per pass have no cost ratio.
        + (f"; CPU per event {d['cpu_ratio']:.2f}x one tenant's" if "cpu_ratio" in d else "")
    ),
    note=lambda d: "" if d["many"]["complete"] and d["one"]["complete"] else "timed out",
)
figure(
    "two_workers",
    "one tenant, 2 workers vs 1, array records, same events",
    ">=",
    1.3,
    "x",
    lambda d: d["ratio"],
    detail=lambda d: (
        f"{d['events']:,} events, {d['two']['events_per_s']:,.0f}"
        f" vs {d['one']['events_per_s']:,.0f} events/s"
    ),
    note=lambda d: (
        ("" if d["one"]["complete"] and d["two"]["complete"] else "timed out; ")
        + f"CPU one: {cores_text(d['one']['cpu_cores'], 'worker', 'postgres')};"
        f" two: {cores_text(d['two']['cpu_cores'], 'worker', 'postgres')}"
    ),
)
figure(
    "http_ingestion",
    "HTTP ingestion, batches of 500",
    ">=",
    60_000,
    "events/s",
    lambda d: d["events_per_s"],
    ceiling=_ceiling("bare_aiokafka_array"),
    detail=lambda d: (
        f"{d['clients']} clients, {d['gateways']} gateway processes;"
        f" one process {d['one_gateway_events_per_s']:,.0f} events/s"
    ),
)
figure(
    "freshness",
    "freshness p99, ack -> visible",
    "<=",
    0.25,
    "s",
    lambda d: d["p99_s"],
    note=_lost,
    detail=lambda d: f"{d['events_per_s']:,.0f} events/s, p50 {d['p50_s'] * 1000:.0f} ms",
)
figure(
    "metrics",
    "GraphQL metrics p99, every query a different period",
    "<=",
    25,
    "ms",
    lambda d: d["p99_ms"],
    note=lambda d: "" if d["via"].startswith("GraphQL") else "SQL, no GraphQL",
    detail=lambda d: (
        f"{d['events']:,} events, {d['queries']} periods, p50 {d['p50_ms']:.1f} ms;"
        f" cached apart: p99 {d['cached_p99_ms']:.1f} ms"
        + (
            f"; during autovacuum: p99 {d['during_vacuum']['p99_ms']:.1f} ms"
            if d.get("during_vacuum", {}).get("vacuuming")
            else ""
        )
        + (" (autovacuum still running)" if d.get("vacuum_still_running") else "")
    ),
)
figure(
    "worker_memory",
    "worker RSS",
    "<=",
    1024,
    "MiB",
    lambda d: d["rss_bytes"] / 2**20,
    detail=lambda d: f"{d['leads']:,} leads",
)
figure(
    "recovery",
    "recovery: SIGKILL, restart, a new event applied",
    "<=",
    3,
    "s",
    lambda d: d["seconds"] if d["complete"] else math.inf,
)


def _import_starved(data: dict[str, Any], results: Results) -> str:
    bulk = data["bulk"]
    target = 0.5 * results.get("processing_array", {}).get("events_per_s", math.nan)
    if not bulk["events_per_s"] >= target:  # nan (no array rate) fails too
        return f"bulk import applied {bulk['events_per_s']:,.0f} events/s, under {target:,.0f}"
    return ""


figure(
    "noisy_neighbour",
    "noisy neighbour: live freshness p99 during a bulk import",
    "<=",
    1,
    "s",
    lambda d: d["p99_s"],
    note=_lost,
    detail=lambda d: f"{d['live_events_per_s']:,.0f}/s live, {d['bulk']['events']:,} bulk",
    guard=_import_starved,
)
figure(
    "noisy_neighbour",
    "noisy neighbour: bulk import applied rate / array-records rate",
    ">=",
    0.5,
    "x",
    lambda d: d["bulk"]["vs_array"],
    detail=lambda d: (
        f"{d['bulk']['applied']:,} of {d['bulk']['events']:,} applied,"
        f" {d['bulk']['events_per_s']:,.0f} events/s"
    ),
)
figure(
    "segment_batch",
    "Segment-compatible /v1/batch intake, batches of 100, sent to Kafka",
    ">=",
    20_000,
    "messages/s",
    lambda d: d["messages_per_s"],
    detail=lambda d: (
        f"{d['clients']} clients, gateway {d['gateway_cores']:.2f} cores,"
        f" {d['ignored']:,} ignored messages not counted"
    ),
    note=lambda d: f"{d['retried']} retried" if d["retried"] else "",
)
figure(
    "webhooks",
    "outbound webhooks: event -> delivered to a local receiver, p99",
    "<=",
    0.5,
    "s",
    lambda d: d["p99_s"],
    detail=lambda d: f"{d['events_per_s']:,.0f} deliveries/s, p50 {d['p50_s'] * 1000:.0f} ms",
    note=lambda d: _lost(d, "never delivered"),
)
figure(
    "overview",
    "dashboard overview",
    ">=",
    2_000,
    "queries/s",
    lambda d: d["queries_per_s"],
    note=lambda d: f"{d['non_2xx']} non-2xx" if d["non_2xx"] else "",
    detail=lambda d: (
        f"{d['clients']} clients, wrk {d['load_generator_cores']:.2f} cores,"
        f" gateway {d['gateway_cores']:.2f}"
    ),
)
figure(
    "overview",
    "dashboard overview p99",
    "<=",
    150,
    "ms",
    lambda d: d["p99_ms"],
    detail=lambda d: f"p50 {d['p50_ms']:.1f} ms",
)
# The training phase (bench/run.py `training`, bench/training.py): the models job's
# feature extraction and fit on simulated leads, time and the process's peak memory.
figure(
    "predictive_training",
    "predictive model training, 100,000 leads",
    "<=",
    30,
    "s",
    lambda d: d["seconds"],
    detail=lambda d: f"{d['leads']:,} leads",
)
figure(
    "predictive_training",
    "predictive model training, peak memory",
    "<=",
    1024,
    "MiB",
    lambda d: d["peak_rss_bytes"] / 2**20,
)
# SPEC 16's quality bar, measured by the browser test on the demo tenant and read by the
# run from the file that test writes (see bench/run.py, FIRST_PAINT).
figure(
    "first_paint",
    "dashboard first meaningful paint, demo tenant (browser test)",
    "<=",
    1000,
    "ms",
    lambda d: d["numbers_ms"],
    detail=lambda d: f"written {d['written']}",
)
figure(
    "processing_vs_sink",
    "processing array records / bare sink (aim)",
    ">=",
    0.3,
    "x",
    lambda d: d["ratio"],
    detail=lambda d: f"sink {d['sink_events_per_s']:,.0f} events/s",
)
