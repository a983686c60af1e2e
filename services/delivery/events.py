"""Webhook events from the derived topics (pure: no I/O).

Each source message yields zero or more `Occurrence`s; an occurrence's id is derived from
the tenant and the source fact alone (a transition's ordinal and time, an alert's id, a
score and its time), so reading a topic again, or the worker publishing a change twice,
yields the same id and the (webhook, event) key of a delivery drops the repeat.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.webhooks import WebhookEventType

# The lead's members of a webhook body, as the derived topics carry them.
LEAD_FIELDS = ("stage", "fit_score", "fit_grade", "engagement_score", "score", "matrix", "mql_at")


# The delivery service's name for the one list of webhook event types.
EventType = WebhookEventType
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One thing that happened, before it is addressed to any webhook."""

    type: EventType
    id: str
    tenant_id: str
    # When the source fact was published; a webhook hears only of what happened after it
    # was created.
    happened_at: datetime
    lead_id: str | None
    facts: dict[str, Any] = field(default_factory=dict)
    # A transition's (ordinal, to_stage): the worker publishes before it commits, so the
    # read model shows this transition only once that commit is done.
    transition: tuple[int, str] | None = None
    # The lead as the source message carries it (the worker's state after its batch), so
    # its body needs no read of the read model; None when the message does not carry it.
    lead: dict[str, Any] | None = None


def event_id(tenant_id: str, event_type: EventType, *source: object) -> str:
    text = "\x1f".join([tenant_id, event_type.value, *map(str, source)])
    return "evt_" + hashlib.sha256(text.encode()).hexdigest()[:32]


def delivery_id(tenant_id: str, webhook_id: str, event: str) -> str:
    text = "\x1f".join([tenant_id, webhook_id, event])
    return "dlv_" + hashlib.sha256(text.encode()).hexdigest()[:32]


# The transitions that are also deals closing.
_DEAL_STAGES = {"CUSTOMER": EventType.DEAL_WON, "CLOSED_LOST": EventType.DEAL_LOST}


def from_transition(doc: dict[str, Any], happened_at: datetime) -> list[Occurrence]:
    """journey-transitions.v1: {tenant_id, lead_id, ordinal, from_stage, to_stage, at,
    event_id, reason, lead} → lead.stage_changed, plus lead.mql / deal.won / deal.lost."""
    tenant, lead = doc["tenant_id"], doc["lead_id"]
    source = (lead, doc["ordinal"], doc["to_stage"], doc["at"])
    facts = {
        "from_stage": doc.get("from_stage"),
        "to_stage": doc["to_stage"],
        "at": doc["at"],
        "reason": doc.get("reason"),
        "source_event_id": doc.get("event_id"),
    }
    types = [EventType.LEAD_STAGE_CHANGED]
    if doc["to_stage"] == "MQL":
        types.append(EventType.LEAD_MQL)
    if doc["to_stage"] in _DEAL_STAGES:
        types.append(_DEAL_STAGES[doc["to_stage"]])
    transition = (int(doc["ordinal"]), str(doc["to_stage"]))
    state = _lead_state(doc.get("lead"))
    return [
        Occurrence(
            t, event_id(tenant, t, *source), tenant, happened_at, lead, facts, transition, state
        )
        for t in types
    ]


def _lead_state(doc: Any) -> dict[str, Any] | None:
    """The lead's state members of a message, when it carries them all (messages written
    before they did are answered from the read model)."""
    if not isinstance(doc, dict) or not all(k in doc for k in LEAD_FIELDS):
        return None
    return {k: doc[k] for k in LEAD_FIELDS}


def from_lead_state(doc: dict[str, Any], happened_at: datetime) -> list[Occurrence]:
    """lead-state.v1: {tenant_id, lead_id, previous_stage, stage, fit_score, fit_grade,
    engagement_score, score, matrix, mql_at, at} → a score observation; each webhook decides
    against its own threshold whether it is a lead.score_changed."""
    tenant, lead = doc["tenant_id"], doc["lead_id"]
    facts = {k: doc[k] for k in ("stage", "fit_score", "engagement_score", "score", "matrix", "at")}
    t = EventType.LEAD_SCORE_CHANGED
    return [
        Occurrence(
            t,
            event_id(tenant, t, lead, doc["score"], doc["at"]),
            tenant,
            happened_at,
            lead,
            facts,
            lead=_lead_state(doc),
        )
    ]


def from_alert(doc: dict[str, Any], happened_at: datetime) -> list[Occurrence]:
    """alerts.v1 (type sla_breach): {id, tenant_id, lead_id, kind, mql_at, deadline,
    detected_at} → sla.breached; the alert's own id is its source identity."""
    if doc.get("type") != "sla_breach":
        return []
    tenant = doc["tenant_id"]
    facts = {k: doc[k] for k in ("kind", "mql_at", "deadline", "detected_at")}
    t = EventType.SLA_BREACHED
    return [
        Occurrence(t, event_id(tenant, t, doc["id"]), tenant, happened_at, doc["lead_id"], facts)
    ]


def from_action_item(tenant_id: str, item: dict[str, Any], now: datetime) -> Occurrence:
    """An open action item past its due date → action_item.due, once per due date."""
    t = EventType.ACTION_ITEM_DUE
    return Occurrence(
        t,
        event_id(tenant_id, t, item["id"], item["due_date"]),
        tenant_id,
        now,
        None,
        {"action_item": item},
    )


def from_wins(tenant_id: str, week_start: str, wins: dict[str, Any], now: datetime) -> Occurrence:
    """The wins of a finished week → review.wins, once per week."""
    t = EventType.REVIEW_WINS
    return Occurrence(
        t,
        event_id(tenant_id, t, week_start),
        tenant_id,
        now,
        None,
        {"week_start": week_start, "wins": wins},
    )


def score_change(previous: int | None, score: int, threshold: int) -> bool:
    """A webhook hears of a score once it moved by at least its threshold from the last
    score it was told (a lead it was never told about counts from 0)."""
    return abs(score - (previous or 0)) >= threshold
