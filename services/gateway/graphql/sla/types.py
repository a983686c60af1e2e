"""The SLA figures of a period and the breaches still open (SPEC 7)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.nodes.lead import Lead, load_lead
from shared.domain.sla import ResponseGroup, SlaKind

strawberry.enum(
    ResponseGroup,
    name="SlaResponseGroup",
    description=(
        "How an MQL was first answered. Every response that counts for the SLA is a sales action "
        "(marketing touches never answer an MQL), so the groups split the sales team's "
        "answers: SALES_ACTIVITY (sales_email, sales_call, meeting_held, content_shared), "
        "LEAD_DECISION (lead_accepted, lead_rejected, lead_disqualified), OPPORTUNITY "
        "(opportunity_created); NO_RESPONSE holds the MQLs nobody answered yet"
    ),
)
strawberry.enum(
    SlaKind,
    name="SlaBreachKind",
    description="RESPONSE: no first response in time; DISPOSITION: no accept/reject in time",
)


@strawberry.type(
    description=(
        "SLA figures of a set of MQLs against the tenant's current response limit; "
        "responded and pending are disjoint; breached counts the late answers and the overdue"
    )
)
class SlaFigures:
    mqls: int = strawberry.field(description="MQLs counted")
    responded: int = strawberry.field(description="MQLs answered, in time or late")
    within_sla: int = strawberry.field(description="answered within the limit")
    breached: int = strawberry.field(
        description="answered after the limit, or not answered and the deadline has passed"
    )
    pending: int = strawberry.field(description="not answered, and the deadline has not passed")
    compliance: float | None = strawberry.field(
        description="withinSla / (withinSla + breached); null when both are 0"
    )
    median_response_hours: float | None = strawberry.field(
        description="median hours from mql_at to the first response, over the answered MQLs"
    )
    p90_response_hours: float | None = strawberry.field(
        description="90th percentile (interpolated) of the same response hours"
    )


@strawberry.type(description="The SLA figures of the MQLs first answered in one way")
class SlaOwnerTeamRow(SlaFigures):
    group: ResponseGroup


@strawberry.type(description="The SLA figures of the MQLs of one first-touch channel")
class SlaSourceRow(SlaFigures):
    source: str = strawberry.field(description="the lead's first touch channel, or (none)")


@strawberry.type(description="SLA follow-up of the MQLs whose mql_at is in [from, to)")
class SlaReport(SlaFigures):
    by_owner_team: list[SlaOwnerTeamRow] = strawberry.field(
        description="by how the MQL was first answered (see SlaResponseGroup)"
    )
    by_source: list[SlaSourceRow] = strawberry.field(description="by first touch channel")


@strawberry.type(description="A deadline that passed without an answer, and still has none")
class SlaBreach:
    id: strawberry.ID = strawberry.field(
        description="tenant:lead:kind:mql_at, the key of its alert on alerts.v1"
    )
    kind: SlaKind
    lead_id: strawberry.ID
    mql_at: datetime
    deadline: datetime
    detected_at: datetime
    alerted_at: datetime | None = strawberry.field(
        description="when alerts.v1 acknowledged its alert; null until then"
    )

    @strawberry.field(description="the lead that breached")
    async def lead(self, info: Info) -> Lead | None:
        return await load_lead(info, str(self.lead_id))
