"""The lead events, configurations and runs the journey tests share (SPEC 2.4, 3, 4, 7)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.conditions import Condition
from shared.domain.config import DEFAULT_CONFIG, EngagementRule, FitRule, MqlRule, TenantConfig
from shared.domain.events import RESCORE, Event
from shared.domain.journey import (
    LeadState,
    Stage,
)

T0 = datetime(2026, 10, 1, tzinfo=UTC)
_seq = itertools.count(1)


def at(day: float) -> datetime:
    return T0 + timedelta(days=day)


def ev(
    kind: str,
    day: float,
    *,
    seq: int | None = None,
    event_id: str | None = None,
    channel: str | None = None,
    account_id: str | None = None,
    stitched: bool = False,
    config_version: int = 0,
    **properties: Any,
) -> Event:
    number = next(_seq) if seq is None else seq
    return Event(
        event_id=event_id or f"e{number}",
        type=kind,
        occurred_at=at(day),
        seq=number,
        lead_id="L1",
        account_id=account_id,
        channel=channel,
        properties=properties,
        stitched=stitched,
        config_version=config_version,
    )


def traits(day: float, kind: str = "lead_updated", **values: Any) -> Event:
    return ev(kind, day, traits=values)


def run(events: Iterable[Event], config: TenantConfig = DEFAULT_CONFIG) -> LeadState:
    state = LeadState()
    for event in events:
        state.apply(event, config)
    return state


def stages(state: LeadState) -> list[tuple[Stage | None, Stage]]:
    return [(t.from_stage, t.to_stage) for t in state.transitions]


# Engagement 10 + 12 + 12 + 8 = 42 under the defaults: MQL on the fourth touch.
def engaging(start: float = 0) -> list[Event]:
    return [
        ev("form_submit", start),
        ev("webinar_attended", start + 1),
        ev("event_attended", start + 2),
        ev("content_download", start + 3),
    ]


ICP = TenantConfig(
    fit_rules=(
        FitRule("company_size", "gte", 500, 45),
        FitRule("department", "in", ("Marketing", "Sales"), 35),
        FitRule("country", "not_in", ("in",), 10),
    ),
    disqualifiers=(Condition("seniority", "eq", "ENTRY"),),
    mql=MqlRule(
        min_fit=25, min_engagement=30, fast_track_types=("demo_request",), fast_track_min_fit=50
    ),
)


DISQ = replace(DEFAULT_CONFIG, disqualifiers=ICP.disqualifiers)
STRICT = replace(DEFAULT_CONFIG, mql=MqlRule(min_engagement=60))
LENIENT = TenantConfig(
    fit_rules=(FitRule("company_size", "gte", 100, 50),),
    disqualifiers=(Condition("country", "eq", "KP"),),
    engagement_rules=(EngagementRule("form_submit", 20), EngagementRule("webinar_attended", 20)),
    window_days=30,
    mql=MqlRule(min_engagement=30),
)


def rescore(day: float, version: int = 1, event_id: str = "rescore") -> Event:
    return ev(RESCORE, day, event_id=event_id, config_version=version)
