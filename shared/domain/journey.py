"""One lead's journey: the fold of its events (SPEC 2.4, 3, 4 and the SLA facts of 7).

`LeadState.apply` takes events one by one in fold order (`occurred_at`, then arrival);
`fold_lead` rebuilds a state from all of a lead's events in any arrival order. Both give
the same state, so the worker applies in-order events incrementally and refolds only when
an event arrives late.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from shared.domain.config import TenantConfig
from shared.domain.events import (
    ENGAGEMENT_TYPES,
    IDENTITY_TYPES,
    MARKETING_TOUCHES,
    OPPORTUNITY_TYPES,
    RESCORE,
    SALES_ACTIVITY,
    Event,
)
from shared.domain.scoring import (
    EngagementEvidence,
    EngagementResult,
    EngagementWindow,
    FitEvidence,
    disqualifier_match,
    engagement,
    fit,
    grade,
    matrix,
)


class Stage(StrEnum):
    AWARE = "AWARE"
    ENGAGED = "ENGAGED"
    MQL = "MQL"
    SQL = "SQL"
    OPPORTUNITY = "OPPORTUNITY"
    CUSTOMER = "CUSTOMER"
    NURTURE = "NURTURE"
    DISQUALIFIED = "DISQUALIFIED"
    CLOSED_LOST = "CLOSED_LOST"


SUCCESS_PATH: tuple[Stage, ...] = (
    Stage.AWARE,
    Stage.ENGAGED,
    Stage.MQL,
    Stage.SQL,
    Stage.OPPORTUNITY,
    Stage.CUSTOMER,
)
_RANK: dict[Stage, int] = {stage: rank for rank, stage in enumerate(SUCCESS_PATH)}


class OpportunityStatus(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


# SPEC 7: what counts as the first response to an MQL, and as its disposition.
RESPONSE_TYPES: frozenset[str] = SALES_ACTIVITY | {
    "lead_accepted",
    "lead_rejected",
    "lead_disqualified",
    "opportunity_created",
}
DISPOSITION_TYPES: frozenset[str] = frozenset(
    {"lead_accepted", "lead_rejected", "lead_disqualified"}
)

_DISQUALIFIABLE_BY_SALES = frozenset(
    {Stage.AWARE, Stage.ENGAGED, Stage.MQL, Stage.SQL, Stage.NURTURE}
)
_ACCEPTABLE = frozenset({Stage.AWARE, Stage.ENGAGED, Stage.MQL, Stage.NURTURE})
_DISQUALIFIABLE_BY_ICP = _ACCEPTABLE
_MQL_CANDIDATES = frozenset({Stage.AWARE, Stage.ENGAGED, Stage.NURTURE})


@dataclass(frozen=True, slots=True)
class Transition:
    """`from_stage` is None for the event that created the lead."""

    from_stage: Stage | None
    to_stage: Stage
    at: datetime
    event_id: str
    reason: str


@dataclass(slots=True)
class Opportunity:
    opportunity_id: str
    amount: float
    created_at: datetime
    status: OpportunityStatus = OpportunityStatus.OPEN
    stage: str | None = None
    closed_at: datetime | None = None
    won_amount: float | None = None
    lost_reason: str | None = None
    competitor: str | None = None
    fit_grade_at_win: str | None = None
    last_activity_at: datetime | None = None


class Mention(NamedTuple):
    """A piece of sales feedback: a rejection or disqualification reason, an objection
    category, a competitor; `opportunity_id` when the feedback names a deal."""

    at: datetime
    value: str
    event_id: str
    opportunity_id: str | None = None


class LateEventError(ValueError):
    """An event earlier in fold order than one already applied: refold the lead instead."""


class LeadState:
    """The state of one lead, mutated by `apply` one event at a time in fold order."""

    # Slotted: a worker holds one per active lead, a hundred thousand of them.
    __slots__ = (
        "_config",
        "_window",
        "account_id",
        "competitor_mentions",
        "config_version",
        "created_at",
        "customer_at",
        "disposition_at",
        "disposition_type",
        "disqualifications",
        "disqualified",
        "disqualifier",
        "engaged_at",
        "engagement_evidence",
        "engagement_score",
        "event_ids",
        "first_touch_channel",
        "fit_evidence",
        "fit_grade",
        "fit_score",
        "highest_stage",
        "last_event_at",
        "last_key",
        "last_rejected_at",
        "last_sales_activity_at",
        "lead_id",
        "mql_at",
        "objections",
        "opportunities",
        "opportunity_at",
        "rejections",
        "response_at",
        "response_type",
        "sql_at",
        "stage",
        "touches",
        "traits",
        "transitions",
    )

    def __init__(self) -> None:
        self.lead_id: str | None = None
        self.account_id: str | None = None
        self.stage: Stage = Stage.AWARE
        self.highest_stage: Stage = Stage.AWARE
        self.created_at: datetime | None = None
        self.engaged_at: datetime | None = None
        self.mql_at: datetime | None = None
        self.sql_at: datetime | None = None
        self.opportunity_at: datetime | None = None
        self.customer_at: datetime | None = None
        self.traits: dict[str, Any] = {}
        self.fit_score = 0
        self.fit_grade = "D"
        self.fit_evidence: tuple[FitEvidence, ...] = ()
        self.disqualified = False
        self.disqualifier: str | None = None
        self.engagement_score = 0
        self.engagement_evidence: tuple[EngagementEvidence, ...] = ()
        self.transitions: list[Transition] = []
        self.opportunities: dict[str, Opportunity] = {}
        self.touches: list[Event] = []
        self.first_touch_channel: str | None = None
        self.last_event_at: datetime | None = None
        self.last_rejected_at: datetime | None = None
        self.last_sales_activity_at: datetime | None = None
        self.response_at: datetime | None = None
        self.response_type: str | None = None
        self.disposition_at: datetime | None = None
        self.disposition_type: str | None = None
        self.rejections: list[Mention] = []
        self.disqualifications: list[Mention] = []
        self.objections: list[Mention] = []
        self.competitor_mentions: list[Mention] = []
        self.config_version: int | None = None
        self.event_ids: set[str] = set()
        self.last_key: tuple[datetime, int] | None = None
        self._config: TenantConfig | None = None
        self._window: EngagementWindow | None = None

    @property
    def score(self) -> int:
        return self.fit_score + self.engagement_score

    @property
    def matrix(self) -> str:
        return matrix(self.fit_grade, self.engagement_score)

    def is_late(self, event: Event) -> bool:
        """True when `event` sorts before an event already applied (the lead needs a refold)."""
        return self.last_key is not None and event.order_key < self.last_key

    def apply(self, event: Event, config: TenantConfig) -> Transition | None:
        """Apply the next event in fold order under the config it was stamped with.

        Returns the stage transition it caused, if any. An event id already applied changes
        nothing; an event that sorts before the last one applied raises LateEventError.
        """
        if event.event_id in self.event_ids:
            return None
        if self.is_late(event):
            raise LateEventError(
                f"event {event.event_id} at {event.occurred_at.isoformat()} sorts before "
                "events already applied; refold the lead"
            )
        if event.type == RESCORE:
            return self._rescore(event, config)
        self.event_ids.add(event.event_id)
        self.last_key = event.order_key
        t = event.occurred_at
        before: Stage | None = None
        entered: list[Stage] = []
        reasons: list[str] = []
        had_mql = self.mql_at is not None
        if self.created_at is None:
            self.created_at = t
            entered.append(Stage.AWARE)
            reasons.append(f"created by {event.type}")
        else:
            before = self.stage
        if self.lead_id is None:
            self.lead_id = event.lead_id
        if event.account_id is not None:
            self.account_id = event.account_id
        self.last_event_at = t
        self.config_version = event.config_version
        traits_changed = event.type in IDENTITY_TYPES and self._apply_traits(event)
        window = self._use(config, rescored=traits_changed)
        if event.type in MARKETING_TOUCHES:
            self._add_touch(event, window)

        self._by_type(event, window, entered, reasons)
        self._set_engagement(window.evaluate(t))

        if self.disqualified and self.stage in _DISQUALIFIABLE_BY_ICP:
            self._move(
                Stage.DISQUALIFIED, f"ICP disqualifier {self.disqualifier}", entered, reasons
            )
        if self.stage is Stage.AWARE and event.type in ENGAGEMENT_TYPES:
            self._move(Stage.ENGAGED, f"{event.type} is an engagement touch", entered, reasons)
        if self.stage in _MQL_CANDIDATES and not self.disqualified:
            reason = self._mql_reason(config, event.type)
            if reason is not None:
                self._move(Stage.MQL, reason, entered, reasons)

        transition = self._record_transition(event, before, entered, reasons)
        self._record_sla(event, had_mql)
        return transition

    def _rescore(self, event: Event, config: TenantConfig) -> Transition | None:
        self.event_ids.add(event.event_id)
        # Kept even when there is nothing to re-score, so that an event sorting before the
        # re-score is late and refolded, as the fold would place it.
        self.last_key = event.order_key
        # A re-score before the lead's first real event has nothing to re-score; the new
        # config reaches the lead with that event.
        if self.created_at is None:
            return None
        self.last_event_at = event.occurred_at
        self.config_version = event.config_version
        window = self._use(config, rescored=True)
        self._set_engagement(window.evaluate(event.occurred_at))
        # Stages never move back on a re-score, so a newly matching disqualifier only sets
        # the flag; the only move is forward into MQL.
        before = self.stage
        entered: list[Stage] = []
        reasons: list[str] = []
        if self.stage in _MQL_CANDIDATES and not self.disqualified:
            reason = self._mql_reason(config, event.type)
            if reason is not None:
                self._move(Stage.MQL, f"{reason} after re-score", entered, reasons)
        return self._record_transition(event, before, entered, reasons)

    def _apply_traits(self, event: Event) -> bool:
        traits = event.properties.get("traits")
        if not isinstance(traits, Mapping) or not traits:
            return False
        for key, value in traits.items():
            if value is None:
                self.traits.pop(key, None)
            else:
                self.traits[key] = value
        return True

    def _use(self, config: TenantConfig, rescored: bool) -> EngagementWindow:
        """Make the state reflect `config`: a config differing from the last event's applies
        from this event on (SPEC 4), so fit and the engagement window are recomputed."""
        changed = self._config is not config and self._config != config
        if changed:
            self._config = config
        if changed or rescored:
            result = fit(self.traits, config)
            self.fit_score = result.score
            self.fit_evidence = result.evidence
            self.fit_grade = grade(result.score, config.grade_thresholds)
            match = disqualifier_match(self.traits, config)
            self.disqualified = match is not None
            self.disqualifier = None if match is None else match.describe()
        if changed or self._window is None:
            self._window = EngagementWindow(config)
            for touch in self.touches:
                if self._still_counts(touch):
                    self._window.add(touch)
        return self._window

    def _still_counts(self, touch: Event) -> bool:
        return self.last_rejected_at is None or touch.occurred_at > self.last_rejected_at

    def _add_touch(self, touch: Event, window: EngagementWindow) -> None:
        if not self.touches:
            self.first_touch_channel = touch.channel or "(none)"
        self.touches.append(touch)
        if self._still_counts(touch):
            window.add(touch)

    def _set_engagement(self, result: EngagementResult) -> None:
        self.engagement_score = result.score
        self.engagement_evidence = result.evidence

    def _by_type(
        self, event: Event, window: EngagementWindow, entered: list[Stage], reasons: list[str]
    ) -> None:
        kind = event.type
        t = event.occurred_at
        props = event.properties
        if kind in SALES_ACTIVITY:
            self.last_sales_activity_at = t
            for opportunity in self.opportunities.values():
                if opportunity.status is OpportunityStatus.OPEN:
                    opportunity.last_activity_at = t
        elif kind == "lead_disqualified":
            reason = str(props.get("reason", ""))
            self.disqualifications.append(Mention(t, reason, event.event_id))
            if self.stage in _DISQUALIFIABLE_BY_SALES:
                self._move(
                    Stage.DISQUALIFIED, f"disqualified by sales ({reason})", entered, reasons
                )
        elif kind == "lead_requalified":
            if self.stage is Stage.DISQUALIFIED:
                self._move(Stage.AWARE, "requalified by sales", entered, reasons)
        elif kind == "lead_accepted":
            if self.stage in _ACCEPTABLE:
                self._move(Stage.SQL, "accepted by sales", entered, reasons)
        elif kind == "lead_rejected":
            reason = str(props.get("reason", ""))
            self.rejections.append(Mention(t, reason, event.event_id))
            # Recycling: touches at or before t stop counting for engagement.
            self.last_rejected_at = t
            window.clear()
            if self.stage in (Stage.MQL, Stage.SQL):
                self._move(
                    Stage.NURTURE,
                    f"rejected by sales ({reason}), engagement reset",
                    entered,
                    reasons,
                )
        elif kind in OPPORTUNITY_TYPES:
            self._opportunity_event(event, entered, reasons)
        elif kind == "objection_logged":
            self.objections.append(_deal_mention(event, "category"))
        elif kind == "competitor_mentioned":
            self.competitor_mentions.append(_deal_mention(event, "competitor"))

    def _opportunity_event(self, event: Event, entered: list[Stage], reasons: list[str]) -> None:
        kind = event.type
        t = event.occurred_at
        props = event.properties
        opportunity_id = str(props.get("opportunity_id", ""))
        amount = _amount(props)
        opportunity = self.opportunities.get(opportunity_id)
        if opportunity is None:
            opportunity = Opportunity(opportunity_id, amount or 0.0, t, last_activity_at=t)
            self.opportunities[opportunity_id] = opportunity
            # An opportunity first seen through a later event still opens here, so the lead
            # passes through OPPORTUNITY like one created explicitly.
            how = "created" if kind == "opportunity_created" else f"opened by {kind}"
            if self.stage is not Stage.CUSTOMER:
                self._move(
                    Stage.OPPORTUNITY, f"opportunity {opportunity_id} {how}", entered, reasons
                )
        elif kind == "opportunity_created":
            if amount is not None:
                opportunity.amount = amount
            opportunity.last_activity_at = t
            if self.stage is not Stage.CUSTOMER:
                self._move(
                    Stage.OPPORTUNITY, f"opportunity {opportunity_id} created", entered, reasons
                )
        if kind == "opportunity_stage_changed":
            opportunity.stage = _opt_str(props, "stage")
            opportunity.last_activity_at = t
        elif kind == "deal_won":
            if opportunity.status is not OpportunityStatus.WON:
                opportunity.status = OpportunityStatus.WON
                opportunity.closed_at = t
                opportunity.won_amount = opportunity.amount if amount is None else amount
                opportunity.lost_reason = None
                opportunity.competitor = None
                opportunity.fit_grade_at_win = self.fit_grade
            self._move(Stage.CUSTOMER, f"opportunity {opportunity_id} won", entered, reasons)
        elif kind == "deal_lost":
            if opportunity.status is not OpportunityStatus.LOST:
                opportunity.status = OpportunityStatus.LOST
                opportunity.closed_at = t
                opportunity.won_amount = None
                opportunity.fit_grade_at_win = None
                opportunity.lost_reason = _opt_str(props, "reason")
                opportunity.competitor = _opt_str(props, "competitor")
            still_open = any(
                other.status is OpportunityStatus.OPEN for other in self.opportunities.values()
            )
            if self.stage is Stage.OPPORTUNITY and not still_open:
                self._move(
                    Stage.CLOSED_LOST,
                    f"opportunity {opportunity_id} lost ({opportunity.lost_reason or 'no reason'})"
                    ", no other open opportunity",
                    entered,
                    reasons,
                )

    def _mql_reason(self, config: TenantConfig, event_type: str) -> str | None:
        rule = config.mql
        fit_score = self.fit_score
        if fit_score >= rule.min_fit and self.engagement_score >= rule.min_engagement:
            return (
                f"fit {fit_score} ≥ {rule.min_fit} and engagement {self.engagement_score} "
                f"≥ {rule.min_engagement}"
            )
        if event_type in rule.fast_track_types and fit_score >= rule.fast_track_min_fit:
            return f"fast track {event_type} with fit {fit_score} ≥ {rule.fast_track_min_fit}"
        return None

    def _move(self, stage: Stage, reason: str, entered: list[Stage], reasons: list[str]) -> None:
        if stage is self.stage:
            return
        self.stage = stage
        entered.append(stage)
        reasons.append(f"{stage.value}: {reason}")

    def _record_sla(self, event: Event, had_mql: bool) -> None:
        if self.mql_at is None:
            return
        kind = event.type
        # The response may be the very event that made the lead an MQL ("at or after");
        # the disposition must come after it.
        if self.response_at is None and kind in RESPONSE_TYPES:
            self.response_at = event.occurred_at
            self.response_type = kind
        if had_mql and self.disposition_at is None and kind in DISPOSITION_TYPES:
            self.disposition_at = event.occurred_at
            self.disposition_type = kind

    def _record_transition(
        self, event: Event, before: Stage | None, entered: list[Stage], reasons: list[str]
    ) -> Transition | None:
        t = event.occurred_at
        for stage in entered:
            rank = _RANK.get(stage)
            if rank is None:
                continue
            if rank > _RANK[self.highest_stage]:
                self.highest_stage = stage
            if stage is Stage.ENGAGED and self.engaged_at is None:
                self.engaged_at = t
            elif stage is Stage.MQL and self.mql_at is None:
                self.mql_at = t
            elif stage is Stage.SQL and self.sql_at is None:
                self.sql_at = t
            elif stage is Stage.OPPORTUNITY and self.opportunity_at is None:
                self.opportunity_at = t
            elif stage is Stage.CUSTOMER and self.customer_at is None:
                self.customer_at = t
        if self.stage is before:
            return None
        transition = Transition(before, self.stage, t, event.event_id, "; ".join(reasons))
        self.transitions.append(transition)
        return transition


def _deal_mention(event: Event, key: str) -> Mention:
    """The feedback the event's property `key` holds, with the deal it names (if any)."""
    props = event.properties
    return Mention(
        event.occurred_at,
        str(props.get(key, "")),
        event.event_id,
        _opt_str(props, "opportunity_id"),
    )


