"""The bench's figure logic: every SPEC 12 figure gets a row, measured or not; lost probes
are infinitely late; a ratio compares what it names; a guarded figure cannot pass alone."""

from __future__ import annotations

import json
import math
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import history, workload
from bench.figures import FIGURES, fmt, is_met, latency_summary, percentile, ratio, rows
from bench.procs import Process, WorkCpu, _descendants, free_port
from bench.run import (
    PHASES,
    TOPIC_PREFIXES,
    derived,
    distinct_periods,
    first_paint,
    scaled,
    selected_phases,
)


def _row(table: list[dict[str, object]], title: str) -> dict[str, object]:
    return next(r for r in table if str(r["figure"]).startswith(title))


def test_every_figure_has_a_row_and_unmeasured_ones_say_so() -> None:
    table = rows({"recovery": {"seconds": 2.2, "complete": True}})
    assert len(table) == len(FIGURES)
    recovery = _row(table, "recovery")
    assert recovery["measured_text"] == "2.20 s" and recovery["met"]
    assert recovery["target_text"] == "≤ 3.00 s"
    others = [r for r in table if r is not recovery]
    assert all(r["measured_text"] == "not measured" and not r["met"] for r in others)


def test_targets_are_spec_12s() -> None:
    targets = {f.title: (f.op, f.target, f.unit) for f in FIGURES}
    expected = {
        "processing, HTTP batches of 500": (">=", 20_000, "events/s"),
        "CPU per applied event in that phase, worker": ("<=", 50, "µs"),
        "CPU per applied event in that phase, PostgreSQL": ("<=", 40, "µs"),
        "processing, one event per record": (">=", 5_000, "events/s"),
        "processing one-per-record / bare Faust iteration": (">=", 0.6, "x"),
        "history: ack -> visible p50, 20,000-touch lead / 10-touch lead": ("<=", 1.5, "x"),
        "many tenants: 500 tenants of 10 leads / one tenant of 5,000": (">=", 0.8, "x"),
        "one tenant, 2 workers vs 1, array records, same events": (">=", 1.3, "x"),
        "HTTP ingestion, batches of 500": (">=", 60_000, "events/s"),
        "freshness p99, ack -> visible": ("<=", 0.25, "s"),
        "GraphQL metrics p99, every query a different period": ("<=", 25, "ms"),
        "worker RSS": ("<=", 1024, "MiB"),
        "recovery: SIGKILL, restart, a new event applied": ("<=", 3, "s"),
        "noisy neighbour: live freshness p99 during a bulk import": ("<=", 1, "s"),
        "noisy neighbour: bulk import applied rate / array-records rate": (">=", 0.5, "x"),
        "Segment-compatible /v1/batch intake, batches of 100, sent to Kafka": (
            ">=",
            20_000,
            "messages/s",
        ),
        "outbound webhooks: event -> delivered to a local receiver, p99": ("<=", 0.5, "s"),
        "dashboard overview": (">=", 2_000, "queries/s"),
        "dashboard overview p99": ("<=", 150, "ms"),
        "predictive model training, 100,000 leads": ("<=", 30, "s"),
        "predictive model training, peak memory": ("<=", 1024, "MiB"),
        "dashboard first meaningful paint, demo tenant (browser test)": ("<=", 1000, "ms"),
        "processing array records / bare sink (aim)": (">=", 0.3, "x"),
    }
    assert targets == expected


def _array(rate: float, worker_us: float = 1.0, postgres_us: float = 1.0) -> dict[str, object]:
    """An array phase's results: 10 events at `rate`, with the CPU per event given."""
    return {
        "events": 10,
        "applied": 10,
        "events_per_s": rate,
        "complete": True,
        "cpu_seconds": {"worker": worker_us * 1e-5, "postgres": postgres_us * 1e-5},
        "postgres_backends": 2,
        "cpu_us_per_event": {"worker": worker_us, "postgres": postgres_us},
    }


def test_a_missed_target_is_missed() -> None:
    table = rows({"processing_array": _array(7_000.0, worker_us=100.0, postgres_us=20.0)})
    row = _row(table, "processing, HTTP")
    assert not row["met"] and round(float(str(row["ratio"])), 2) == 0.35
    assert row["figure"] == "processing, HTTP batches of 500 (10 events)"
    assert not _row(table, "CPU per applied event in that phase, worker")["met"]
    assert _row(table, "CPU per applied event in that phase, PostgreSQL")["met"]


