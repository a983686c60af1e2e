"""`leadChanges`: a lead's stage or score changed, live (graphql-transport-ws)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.errors import SERVICE_UNAVAILABLE, coded
from services.gateway.graphql.core.hub import HubUnavailable
from services.gateway.graphql.core.permissions import CanRead
from services.gateway.graphql.core.scalars import parse_datetime
from services.gateway.graphql.nodes.lead import Lead, load_lead

log = logging.getLogger("tandem.gateway.subscriptions")


@strawberry.type(description="A lead whose stage or score changed")
class LeadChange:
    lead_id: strawberry.ID
    previous_stage: Stage | None = strawberry.field(description="null for a new lead")
    stage: Stage
    fit_score: int
    engagement_score: int
    score: int
    matrix: str
    at: datetime

    @strawberry.field(description="the lead as it stands now; null if it cannot be read")
    async def lead(self, info: Info) -> Lead | None:
        return await load_lead(info, str(self.lead_id))

    @classmethod
    def from_message(cls, doc: dict[str, Any]) -> LeadChange:
        previous = doc.get("previous_stage")
        return cls(
            lead_id=strawberry.ID(doc["lead_id"]),
            previous_stage=Stage(previous) if previous else None,
            stage=Stage(doc["stage"]),
            fit_score=doc["fit_score"],
            engagement_score=doc["engagement_score"],
            score=doc["score"],
            matrix=doc["matrix"],
            at=parse_datetime(doc["at"]),
        )


@strawberry.type
class LeadSubscriptions:
    @strawberry.subscription(
        permission_classes=[CanRead],
        description="Stage and score changes of the tenant's leads from now on; `leadId` "
        "follows one lead",
    )
    async def lead_changes(
        self, info: Info, lead_id: strawberry.ID | None = None
    ) -> AsyncGenerator[LeadChange, None]:
        ctx = info.context
        try:
            async with ctx.hub.subscribe(ctx.tenant_id) as queue:
                while True:
                    doc = await queue.get()
                    if lead_id is not None and doc.get("lead_id") != lead_id:
                        continue
                    try:
                        change = LeadChange.from_message(doc)
                    except (KeyError, ValueError, TypeError):
                        log.warning("skipping a lead-state message of another shape: %r", doc)
                        continue
                    yield change
        except HubUnavailable as exc:
            message = f"live lead changes are unavailable right now: {exc}"
            raise coded(message, SERVICE_UNAVAILABLE) from exc
