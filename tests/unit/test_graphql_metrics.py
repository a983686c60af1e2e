"""The ratios of SPEC 6 from the aggregates PostgreSQL returns (the SQL itself is checked
end to end against the worked example in tests/integration/test_graphql_api.py)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from services.gateway.graphql.attribution.resolvers import compare
from services.gateway.graphql.metrics.types import Metrics, SourceQuality
from shared.domain.metrics import (
    PeriodAggregates,
    metrics_from,
    pipeline_velocity,
    source_quality_from,
    split_hours,
)
from shared.metrics_store import METRICS_SQL
from tests.worked_example import expected_metrics

# The worked example's period as the read model aggregates it.
EXAMPLE = PeriodAggregates(
    leads_created=40,
    leads_created_with_opportunity=10,
    mqls=10,
    mqls_with_sql=6,
    sla_within=2,
    sla_breached=8,
    sqls=11,
    new_customers=3,
    opportunities_created=10,
    pipeline_amount=231_000.0,
    opportunities_created_won=3,
    deals_won=3,
    deals_lost=4,
    revenue=102_400.0,
    revenue_from_target_accounts=0.0,
    cycle_days_mean=5.274537,
    cycle_days_median=5.477778,
    spend=171_000.0,
)
SOURCE = source_quality_from("webinar", 8, 4, 2, 1, 20_000.0, 42.5)
EMPTY = PeriodAggregates(**{f.name: 0 for f in dataclasses.fields(PeriodAggregates)})


def test_the_example_aggregates_give_the_example_metrics() -> None:
    metrics = dataclasses.asdict(metrics_from(EXAMPLE))
    for name, want in expected_metrics().items():
        snake = "".join("_" + c.lower() if c.isupper() else c for c in name)
        assert metrics[snake] == pytest.approx(want, rel=1e-4), name


def test_every_rate_of_an_empty_period_is_null_and_every_count_zero() -> None:
    metrics = metrics_from(dataclasses.replace(EMPTY, cycle_days_mean=None, cycle_days_median=None))
    rates = (
        "win_rate", "avg_deal_value", "sales_cycle_days_mean", "sales_cycle_days_median",
        "lead_to_opportunity_rate", "mql_to_sql_rate", "opportunity_to_customer_rate",
        "pipeline_velocity", "cac", "sla_compliance",
    )  # fmt: skip
    values = dataclasses.asdict(metrics)
    assert {name: values[name] for name in rates} == dict.fromkeys(rates)
    assert {v for k, v in values.items() if k not in rates} == {0}


def test_win_rate_counts_lost_deals_and_cac_needs_customers() -> None:
    metrics = metrics_from(dataclasses.replace(EMPTY, deals_lost=2, spend=500.0))
    assert metrics.win_rate == 0
    assert metrics.avg_deal_value is None
    assert metrics.cac is None


def test_pipeline_velocity_is_null_when_a_factor_is_unknown_or_the_cycle_is_zero() -> None:
    assert pipeline_velocity(10, 0.5, 1_000.0, 5.0) == pytest.approx(1_000.0)
    assert pipeline_velocity(10, None, 1_000.0, 5.0) is None
    assert pipeline_velocity(10, 0.5, None, 5.0) is None
    assert pipeline_velocity(10, 0.5, 1_000.0, None) is None
    assert pipeline_velocity(10, 0.5, 1_000.0, 0.0) is None
    assert pipeline_velocity(0, 0.5, 1_000.0, 5.0) == 0


def test_sla_compliance_ignores_pending_mqls() -> None:
    metrics = metrics_from(dataclasses.replace(EMPTY, mqls=5, sla_within=1, sla_breached=1))
    assert metrics.sla_compliance == 0.5


def test_source_quality_rates_are_shares_of_the_channels_leads() -> None:
    row = source_quality_from("webinar", 8, 4, 2, 1, 20_000.0, 42.5)
    assert (row.mql_rate, row.opportunity_rate) == (0.5, 0.25)
    assert source_quality_from("(none)", 0, 0, 0, 0, 0.0, None).mql_rate is None


def test_the_metrics_statement_returns_exactly_the_aggregates() -> None:
    # SELECT * of the CTEs must line up with PeriodAggregates' fields, name for name.
    for field in dataclasses.fields(PeriodAggregates):
        assert f" AS {field.name}" in METRICS_SQL, field.name


def test_the_graphql_types_answer_every_field_of_the_shared_metrics() -> None:
    # The GraphQL domain answers the shared values field for field, in the same order.
    for shared, answered in ((metrics_from(EXAMPLE), Metrics), (SOURCE, SourceQuality)):
        assert list(vars(shared)) == [f.name for f in dataclasses.fields(answered)]
        assert vars(answered(**vars(shared))) == vars(shared)


def test_attribution_comparison_lists_every_model_for_every_key() -> None:
    rows = [
        {"model": "LINEAR", "key": "email", "credit": 0.5, "amount": 500.0},
        {"model": "FIRST_TOUCH", "key": "webinar", "credit": 1.0, "amount": 1_000.0},
    ]
    compared = compare(rows)
    assert [row.key for row in compared] == ["email", "webinar"]
    for row in compared:
        # The seven rule-based models and DATA_DRIVEN.
        assert len(row.models) == 8
    email = {cell.model.value: (cell.credit, cell.amount) for cell in compared[0].models}
    assert email["LINEAR"] == (0.5, 500.0) and email["FIRST_TOUCH"] == (0.0, 0.0)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("start", "end", "hours", "head_end", "tail_start"),
    [
        # Whole hours only: no partial hour on either side.
        ("2026-09-01T00:00Z", "2026-11-20T05:00Z", ("2026-09-01T00:00Z", "2026-11-20T05:00Z"),
         "2026-09-01T00:00Z", "2026-11-20T05:00Z"),
        # Partial hours on both sides.
        ("2026-09-01T13:07Z", "2026-09-05T06:20Z", ("2026-09-01T14:00Z", "2026-09-05T06:00Z"),
         "2026-09-01T14:00Z", "2026-09-05T06:00Z"),
        # Within one hour, or across one hour's end without a whole hour: lead by lead.
        ("2026-09-01T01:05Z", "2026-09-01T01:55Z", ("2026-09-01T02:00Z", "2026-09-01T02:00Z"),
         "2026-09-01T01:55Z", "2026-09-01T01:55Z"),
        ("2026-09-01T12:30Z", "2026-09-01T13:30Z", ("2026-09-01T13:00Z", "2026-09-01T13:00Z"),
         "2026-09-01T13:30Z", "2026-09-01T13:30Z"),
        # Offsets are instants: 02:00+02:00 is midnight UTC, and 05:30+05:30 too.
        ("2026-09-01T02:00+02:00", "2026-09-03T05:30+05:30",
         ("2026-09-01T00:00Z", "2026-09-03T00:00Z"), "2026-09-01T00:00Z", "2026-09-03T00:00Z"),
        # A half-hour offset leaves half hours at both edges.
        ("2026-09-01T10:00+05:30", "2026-09-01T12:00+05:30",
         ("2026-09-01T05:00Z", "2026-09-01T06:00Z"), "2026-09-01T05:00Z", "2026-09-01T06:00Z"),
    ],
)  # fmt: skip
def test_a_period_splits_into_whole_utc_hours_and_partial_edges(
    start: str, end: str, hours: tuple[str, str], head_end: str, tail_start: str
) -> None:
    split = split_hours(_at(start), _at(end))
    assert (split.first_hour, split.end_hour) == (_at(hours[0]), _at(hours[1]))
    assert split.head_end == _at(head_end)
    assert split.tail_start == _at(tail_start)


def test_the_pieces_of_a_split_cover_the_period_exactly_once() -> None:
    start = _at("2026-09-01T00:00Z")
    for minutes in range(0, 60 * 9, 17):
        a = start + timedelta(minutes=minutes, seconds=13)
        for length in (1, 20, 59, 60, 61, 120, 24 * 60 * 30 + 7):
            b = a + timedelta(minutes=length)
            s = split_hours(a, b)
            covered = (
                (s.head_end - a) + max(s.end_hour - s.first_hour, timedelta(0)) + (b - s.tail_start)
            )
            assert covered == b - a, (a, b, s)
            assert a <= s.head_end <= s.tail_start <= b
            assert s.first_hour.minute == s.first_hour.second == 0