def test_a_lost_probe_is_infinitely_late() -> None:
    fast = [0.01] * 98
    # 2 lost of 100: more than 1 %, so p99 is infinite however fast the others were.
    assert percentile(fast, 0.99, lost=2) == math.inf
    # 1 lost of 100 is 1 %: p99 is the slowest probe that was seen.
    assert percentile([*fast, 0.2], 0.99, lost=1) == 0.2
    assert percentile(fast, 0.5, lost=2) == 0.01
    assert percentile([], 0.99, lost=1) == math.inf
    assert math.isnan(percentile([], 0.5))


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([3.0], 0.99) == 3


def test_a_run_that_lost_probes_misses_its_latency_target() -> None:
    summary = latency_summary([0.05] * 50, lost=5)
    assert summary["p99_s"] == math.inf and summary["max_s"] == math.inf
    assert summary["samples"] == 55 and summary["lost"] == 5
    fresh = {"via": "GraphQL", "events": 1, "events_per_s": 1_000.0, **summary}
    row = _row(rows({"freshness": fresh}), "freshness")
    assert not row["met"]
    assert row["measured_text"] == "inf s"
    assert row["note"] == "5 of 55 probes never seen"


def test_nothing_measured_meets_nothing() -> None:
    assert not is_met(">=", math.nan, 1)
    assert not is_met("<=", math.nan, 1)
    assert not is_met("<=", math.inf, 1)
    assert is_met(">=", math.inf, 1)
    assert fmt(math.nan, "s") == "no sample"


def test_a_ratio_without_its_denominator_is_not_a_number() -> None:
    assert ratio(10, 4) == 2.5
    assert math.isnan(ratio(10, 0))
    assert math.isnan(ratio(math.nan, 4))


def _noisy(bulk_rate: float) -> dict[str, object]:
    return {
        "noisy_neighbour": {
            **latency_summary([0.1] * 100, lost=0),
            "events_per_s": 200.0,
            "live_events_per_s": 200.0,
            "bulk": {
                "events": 1_000,
                "applied": 500,
                "events_per_s": bulk_rate,
                "vs_array": bulk_rate / 10_000,
            },
        },
        "processing_array": _array(10_000.0),
    }


def test_a_starved_import_makes_the_noisy_neighbour_a_miss() -> None:
    table = rows(_noisy(bulk_rate=1_000))
    live = _row(table, "noisy neighbour: live")
    assert not live["met"]
    assert "bulk import applied 1,000 events/s, under 5,000" in str(live["note"])
    assert not _row(table, "noisy neighbour: bulk")["met"]
    table = rows(_noisy(bulk_rate=6_000))
    assert _row(table, "noisy neighbour: live")["met"]
    assert _row(table, "noisy neighbour: bulk")["met"]


def test_an_import_without_an_array_rate_is_no_pass() -> None:
    data = _noisy(bulk_rate=6_000)
    del data["processing_array"]
    assert not _row(rows(data), "noisy neighbour: live")["met"]


def test_recovery_that_never_happened_is_infinite() -> None:
    row = _row(rows({"recovery": {"seconds": 120.0, "complete": False}}), "recovery")
    assert row["measured_text"] == "inf s" and not row["met"]


def test_processing_is_compared_with_the_bare_sink() -> None:
    results: dict[str, object] = {
        "processing_array": {"events_per_s": 9_000.0},
        "bare_sink": {"events_per_s": 60_000.0},
    }
    derived(results)
    assert results["processing_vs_sink"] == {"ratio": 0.15, "sink_events_per_s": 60_000.0}
    only: dict[str, object] = {"processing_array": {"events_per_s": 9_000.0}}
    derived(only)
    assert "processing_vs_sink" not in only


def test_phases_run_with_what_they_need_in_run_order() -> None:
    assert selected_phases(None) == list(PHASES)
    assert selected_phases("history") == ["history"]
    assert selected_phases("metrics,history") == ["array", "metrics", "history"]
    assert selected_phases("noisy") == ["array", "noisy"]
    with pytest.raises(SystemExit):
        selected_phases("no-such-phase")


def test_a_small_scale_keeps_every_phase_meaningful() -> None:
    small = scaled(0.05)
    assert small.array_events == 50_000 and small.history_touches == 1_000
    assert small.small_tenants == 25 and small.freshness_rate == 1_000
    assert scaled(0.0001).small_tenants == 2


