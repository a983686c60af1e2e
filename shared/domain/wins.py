"""Wins to celebrate in the weekly review (SPEC 19), kept pure: what a week's wins hold, and
how a won deal's journey is read from its lead's touches. The review query, the weekly
webhook and the Monday.com board all answer them (shared/wins_store.py reads them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

MAX_DEALS = 25
MAX_PER_DEAL = 10
FASTEST = 3


@dataclass(frozen=True)
class WinContent:
    """Content a won deal's lead consumed."""

    content_id: str
    title: str


@dataclass(frozen=True)
class WonDeal:
    """A deal won in the week: the campaigns its lead touched (first first) and the
    catalogued content it consumed."""

    opportunity_id: str
    lead_id: str
    amount: float
    closed_at: datetime
    campaigns: list[str] = field(default_factory=list)
    content: list[WinContent] = field(default_factory=list)


@dataclass(frozen=True)
class TopCampaign:
    """The campaign whose first touches sourced the most pipeline in the week."""

    campaign_id: str
    pipeline: float
    opportunities: int


@dataclass(frozen=True)
class FastResponse:
    """An MQL of the week answered fast."""

    lead_id: str
    mql_at: datetime
    responded_at: datetime
    hours: float


@dataclass(frozen=True)
class Wins:
    deals_won: list[WonDeal]
    top_campaign: TopCampaign | None
    fastest_responses: list[FastResponse]


@dataclass(frozen=True)
class Touch:
    """A campaign or catalogued content a lead met, as first met; title None when the
    content is not in the catalogue."""

    lead_id: str
    campaign_id: str | None
    content_id: str | None
    title: str | None


@dataclass(frozen=True)
class Journey:
    campaigns: list[str]
    content: list[WinContent]


def journeys(leads: Iterable[str], touches: Iterable[Touch]) -> dict[str, Journey]:
    """Each lead's campaigns in the order first touched and the catalogued content it
    consumed, at most MAX_PER_DEAL of each; `touches` come in the order first met."""
    found = {lead: Journey([], []) for lead in leads}
    for touch in touches:
        journey = found[touch.lead_id]
        campaign = touch.campaign_id
        if campaign and campaign not in journey.campaigns and len(journey.campaigns) < MAX_PER_DEAL:
            journey.campaigns.append(campaign)
        seen = {c.content_id for c in journey.content}
        if (
            touch.title is not None
            and touch.content_id is not None
            and touch.content_id not in seen
            and len(journey.content) < MAX_PER_DEAL
        ):
            journey.content.append(WinContent(content_id=touch.content_id, title=touch.title))
    return found
