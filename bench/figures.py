"""The figures `make bench` reports: SPEC 12's table, one registered entry per figure.

A figure reads its measured value from the run's results (the dict each phase fills under
its own key) and is printed with its target and met/missed; a figure whose phase did not
run is printed as "not measured", never dropped. To add one, measure it in a phase that
stores `results[KEY]`, and register it here (or from the phase's module) with `figure(...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Results = dict[str, Any]


@dataclass(frozen=True)
class Figure:
    key: str  # the results entry the figure is read from
    title: str  # printed even when the figure was not measured
    op: str  # ">=" or "<="
    target: float
    unit: str  # events/s, records/s, s, ms, MiB, x
    measured: Callable[[Any], float]  # given results[key]
    # The machine's ceiling for this figure (given all results), for the "vs ceiling" column.
    ceiling: Callable[[Results], float | None] = lambda _: None
    note: Callable[[Any], str] = lambda _: ""
    detail: Callable[[Any], str] = lambda _: ""  # appended to the title, in parentheses

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
    )
    FIGURES.append(entry)
    return entry


def fmt(value: float, unit: str) -> str:
    if unit in ("events/s", "records/s"):
        return f"{value:,.0f} {unit}"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


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
                "met": measured >= f.target if f.op == ">=" else measured <= f.target,
                "vs_ceiling": measured / ceiling if ceiling else None,
                "note": f.note(data),
            }
        )
    return out


def _ceiling(name: str) -> Callable[[Results], float | None]:
    def read(results: Results) -> float | None:
        entry = results.get(name)
        return float(entry["events_per_s"]) if entry else None

    return read


def _cores(data: dict[str, Any], name: str) -> str:
    cores = data.get("cpu_cores", {})
    return ", ".join(f"{k} {v:.2f}" for k, v in cores.items() if k.startswith(name))


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
    "http_ingestion",
    "HTTP ingestion, batches of 500",
    ">=",
    40_000,
    "events/s",
    lambda d: d["events_per_s"],
    ceiling=_ceiling("bare_aiokafka_array"),
    detail=lambda d: f"{d['clients']} clients, {d.get('gateways', 1)} gateway processes",
)
figure(
    "freshness",
    "freshness p99, ack -> visible",
    "<=",
    0.5,
    "s",
    lambda d: d["p99_s"],
    note=lambda d: f"{d['never_visible']} never visible" if d["never_visible"] else "",
    detail=lambda d: f"{d['events_per_s']:,.0f} events/s, p50 {d['p50_s'] * 1000:.0f} ms",
)
figure(
    "metrics",
    "GraphQL metrics p99",
    "<=",
    25,
    "ms",
    lambda d: d["p99_ms"],
    note=lambda d: "" if d["via"].startswith("GraphQL") else "SQL, no GraphQL",
    detail=lambda d: f"{d['events']:,} events, p50 {d['p50_ms']:.1f} ms",
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
    10,
    "s",
    lambda d: d["seconds"],
)
figure(
    "noisy_neighbour",
    "noisy neighbour: live freshness p99 during a bulk import",
    "<=",
    2,
    "s",
    lambda d: d["p99_s"],
    note=lambda d: "" if d["bulk_complete"] else "bulk import not finished",
    detail=lambda d: f"{d['live_events_per_s']:,.0f}/s live, {d['bulk_events']:,} bulk",
)
figure(
    "two_workers",
    "one tenant, 2 workers vs 1, array records",
    ">=",
    1.3,
    "x",
    lambda d: d["ratio"],
    note=lambda d: f"CPU {_cores(d, 'worker')}",
)
figure(
    "overview",
    "dashboard overview",
    ">=",
    1_000,
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
    250,
    "ms",
    lambda d: d["p99_ms"],
    detail=lambda d: f"p50 {d['p50_ms']:.1f} ms",
)
