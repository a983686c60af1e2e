"""The Lead node, its stage transitions and opportunities (SPEC 3, 9.2), and the loaders
that read them: the type every domain that points at a lead returns (the leads queries, SLA
breaches, live lead changes), each lead fetched once per request."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from services.gateway.graphql.core.batch import BatchLoaders
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.limits import MAX_LEAD_OPPORTUNITIES
from services.gateway.graphql.core.rows import from_row

if TYPE_CHECKING:
    from services.gateway.graphql.nodes.account import Account
    from services.gateway.graphql.nodes.prediction import LeadPrediction

LEAD_COLUMNS = (
    "lead_id, stage, highest_stage, fit_score, fit_grade, disqualified, engagement_score,"
    " score, matrix, created_at, engaged_at, mql_at, sql_at, opportunity_at, customer_at,"
    " account_id, first_touch_channel, traits, fit_evidence, engagement_evidence, scored_at,"
    " person_name"
)
OPPORTUNITY_COLUMNS = (
    "lead_id, opportunity_id, amount, status, stage, created_at, closed_at, won_amount,"
    " lost_reason, competitor"
)


@dataclass
class LeadLoaders(BatchLoaders):
    """The leads, transitions and opportunities one request asks for, each fetched in one
    query however many leads the response holds."""

    leads: DataLoader[str, asyncpg.Record | None] = field(init=False)
    transitions: DataLoader[str, list[asyncpg.Record]] = field(init=False)
    opportunities: DataLoader[str, list[asyncpg.Record]] = field(init=False)

    def __post_init__(self) -> None:
        self.leads = self.row_by_key("leads", LEAD_COLUMNS, "lead_id")
        self.transitions = self.rows_by_key(
            "stage_transitions",
            "lead_id, from_stage, to_stage, at, event_id, reason",
            "lead_id",
            "lead_id, ordinal",
        )
        self.opportunities = self.rows_by_key(
            "opportunities", OPPORTUNITY_COLUMNS, "lead_id", "lead_id, created_at, opportunity_id"
        )


async def load_lead(info: Info, lead_id: str) -> Lead | None:
    """The lead with this id through the request's loader, or None."""
    row = await info.context.loaders.of(LeadLoaders).leads.load(lead_id)
    return None if row is None else Lead.from_row(row)


