"""From the aggregates PostgreSQL computes to the metrics of SPEC 6: the ratios, kept pure
so their rules (a zero denominator gives null) are tested without a database. The GraphQL
metrics domain and the Monday.com board both read them from here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Metrics:
    """The metrics over [from, to) in UTC; a rate whose denominator is 0 is None."""

    leads_created: int
    mqls: int
    sqls: int
    opportunities_created: int
    pipeline_amount: float
    deals_won: int
    revenue: float
    deals_lost: int
    win_rate: float | None
    avg_deal_value: float | None
    sales_cycle_days_mean: float | None
    sales_cycle_days_median: float | None
    lead_to_opportunity_rate: float | None
    mql_to_sql_rate: float | None
    opportunity_to_customer_rate: float | None
    pipeline_velocity: float | None
    spend: float
    new_customers: int
    cac: float | None
    revenue_from_target_accounts: float
    sla_compliance: float | None


@dataclass(frozen=True)
class SourceQuality:
    """The leads created in a period from one first-touch channel, and what they became."""

    channel: str
    leads: int
    mqls: int
    opportunities: int
    customers: int
    revenue: float
    mql_rate: float | None
    opportunity_rate: float | None
    avg_fit_score: float | None


def ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


@dataclass(frozen=True)
class PeriodAggregates:
    leads_created: int
    leads_created_with_opportunity: int
    mqls: int
    mqls_with_sql: int
    sla_within: int
    sla_breached: int
    sqls: int
    new_customers: int
    opportunities_created: int
    pipeline_amount: float
    opportunities_created_won: int
    deals_won: int
    deals_lost: int
    revenue: float
    revenue_from_target_accounts: float
    cycle_days_mean: float | None
    cycle_days_median: float | None
    spend: float


def metrics_from(a: PeriodAggregates) -> Metrics:
    win_rate = ratio(a.deals_won, a.deals_won + a.deals_lost)
    avg_deal_value = ratio(a.revenue, a.deals_won)
    return Metrics(
        leads_created=a.leads_created,
        mqls=a.mqls,
        sqls=a.sqls,
        opportunities_created=a.opportunities_created,
        pipeline_amount=a.pipeline_amount,
        deals_won=a.deals_won,
        revenue=a.revenue,
        deals_lost=a.deals_lost,
        win_rate=win_rate,
        avg_deal_value=avg_deal_value,
        sales_cycle_days_mean=a.cycle_days_mean,
        sales_cycle_days_median=a.cycle_days_median,
        lead_to_opportunity_rate=ratio(a.leads_created_with_opportunity, a.leads_created),
        mql_to_sql_rate=ratio(a.mqls_with_sql, a.mqls),
        opportunity_to_customer_rate=ratio(a.opportunities_created_won, a.opportunities_created),
        pipeline_velocity=pipeline_velocity(
            a.opportunities_created, win_rate, avg_deal_value, a.cycle_days_median
        ),
        spend=a.spend,
        new_customers=a.new_customers,
        cac=ratio(a.spend, a.new_customers),
        revenue_from_target_accounts=a.revenue_from_target_accounts,
        sla_compliance=ratio(a.sla_within, a.sla_within + a.sla_breached),
    )


def pipeline_velocity(
    opportunities: int,
    win_rate: float | None,
    avg_deal_value: float | None,
    cycle_days_median: float | None,
) -> float | None:
    """Expected revenue per day; null when a factor is unknown or the median cycle is 0."""
    if win_rate is None or avg_deal_value is None or not cycle_days_median:
        return None
    return opportunities * win_rate * avg_deal_value / cycle_days_median


def source_quality_from(
    channel: str,
    leads: int,
    mqls: int,
    opportunities: int,
    customers: int,
    revenue: float,
    avg_fit_score: float | None,
) -> SourceQuality:
    return SourceQuality(
        channel=channel,
        leads=leads,
        mqls=mqls,
        opportunities=opportunities,
        customers=customers,
        revenue=revenue,
        mql_rate=ratio(mqls, leads),
        opportunity_rate=ratio(opportunities, leads),
        avg_fit_score=avg_fit_score,
    )


@dataclass(frozen=True)
class HourSplit:
    """A period cut into whole UTC hours [first_hour, end_hour), read from the hour counts,
    and the partial hours around them, [start, head_end) and [tail_start, end), read lead by
    lead."""

    first_hour: datetime
    end_hour: datetime
    head_end: datetime
    tail_start: datetime


def split_hours(start: datetime, end: datetime) -> HourSplit:
    first = _hour(start)
    if first < start:
        first += timedelta(hours=1)
    last = _hour(end)
    if first < last:
        return HourSplit(first, last, first, last)
    # No whole hour inside: the period is read lead by lead, and the hour range is empty.
    return HourSplit(first, first, end, end)


def _hour(instant: datetime) -> datetime:
    """The start of `instant`'s UTC hour."""
    utc = instant.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, utc.hour, tzinfo=UTC)
