"""The bench's figure registry: every SPEC 12 figure gets a row, measured or not."""

from __future__ import annotations

from bench.figures import FIGURES, rows


def test_every_figure_has_a_row_and_unmeasured_ones_say_so() -> None:
    table = rows({"recovery": {"seconds": 4.2, "complete": True}})
    assert len(table) == len(FIGURES)
    recovery = next(r for r in table if r["figure"].startswith("recovery"))
    assert recovery["measured_text"] == "4.20 s" and recovery["met"]
    assert recovery["target_text"] == "≤ 10.00 s"
    others = [r for r in table if r is not recovery]
    assert all(r["measured_text"] == "not measured" and not r["met"] for r in others)


def test_targets_are_spec_12s() -> None:
    targets = {(f.key, f.unit): (f.op, f.target) for f in FIGURES}
    assert targets[("processing_array", "events/s")] == (">=", 20_000)
    assert targets[("http_ingestion", "events/s")] == (">=", 40_000)
    assert targets[("freshness", "s")] == ("<=", 0.5)
    assert targets[("metrics", "ms")] == ("<=", 25)
    assert targets[("noisy_neighbour", "s")] == ("<=", 2)
    assert targets[("two_workers", "x")] == (">=", 1.3)


def test_a_missed_target_is_missed() -> None:
    data = {"processing_array": {"events": 10, "events_per_s": 7_000.0, "complete": True}}
    row = next(r for r in rows(data) if r["figure"].startswith("processing, HTTP"))
    assert not row["met"] and round(row["ratio"], 2) == 0.35
    assert row["figure"] == "processing, HTTP batches of 500 (10 events)"
