"""The Account node (SPEC 17): a company's buying committee, read from the rows the worker
keeps, with its members, open opportunity, one timeline of its members' events and its
attribution under every model. Here because `Lead.account` returns it too."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from services.gateway.graphql.core.batch import BatchLoaders
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import AttributionKind, AttributionModel, Stage
from services.gateway.graphql.core.errors import QUERY_TOO_COSTLY, coded
from services.gateway.graphql.core.limits import MAX_CREDIT_WORK
from services.gateway.graphql.core.relay import page_size
from services.gateway.graphql.nodes.lead import (
    OPPORTUNITY_COLUMNS,
    FitGrade,
    Lead,
    Opportunity,
    camel_keys,
    load_lead,
)
from shared.data_driven import load_model
from shared.domain.accounts import AccountOpportunity, account_attribution
from shared.domain.events import MARKETING_TOUCHES, Event

ACCOUNT_COLUMNS = (
    "account_id, domain, members, fit_score, fit_grade, fit_evidence, engagement_score,"
    " stage, open_opportunity_id, traits"
)
_EVENT_FIELDS = (
    "event_id, type, occurred_at, seq, lead_id, anonymous_id, account_id, channel,"
    " campaign_id, content_id, message_id, properties, stitched, config_version"
)
MEMBER_COLUMNS = "account_id, lead_id"


@dataclass
class AccountLoaders(BatchLoaders):
    """Accounts by id, members by account and the membership of each lead, each fetched in
    one query however many the response holds."""

    accounts: DataLoader[str, asyncpg.Record | None] = field(init=False)
    members: DataLoader[str, list[asyncpg.Record]] = field(init=False)
    of_lead: DataLoader[str, asyncpg.Record | None] = field(init=False)

    def __post_init__(self) -> None:
        self.accounts = self.row_by_key("accounts", ACCOUNT_COLUMNS, "account_id")
        self.members = self.rows_by_key("account_members", MEMBER_COLUMNS, "account_id", "lead_id")
        self.of_lead = self.row_by_key("account_members", MEMBER_COLUMNS, "lead_id")


async def load_account(info: Info, account_id: str) -> Account | None:
    row = await info.context.loaders.of(AccountLoaders).accounts.load(account_id)
    return None if row is None else Account.from_row(row)


async def account_of_lead(info: Info, lead_id: str) -> Account | None:
    member = await info.context.loaders.of(AccountLoaders).of_lead.load(lead_id)
    return None if member is None else await load_account(info, member["account_id"])


async def member_ids(info: Info, account_id: str) -> list[str]:
    """The lead ids of the account's buying committee, in order."""
    rows = await info.context.loaders.of(AccountLoaders).members.load(account_id)
    return [row["lead_id"] for row in rows]


@strawberry.type(description="A member of an account's buying committee")
class AccountMember:
    lead: Lead
    job_title: str | None
    seniority: str | None
    department: str | None


@strawberry.type(description="One event of a member, in the account's timeline")
class AccountEvent:
    event_id: str
    lead_id: str
    type: str
    occurred_at: datetime
    channel: str | None
    campaign_id: str | None
    content_id: str | None
    message_id: str | None


@strawberry.type(description="An account's credit for one channel")
class AccountChannelCredit:
    channel: str = strawberry.field(description="`(none)` or `(unattributed)` as in attribution")
    credit: float
    amount: float