@strawberry.enum(description="Fit grade of the ICP score (thresholds configurable)")
class FitGrade(Enum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


@strawberry.enum
class OpportunityStatus(Enum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


@strawberry.type(description="One change of stage, with the event that caused it and why")
class StageTransition:
    from_stage: Stage | None = strawberry.field(description="null for the lead's creation")
    to_stage: Stage
    at: datetime
    event_id: str
    reason: str

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> StageTransition:
        from_stage = row["from_stage"]
        return cls(
            from_stage=Stage(from_stage) if from_stage else None,
            to_stage=Stage(row["to_stage"]),
            at=row["at"],
            event_id=row["event_id"],
            reason=row["reason"],
        )


@strawberry.type
class Opportunity:
    id: strawberry.ID
    amount: float
    status: OpportunityStatus
    created_at: datetime
    closed_at: datetime | None
    stage: str | None = strawberry.field(description="the CRM stage last reported for it")
    won_amount: float | None
    lost_reason: str | None
    competitor: str | None
    lead_id: strawberry.Private[str]

    @strawberry.field(description="the lead the opportunity belongs to")
    async def lead(self, info: Info) -> Lead:
        lead = await load_lead(info, self.lead_id)
        assert lead is not None, "an opportunity's lead is projected with it"
        return lead

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Opportunity:
        won = row["won_amount"]
        return cls(
            lead_id=row["lead_id"],
            id=strawberry.ID(row["opportunity_id"]),
            amount=float(row["amount"]),
            status=OpportunityStatus(row["status"]),
            created_at=row["created_at"],
            closed_at=row["closed_at"],
            stage=row["stage"],
            won_amount=None if won is None else float(won),
            lost_reason=row["lost_reason"],
            competitor=row["competitor"],
        )


def _trait(traits: Any, *names: str) -> str | None:
    """The first of the traits `names` the lead has, as text (None when none is set)."""
    for name in names:
        value = traits.get(name) if isinstance(traits, dict) else None
        if value not in (None, ""):
            return str(value)
    return None


def _email_domain(traits: Any) -> str | None:
    email = _trait(traits, "email")
    return email.rpartition("@")[2] or None if email and "@" in email else None


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def camel_keys(items: Any) -> Any:
    """Evidence is stored with the domain's snake_case keys; the API speaks camelCase."""
    if isinstance(items, list):
        return [camel_keys(item) for item in items]
    if isinstance(items, dict):
        return {_camel(str(k)): v for k, v in items.items()}
    return items


@strawberry.type(description="A lead: its journey stage, scores and milestones")
class Lead:
    id: strawberry.ID
    stage: Stage
    highest_stage: Stage = strawberry.field(
        description="the furthest success-path stage ever reached"
    )
    fit_score: int
    fit_grade: FitGrade
    disqualified: bool
    engagement_score: int = strawberry.field(description="as of scoredAt (engagement decays)")
    score: int = strawberry.field(description="fitScore + engagementScore")
    matrix: str = strawberry.field(description="fit grade and engagement tier (1 to 3), e.g. B1")
    created_at: datetime
    engaged_at: datetime | None
    mql_at: datetime | None
    sql_at: datetime | None
    opportunity_at: datetime | None
    customer_at: datetime | None
    account_id: str | None
    first_touch_channel: str | None
    scored_at: datetime = strawberry.field(description="when engagement was last evaluated")
    traits: JSON
    fit_evidence: JSON = strawberry.field(
        description="the ICP rules that hold: [{ruleIndex, rule, points}]"
    )
    engagement_evidence: JSON = strawberry.field(
        description="points per engagement rule in the window: "
        "[{ruleIndex, rule, touches, points, capped}]"
    )
    person_name: strawberry.Private[str | None]

    @strawberry.field(
        description="the person's name: the `name` trait, else first and last name, else"
        " read from the email address; null when none of these is known"
    )
    def name(self) -> str | None:
        return self.person_name

    def known_as(self) -> str | None:
        """What people call the lead: its name, else its email (None when neither)."""
        return self.person_name or _trait(self.traits, "email")

    @strawberry.field(description="the `email` trait")
    def email(self) -> str | None:
        return _trait(self.traits, "email")

    @strawberry.field(description="the job title (`job_title` or `title` trait)")
    def title(self) -> str | None:
        return _trait(self.traits, "job_title", "jobtitle", "title")

    @strawberry.field(
        description="the company's name (`company` trait), else its domain"
        " (`company_domain` trait, else the email's domain)"
    )
    def company(self) -> str | None:
        return _trait(self.traits, "company", "company_name", "company_domain") or _email_domain(
            self.traits
        )

    @strawberry.field(description="the lead's owner in the CRM (`owner` trait), where known")
    def owner(self) -> str | None:
        return _trait(self.traits, "owner", "owner_name", "hubspot_owner_name")

    @strawberry.field(description="every change of stage, oldest first")
    async def transitions(self, info: Info) -> list[StageTransition]:
        rows = await info.context.loaders.of(LeadLoaders).transitions.load(str(self.id))
        return [StageTransition.from_row(row) for row in rows]

    @strawberry.field(
        description=f"the lead's opportunities, oldest first (at most {MAX_LEAD_OPPORTUNITIES})"
    )
    async def opportunities(self, info: Info) -> list[Opportunity]:
        rows = await info.context.loaders.of(LeadLoaders).opportunities.load(str(self.id))
        return [Opportunity.from_row(row) for row in rows[:MAX_LEAD_OPPORTUNITIES]]

    @strawberry.field(description="the account (buying committee) the lead belongs to")
    async def account(
        self, info: Info
    ) -> Annotated[Account, strawberry.lazy("services.gateway.graphql.nodes.account")] | None:
        # Imported here: the Account node returns Leads, so the modules refer to each other.
        from services.gateway.graphql.nodes.account import account_of_lead

        return await account_of_lead(info, str(self.id))

    @strawberry.field(
        description="the predicted probability of becoming a customer and why; null until "
        "the tenant has a model"
    )
    async def prediction(
        self, info: Info
    ) -> (
        Annotated[LeadPrediction, strawberry.lazy("services.gateway.graphql.nodes.prediction")]
        | None
    ):
        from services.gateway.graphql.nodes.prediction import prediction_of_lead

        return await prediction_of_lead(info, str(self.id))

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Lead:
        evidence = {k: camel_keys(row[k]) for k in ("fit_evidence", "engagement_evidence")}
        return from_row(cls, {**row, **evidence}, id_column="lead_id")


def lead_field(description: str = "the lead, as a person (name, title, company)") -> Any:
    """The `lead` field of a type that keeps a `lead_id`: the lead through the request's
    loader, so a list of rows costs one query for all their leads."""

    async def resolve(self: Any, info: Info) -> Lead | None:
        return await load_lead(info, str(self.lead_id))

    return strawberry.field(resolver=resolve, description=description)