def test_every_metrics_query_has_its_own_period() -> None:
    periods = distinct_periods(datetime(2026, 12, 1, tzinfo=UTC), 205)
    assert len(set(periods)) == 205
    assert all(start < end for start, end in periods)
    # Each still spans (nearly) the whole generated history.
    assert all((end - start).days >= 90 for start, end in periods)


def test_many_tenants_carry_the_same_journeys_as_one() -> None:
    journeys = [
        [
            {"event_id": f"L{i}-{j}", "tenant_id": "one", "type": "page_view", "lead_id": f"L{i}"}
            for j in range(3)
        ]
        for i in range(6)
    ]
    batches = workload.journeys_of_tenants(journeys, ["a", "b", "c"], 2)
    assert [{e["tenant_id"] for e in b} for b in batches] == [{"a"}, {"b"}, {"c"}]
    flat = [e for b in batches for e in b]
    assert [{**e, "tenant_id": "one"} for e in flat] == [e for j in journeys for e in j]
    many = workload.batch_records(batches, 8)
    one = workload.array_records((e for j in journeys for e in j), 8)
    assert many.events == one.events == 18
    # The many-tenants workload is applied once every tenant's last event is there.
    assert {t for t, _ in many.probes} == {"a", "b", "c"}
    assert {t for t, _ in one.probes} == {"one"}


def test_the_history_lead_has_its_touches_and_an_opportunity() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    events = history.lead_history("t", "hist-long", 1_000, now)
    kinds = [e["type"] for e in events]
    assert kinds.count("page_view") == 1_000
    assert kinds.count("opportunity_created") == 1 and kinds[0] == "lead_updated"
    assert len({e["event_id"] for e in events}) == len(events)
    times = [e["occurred_at"] for e in events]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert max(times) < now.isoformat()


def test_first_paint_is_read_from_the_browser_tests_file(tmp_path: Path) -> None:
    path = tmp_path / "first_paint.json"
    assert first_paint(path) is None
    path.write_text(json.dumps({"numbers_ms": 640.4, "fcp_ms": 300, "written": "2026-12-07"}))
    paint = first_paint(path)
    assert paint == {"numbers_ms": 640.4, "written": "2026-12-07"}
    row = _row(rows({"first_paint": paint}), "dashboard first meaningful paint")
    assert row["met"] and row["measured_text"] == "640 ms"
    path.write_text("{}")
    assert first_paint(path) is None


def test_work_cpu_counts_the_worker_and_the_processes_it_starts(tmp_path: Path) -> None:
    """A worker whose child does the work: the child's CPU is the worker's; no backend is
    counted when there is no PostgreSQL connection."""
    child = "x = 0\nfor i in range(2_000_000): x += i\nimport time; time.sleep(60)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    worker = Process("worker", [sys.executable, "-c", parent], {}, tmp_path)
    try:
        cpu = WorkCpu([worker], pg_port=free_port())
        used = cpu.seconds()
        while used["worker"] < 0.05 and worker.alive():
            used = cpu.seconds()
        assert used["worker"] >= 0.05
        assert used["postgres"] == 0 and used["postgres_backends"] == 0
    finally:
        for pid in _descendants([worker.pid]) - {worker.pid}:
            os.kill(pid, signal.SIGKILL)
        worker.kill()


def test_two_workers_print_the_cpu_each_pass_used() -> None:
    def run(rate: float, cores: dict[str, float], complete: bool = True) -> dict[str, object]:
        return {"events_per_s": rate, "complete": complete, "cpu_cores": cores}

    one = run(8_000.0, {"worker-two1-0": 0.9, "postgres": 0.5, "kafka": 0.1})
    two = run(
        12_000.0, {"worker-two2-0": 0.8, "worker-two2-1": 0.7, "postgres": 0.4}, complete=False
    )
    data = {"events": 100, "ratio": ratio(12_000.0, 8_000.0), "one": one, "two": two}
    row = _row(rows({"two_workers": data}), "one tenant, 2 workers")
    assert row["met"] and row["measured_text"] == "1.50x"
    assert row["note"] == (
        "timed out; CPU one: worker-two1-0 0.90, postgres 0.50;"
        " two: worker-two2-0 0.80, worker-two2-1 0.70, postgres 0.40"
    )


def test_every_phase_names_its_topics() -> None:
    assert TOPIC_PREFIXES.keys() == PHASES.keys()
    # every phase but training (no Kafka: the models job reads the database) has topics
    assert [phase for phase in PHASES if not TOPIC_PREFIXES[phase]] == ["training"]
