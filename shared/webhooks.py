"""Outbound webhooks (SPEC 15), what both the gateway (saving a subscription) and the
delivery service (sending to it) need: the event types, the sealed secret and the
signature. Where a webhook may point is shared/egress.py's policy, checked when a webhook
is saved and on each attempt, whose connection goes to the address that was checked.

Signature, the Stripe scheme: `Tandem-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>">` under the webhook's secret. A receiver recomputes the HMAC over the
timestamp and the raw body it got, compares in constant time, and rejects a timestamp too
far from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

from shared.secret_box import box, context_for


class WebhookEventType(StrEnum):
    """What a webhook can subscribe to: the delivery service's events and the GraphQL enum
    (which shows the names) are this one list; the value is a body's `type`."""

    LEAD_STAGE_CHANGED = "lead.stage_changed"
    LEAD_MQL = "lead.mql"
    LEAD_SCORE_CHANGED = "lead.score_changed"
    SLA_BREACHED = "sla.breached"
    DEAL_WON = "deal.won"
    DEAL_LOST = "deal.lost"
    ACTION_ITEM_DUE = "action_item.due"
    REVIEW_WINS = "review.wins"


WEBHOOK_EVENT_TYPES = tuple(t.value for t in WebhookEventType)


# Webhooks per tenant.
MAX_WEBHOOKS = 50
SIGNATURE_HEADER = "Tandem-Signature"
# Receivers should refuse signatures older than this (replay protection).
DEFAULT_TOLERANCE_S = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def seal_secret(secret: str, tenant_id: str) -> str:
    """The signing secret as stored (sealed at rest; shared/secret_box.py)."""
    return box().seal(secret, context_for("webhooks", "secret", tenant_id))


def open_secret(stored: str, tenant_id: str) -> str:
    return box().open(stored, context_for("webhooks", "secret", tenant_id))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """True when `header` is a valid signature of `body` made within `tolerance_s` of `now`."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body).rsplit("v1=", 1)[1]
    return any(hmac.compare_digest(expected, v) for v in parts.get("v1", []))