@strawberry.type(description="A company and its buying committee")
class Account:
    id: strawberry.ID
    domain: str | None = strawberry.field(
        description="the company_domain most members that name the account share"
    )
    member_count: int
    fit_score: int = strawberry.field(description="the ICP over the account's traits")
    fit_grade: FitGrade
    fit_evidence: JSON
    engagement_score: int = strawberry.field(
        description="the sum of the members' engagement, each capped"
    )
    stage: Stage = strawberry.field(description="the highest current stage of a member")
    traits: JSON = strawberry.field(
        description="firmographics: per trait, the value most members share"
    )
    open_opportunity_id: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Account:
        return cls(
            id=strawberry.ID(row["account_id"]),
            domain=row["domain"],
            member_count=row["members"],
            fit_score=row["fit_score"],
            fit_grade=FitGrade(row["fit_grade"]),
            fit_evidence=camel_keys(row["fit_evidence"]),
            engagement_score=row["engagement_score"],
            stage=Stage(row["stage"]),
            traits=row["traits"],
            open_opportunity_id=row["open_opportunity_id"],
        )

    @strawberry.field(
        description="the buying committee, by lead id (the first `first`, 100 by default)"
    )
    async def members(self, info: Info, first: int | None = None) -> list[AccountMember]:
        # Each member is a Lead the caller may expand: a page, counted by the cost limit.
        lead_ids = (await member_ids(info, str(self.id)))[: page_size(first)]
        out = []
        for lead_id in lead_ids:
            lead = await load_lead(info, lead_id)
            if lead is None:
                continue
            traits = lead.traits if isinstance(lead.traits, dict) else {}
            out.append(
                AccountMember(
                    lead=lead,
                    job_title=traits.get("job_title"),
                    seniority=traits.get("seniority"),
                    department=traits.get("department"),
                )
            )
        return out

    @strawberry.field(description="its latest open opportunity")
    async def open_opportunity(self, info: Info) -> Opportunity | None:
        if self.open_opportunity_id is None:
            return None
        row = await info.context.scope.fetchrow(
            f"SELECT {OPPORTUNITY_COLUMNS} FROM opportunities"
            " WHERE tenant_id = $1 AND opportunity_id = $2",
            self.open_opportunity_id,
        )
        return None if row is None else Opportunity.from_row(row)

    @strawberry.field(
        description="every member's events in one timeline, oldest first (at most `first`)"
    )
    async def timeline(self, info: Info, first: int | None = None) -> list[AccountEvent]:
        limit = page_size(first)
        lead_ids = await member_ids(info, str(self.id))
        rows = await info.context.scope.fetch(
            "SELECT event_id, lead_id, type, occurred_at, channel, campaign_id, content_id,"
            " message_id FROM events WHERE tenant_id = $1 AND lead_id = ANY($2::text[])"
            " AND type <> 'rescore' ORDER BY occurred_at, seq LIMIT $3",
            lead_ids,
            limit,
        )
        return [AccountEvent(**dict(r)) for r in rows]

    @strawberry.field(
        description="every member's touches credited for all the account's opportunities "
        "(the model's positions taken over the account's touches), by channel"
    )
    async def attribution(
        self, info: Info, model: AttributionModel, kind: AttributionKind
    ) -> list[AccountChannelCredit]:
        ctx = info.context
        lead_ids = await member_ids(info, str(self.id))
        async with ctx.tx() as conn:
            # Credited here, in the request, on the loop every tenant shares: the work
            # (touches times opportunities) is bounded, and refused beyond the bound.
            opportunities = await conn.fetch(
                "SELECT opportunity_id, amount, created_at, status, closed_at, won_amount"
                " FROM opportunities WHERE tenant_id = $1 AND lead_id = ANY($2::text[])"
                " LIMIT $3",
                ctx.tenant_id,
                lead_ids,
                MAX_CREDIT_WORK + 1,
            )
            most_touches = MAX_CREDIT_WORK // max(1, len(opportunities))
            touches = [
                Event(**dict(r))
                for r in await conn.fetch(
                    f"SELECT {_EVENT_FIELDS} FROM events WHERE tenant_id = $1"
                    " AND lead_id = ANY($2::text[]) AND type = ANY($3::text[]) LIMIT $4",
                    ctx.tenant_id,
                    lead_ids,
                    sorted(MARKETING_TOUCHES),
                    most_touches + 1,
                )
            ]
            if len(opportunities) * max(1, len(touches)) > MAX_CREDIT_WORK:
                raise coded(
                    f"the account has too many touches and opportunities to credit in one"
                    f" request ({len(opportunities)} opportunities, more than {most_touches}"
                    " touches); ask `attribution` by period, which reads the stored credit",
                    QUERY_TOO_COSTLY,
                    limit=MAX_CREDIT_WORK,
                )
            stored = None
            if model is AttributionModel.DATA_DRIVEN:
                stored = await load_model(conn, ctx.tenant_id, kind.value)
        effects = {} if stored is None else stored.model.effects()
        facts = [
            AccountOpportunity(
                opportunity_id=o["opportunity_id"],
                amount=float(o["amount"]),
                created_at=o["created_at"],
                won_at=o["closed_at"] if o["status"] == "WON" else None,
                won_amount=None if o["won_amount"] is None else float(o["won_amount"]),
            )
            for o in opportunities
        ]
        groups = account_attribution(touches, facts, model.value, kind.value, effects)
        return [
            AccountChannelCredit(channel=g.key, credit=g.credit, amount=g.amount) for g in groups
        ]
