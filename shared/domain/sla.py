"""The SLA clock of one MQL (SPEC 7): its deadlines, how it stands at a moment, and the
identity of the alert a breach raises.

The response facts themselves (`response_at`, `response_type`, `disposition_at`) come from
the journey fold; this module only judges them against a limit and a clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from shared.domain.events import SALES_ACTIVITY
from shared.domain.journey import RESPONSE_TYPES


class SlaKind(StrEnum):
    """Which limit was missed: the first response, or the disposition (accept/reject)."""

    RESPONSE = "RESPONSE"
    DISPOSITION = "DISPOSITION"


class SlaOutcome(StrEnum):
    """How one MQL stands against one limit. Exactly one applies at any moment."""

    WITHIN = "WITHIN"  # answered at or before the deadline
    LATE = "LATE"  # answered after the deadline
    OVERDUE = "OVERDUE"  # not answered, and the deadline has passed
    PENDING = "PENDING"  # not answered, and the deadline has not passed yet

    @property
    def answered(self) -> bool:
        return self in (SlaOutcome.WITHIN, SlaOutcome.LATE)

    @property
    def breached(self) -> bool:
        # SPEC 7: "no response within the limit: late, or none and the deadline has passed".
        return self in (SlaOutcome.LATE, SlaOutcome.OVERDUE)


class ResponseGroup(StrEnum):
    """Who answered an MQL, by the kind of its first response. Every response type of SPEC 7
    is a sales action, so marketing has no group; the groups split the sales team's answers
    by how it answered, and NO_RESPONSE holds the MQLs nobody answered yet."""

    SALES_ACTIVITY = "SALES_ACTIVITY"  # sales_email, sales_call, meeting_held, content_shared
    LEAD_DECISION = "LEAD_DECISION"  # lead_accepted, lead_rejected, lead_disqualified
    OPPORTUNITY = "OPPORTUNITY"  # opportunity_created
    NO_RESPONSE = "NO_RESPONSE"


RESPONSE_GROUPS: dict[str, ResponseGroup] = {
    **dict.fromkeys(SALES_ACTIVITY, ResponseGroup.SALES_ACTIVITY),
    **dict.fromkeys(
        ("lead_accepted", "lead_rejected", "lead_disqualified"), ResponseGroup.LEAD_DECISION
    ),
    "opportunity_created": ResponseGroup.OPPORTUNITY,
}
assert set(RESPONSE_GROUPS) == RESPONSE_TYPES, "every response type belongs to one group"


def response_group(response_type: str | None) -> ResponseGroup:
    if response_type is None:
        return ResponseGroup.NO_RESPONSE
    return RESPONSE_GROUPS[response_type]


def deadline(mql_at: datetime, hours: float) -> datetime:
    return mql_at + timedelta(hours=hours)


def classify(
    mql_at: datetime, answered_at: datetime | None, now: datetime, hours: float
) -> SlaOutcome:
    """The outcome of one limit for one MQL: `answered_at` is its response (or disposition)
    time, `hours` the limit. An answer exactly at the deadline is in time, and the deadline
    has passed only once the clock is beyond it, as the metrics count it."""
    due = deadline(mql_at, hours)
    if answered_at is not None:
        return SlaOutcome.WITHIN if answered_at <= due else SlaOutcome.LATE
    return SlaOutcome.OVERDUE if now > due else SlaOutcome.PENDING


def alert_id(tenant_id: str, lead_id: str, kind: SlaKind, mql_at: datetime) -> str:
    """The key of a breach alert, the same on every emission of the same breach so that
    consumers can drop a repeat: "tenant:lead:kind:mql_at", mql_at in UTC to the microsecond."""
    stamp = mql_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{tenant_id}:{lead_id}:{kind.value}:{stamp}"