def _opt_str(props: Mapping[str, Any], key: str) -> str | None:
    value = props.get(key)
    return None if value is None else str(value)


def _amount(props: Mapping[str, Any]) -> float | None:
    value = props.get("amount")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def fold_lead(
    events: Iterable[Event], configs: Mapping[int, TenantConfig] | TenantConfig
) -> LeadState:
    """The state of a lead from all its events, in any arrival order, duplicates included.

    `configs` maps each event's `config_version` to its config (a single config applies to
    every event). Of events sharing an `event_id`, the first to arrive (lowest seq) counts.
    """
    unique: dict[str, Event] = {}
    for event in events:
        kept = unique.get(event.event_id)
        if kept is None or event.seq < kept.seq:
            unique[event.event_id] = event
    state = LeadState()
    for event in sorted(unique.values(), key=_fold_key):
        config = configs if isinstance(configs, TenantConfig) else configs[event.config_version]
        state.apply(event, config)
    return state


def _fold_key(event: Event) -> tuple[datetime, int, str]:
    return (event.occurred_at, event.seq, event.event_id)


def engagement_at(state: LeadState, config: TenantConfig, instant: datetime) -> EngagementResult:
    """Engagement of the lead at a wall-clock instant, for the periodic decay sweep."""
    window = state._window
    if (
        window is not None
        and state.last_event_at is not None
        and instant >= state.last_event_at
        and (state._config is config or state._config == config)
    ):
        # The fold's own window holds the touches that count under this config; a lead
        # with a long history costs the touches that left the window, not all of them.
        return window.peek(instant)
    return engagement(state.touches, config, instant, state.last_rejected_at)
