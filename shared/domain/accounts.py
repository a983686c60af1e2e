"""Accounts (SPEC 17): the company a buying committee of leads belongs to.

Membership: a lead belongs to its own `account_id` (set by its events, or by a Segment
`group` call); a lead without one belongs to the account whose domain is its
`company_domain` trait (case-insensitive; of several such accounts, the smallest id). An
account's domain is the most common `company_domain` among its members that name the account
themselves (ties: the smallest), so matching by domain never changes a domain and the
membership of every lead is a function of the current lead rows alone.

Per account, from its members' current state:
- traits: for each firmographic trait, the value most members share (ties: the smallest);
- fit: the tenant's ICP (fit rules, grade thresholds) over those traits;
- engagement: the sum of the members' engagement scores, each capped at
  MEMBER_ENGAGEMENT_CAP, so one very active lead does not make an account engaged;
- stage: the highest current stage of a member (success path order, side stages below
  `AWARE`), with the open opportunity (the latest created) shown beside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from shared.domain import markov
from shared.domain.attribution import (
    BUILTIN_MODELS,
    DATA_DRIVEN,
    Credit,
    CreditGroup,
    credit_conversion,
    group_credits,
    opportunity_conversions,
)
from shared.domain.config import TenantConfig
from shared.domain.events import Event
from shared.domain.journey import SUCCESS_PATH, Stage
from shared.domain.scoring import FitEvidence, fit, grade

MEMBER_ENGAGEMENT_CAP: Final = 50
_BUILTIN_MODELS: Final = {m.name: m for m in BUILTIN_MODELS}
ACCOUNT_TRAITS: Final = ("industry", "company_size", "annual_revenue", "country", "company_domain")

# Side stages rank below the success path: a committee with one new AWARE member is further
# along than one whose members were all lost, recycled or disqualified.
STAGE_RANK: Final[Mapping[str, int]] = {
    Stage.DISQUALIFIED.value: -3,
    Stage.CLOSED_LOST.value: -2,
    Stage.NURTURE.value: -1,
    **{stage.value: rank for rank, stage in enumerate(SUCCESS_PATH)},
}


@dataclass(frozen=True, slots=True)
class Member:
    lead_id: str
    account_id: str | None  # the lead's own account_id, None when it only has a domain
    stage: str
    engagement_score: int
    traits: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OpenOpportunity:
    opportunity_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    domain: str | None
    members: int
    fit_score: int
    fit_grade: str
    fit_evidence: tuple[FitEvidence, ...]
    engagement_score: int
    stage: str
    stage_rank: int
    open_opportunity_id: str | None
    traits: Mapping[str, Any]


def member_inputs(
    account_id: str | None,
    stage: str,
    engagement_score: int,
    traits: Mapping[str, Any],
    open_opportunities: Iterable[OpenOpportunity],
) -> tuple[Any, ...]:
    """Everything of one lead that its account (membership and row) is computed from, as a
    comparable value: a lead whose inputs did not change leaves its account as it is, so
    the writer can skip the account step for it. Kept next to compute_account, whose reads
    of a Member and its opportunities it must mirror."""
    return (
        account_id,
        stage,
        min(engagement_score, MEMBER_ENGAGEMENT_CAP),
        # As JSON text, as the account compares them (1 and 1.0 are different values); a
        # str, as the bytes orjson returns keep a 4 KiB buffer each for as long as they live
        # and a lead's inputs live in the cache.
        orjson.dumps([traits.get(key) for key in ACCOUNT_TRAITS]).decode(),
        tuple(sorted((o.opportunity_id, o.created_at) for o in open_opportunities)),
    )


def normalise_domain(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()


def _most_common(values: Iterable[Any]) -> Any:
    """The value most often seen (ties: the smallest by its JSON form), None for none."""
    counts = Counter(orjson.dumps(v) for v in values if v is not None)
    if not counts:
        return None
    best = min(counts, key=lambda v: (-counts[v], v))
    return orjson.loads(best)


def account_domain(members: Iterable[Member]) -> str | None:
    """The account's domain: the most common domain of the members that name the account."""
    domain = _most_common(
        normalise_domain(m.traits.get("company_domain")) for m in members if m.account_id
    )
    return domain if isinstance(domain, str) else None


def resolve_account(
    account_id: str | None, company_domain: object, accounts_by_domain: Mapping[str, str]
) -> str | None:
    """A lead's account: its own, else the one of its domain (`accounts_by_domain` maps a
    domain to the smallest account id that has it)."""
    if account_id:
        return account_id
    domain = normalise_domain(company_domain)
    return accounts_by_domain.get(domain) if domain is not None else None


def account_traits(members: Sequence[Member]) -> dict[str, Any]:
    traits = {}
    for key in ACCOUNT_TRAITS:
        value = _most_common(m.traits.get(key) for m in members)
        if value is not None:
            traits[key] = value
    return traits


def compute_account(
    account_id: str,
    members: Sequence[Member],
    open_opportunities: Iterable[OpenOpportunity],
    config: TenantConfig,
) -> Account | None:
    """The account's row from its members' current state; None without members."""
    if not members:
        return None
    traits = account_traits(members)
    fitted = fit(traits, config)
    stage = max((m.stage for m in members), key=lambda s: (STAGE_RANK.get(s, -4), s))
    latest = max(open_opportunities, key=lambda o: (o.created_at, o.opportunity_id), default=None)
    return Account(
        account_id=account_id,
        domain=account_domain(members),
        members=len(members),
        fit_score=fitted.score,
        fit_grade=grade(fitted.score, config.grade_thresholds),
        fit_evidence=fitted.evidence,
        engagement_score=sum(min(m.engagement_score, MEMBER_ENGAGEMENT_CAP) for m in members),
        stage=stage,
        stage_rank=STAGE_RANK.get(stage, -4),
        open_opportunity_id=None if latest is None else latest.opportunity_id,
        traits=traits,
    )


@dataclass(frozen=True, slots=True)
class AccountOpportunity:
    """One of the members' opportunities, as attribution converts it."""

    opportunity_id: str
    amount: float
    created_at: datetime
    won_at: datetime | None = None
    won_amount: float | None = None


def account_attribution(
    touches: Sequence[Event],
    opportunities: Iterable[AccountOpportunity],
    model: str,
    kind: str,
    effects: Mapping[str, float],
) -> list[CreditGroup]:
    """Every member's touches credited for all the account's opportunities of one kind
    (SPEC 5 positions over the account's touches, not a lead's), by channel. `model` is a
    built-in model's name or DATA_DRIVEN, which splits by the Markov removal `effects`."""
    rows: list[Credit] = []
    for o in opportunities:
        for conversion in opportunity_conversions(
            o.opportunity_id,
            amount=o.amount,
            created_at=o.created_at,
            won_at=o.won_at,
            won_amount=o.won_amount,
        ):
            if conversion.kind != kind:
                continue
            if model == DATA_DRIVEN:
                rows.extend(markov.credit_conversion(touches, conversion, effects))
            else:
                rows.extend(credit_conversion(touches, conversion, _BUILTIN_MODELS[model]))
    return group_credits(rows, "CHANNEL")
