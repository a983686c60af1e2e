"""The numbers both teams are measured by (SPEC 6)."""

from __future__ import annotations

import strawberry


@strawberry.type(
    description="The metrics over [from, to) in UTC; a rate whose denominator is 0 is null"
)
class Metrics:
    leads_created: int = strawberry.field(description="leads created in the period")
    mqls: int = strawberry.field(description="leads that became MQL in the period")
    sqls: int = strawberry.field(description="leads that became SQL in the period")
    opportunities_created: int
    pipeline_amount: float = strawberry.field(
        description="sum of the amounts of the opportunities created in the period"
    )
    deals_won: int
    revenue: float = strawberry.field(description="sum of the won amounts of the period")
    deals_lost: int
    win_rate: float | None = strawberry.field(description="dealsWon / (dealsWon + dealsLost)")
    avg_deal_value: float | None = strawberry.field(description="revenue / dealsWon")
    sales_cycle_days_mean: float | None = strawberry.field(
        description="days from creation to win of the deals won in the period"
    )
    sales_cycle_days_median: float | None
    lead_to_opportunity_rate: float | None = strawberry.field(
        description="of the leads created in the period, the share with an opportunity now"
    )
    mql_to_sql_rate: float | None = strawberry.field(
        description="of the leads that became MQL in the period, the share that are SQL now"
    )
    opportunity_to_customer_rate: float | None = strawberry.field(
        description="of the opportunities created in the period, the share won now"
    )
    pipeline_velocity: float | None = strawberry.field(
        description="opportunitiesCreated * winRate * avgDealValue / salesCycleDaysMedian, per day"
    )
    spend: float = strawberry.field(description="campaign spend in the period")
    new_customers: int = strawberry.field(description="leads that became customers")
    cac: float | None = strawberry.field(description="spend / newCustomers")
    revenue_from_target_accounts: float = strawberry.field(
        description="revenue of the period from leads graded A at the win"
    )
    sla_compliance: float | None = strawberry.field(
        description="of the MQLs of the period: withinSla / (withinSla + breached)"
    )


@strawberry.type(
    description="The leads created in the period that came from one channel (their first "
    "touch), and what they became so far"
)
class SourceQuality:
    channel: str = strawberry.field(description="`(none)` for leads without a channel")
    leads: int
    mqls: int = strawberry.field(description="of these leads, how many became MQL")
    opportunities: int = strawberry.field(
        description="of these leads, how many have an opportunity"
    )
    customers: int = strawberry.field(description="of these leads, how many became customers")
    revenue: float = strawberry.field(description="won amounts of these leads, all time")
    mql_rate: float | None = strawberry.field(description="mqls / leads")
    opportunity_rate: float | None = strawberry.field(description="opportunities / leads")
    avg_fit_score: float | None
