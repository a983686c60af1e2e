"""HubSpot webhook events → Tandem events (SPEC 14). Pure: signature check and mapping.

Tables are documented in docs/connectors.md; a tenant's overrides (connector_settings
.mappings of `hubspot`) are merged onto the defaults here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.gateway.connectors.mapping import (
    Invalid,
    Link,
    ObjectEvent,
    decision,
    merged,
    number,
    utc_from_millis,
)

# HubSpot's own rule for v3 signatures: a request older than this is refused.
MAX_AGE_MS = 5 * 60 * 1000
# Below this a timestamp cannot be epoch milliseconds of a real request (it would be 1973):
# it is epoch seconds, a common mistake of relays that re-sign, named as such.
_MIN_EPOCH_MS = 10**11

# Lifecycle stage (contact property `lifecyclestage`) → lead decision.
DEFAULT_LIFECYCLE_STAGES: dict[str, str] = {
    "salesqualifiedlead": "lead_accepted",
}
# Lead status (contact property `hs_lead_status`) → lead decision.
DEFAULT_LEAD_STATUSES: dict[str, str] = {
    "IN_PROGRESS": "lead_accepted",
    "CONNECTED": "lead_accepted",
    "OPEN_DEAL": "lead_accepted",
    "BAD_TIMING": "lead_rejected:bad_timing",
    "UNQUALIFIED": "lead_disqualified:unqualified",
}
# Contact property → trait (SPEC 2.2); numbers arrive as strings and are converted.
DEFAULT_CONTACT_PROPERTIES: dict[str, str] = {
    "email": "email",
    "firstname": "first_name",
    "lastname": "last_name",
    "jobtitle": "job_title",
    "seniority": "seniority",
    "industry": "industry",
    "country": "country",
    "company": "company_name",
    "website": "company_domain",
    "numberofemployees": "company_size",
    "annualrevenue": "annual_revenue",
}
NUMERIC_TRAITS = frozenset({"company_size", "annual_revenue"})
# Deal stage id → "won", "lost" or a stage name for opportunity_stage_changed; a stage not
# named here is passed on as its own id.
DEFAULT_DEAL_STAGES: dict[str, str] = {"closedwon": "won", "closedlost": "lost"}
DEFAULT_LOST_REASON = "closed_lost_in_hubspot"


@dataclass(frozen=True)
class HubSpotMapping:
    lead_id_prefix: str
    lifecycle_stages: Mapping[str, str]
    lead_statuses: Mapping[str, str]
    contact_properties: Mapping[str, str]
    deal_stages: Mapping[str, str]

    @classmethod
    def for_tenant(cls, overrides: Mapping[str, Any]) -> HubSpotMapping:
        return cls(
            lead_id_prefix=str(overrides.get("lead_id_prefix") or ""),
            lifecycle_stages=merged(DEFAULT_LIFECYCLE_STAGES, overrides, "lifecycle_stages"),
            lead_statuses=merged(DEFAULT_LEAD_STATUSES, overrides, "lead_statuses"),
            contact_properties=merged(DEFAULT_CONTACT_PROPERTIES, overrides, "contact_properties"),
            deal_stages=merged(DEFAULT_DEAL_STAGES, overrides, "deal_stages"),
        )


def signature_error(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now_ms: int,
) -> str | None:
    """Why a request does not carry a valid v3 signature, or None when it does.

    v3: base64(HMAC-SHA256(client secret, method + URI + body + timestamp))."""
    if not timestamp or not signature:
        return "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp"
    if not timestamp.isdigit():
        return "X-HubSpot-Request-Timestamp must be epoch milliseconds"
    if int(timestamp) < _MIN_EPOCH_MS:
        return (
            f"X-HubSpot-Request-Timestamp {timestamp} looks like epoch seconds; HubSpot sends"
            " and signs epoch milliseconds"
        )
    if now_ms - int(timestamp) > MAX_AGE_MS:
        return "request timestamp is older than 5 minutes"
    message = method.encode() + uri.encode() + body + timestamp.encode()
    expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature.strip().encode()):
        return "signature does not verify"
    return None


def sign(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The v3 signature HubSpot sends (for replaying the sample payloads)."""
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


Mapped = dict[str, Any] | ObjectEvent | Link


def to_events(message: Mapping[str, Any], mapping: HubSpotMapping) -> list[Mapped]:
    """One webhook event → Tandem events (with lead), object events, or links; [] when the
    change is one no table maps (ignored)."""
    subscription = message.get("subscriptionType")
    if not isinstance(subscription, str):
        raise Invalid("subscriptionType", "must be a string")
    event_id = message.get("eventId")
    if not isinstance(event_id, int | str) or isinstance(event_id, bool):
        raise Invalid("eventId", "must be present")
    base: dict[str, Any] = {
        "event_id": f"hubspot-{message.get('portalId')}-{event_id}",
        "occurred_at": utc_from_millis(message.get("occurredAt"), "occurredAt"),
    }
    if subscription == "deal.associationChange":
        return _association(message, mapping)
    object_id = message.get("objectId")
    if not isinstance(object_id, int | str) or isinstance(object_id, bool) or object_id == "":
        raise Invalid("objectId", "must be present")
    obj = str(object_id)
    prop, value = message.get("propertyName"), message.get("propertyValue")
    if subscription == "contact.creation":
        lead = mapping.lead_id_prefix + obj
        return [{**base, "type": "lead_updated", "lead_id": lead, "properties": {"traits": {}}}]
    if subscription == "contact.propertyChange":
        return _contact_change(base, mapping.lead_id_prefix + obj, prop, value, mapping)
    if subscription == "deal.creation":
        props = {"opportunity_id": obj, "amount": 0}
        return [
            ObjectEvent("deal", obj, {**base, "type": "opportunity_created", "properties": props})
        ]
    if subscription == "deal.propertyChange":
        return _deal_change(base, obj, prop, value, mapping)
    return []


def _contact_change(
    base: dict[str, Any], lead: str, prop: Any, value: Any, mapping: HubSpotMapping
) -> list[Mapped]:
    if prop == "lifecyclestage" and value in mapping.lifecycle_stages:
        return [decision(mapping.lifecycle_stages[value], lead, base)]
    if prop == "hs_lead_status" and value in mapping.lead_statuses:
        return [decision(mapping.lead_statuses[value], lead, base)]
    trait = mapping.contact_properties.get(prop) if isinstance(prop, str) else None
    if trait is None:
        return []
    if value in (None, ""):
        converted: Any = None  # a cleared property removes the trait
    elif trait in NUMERIC_TRAITS:
        converted = number(value, "propertyValue")
        if trait == "company_size":
            converted = int(converted)
    else:
        converted = str(value)
    if trait == "company_domain" and converted:
        converted = converted.split("://", 1)[-1].split("/", 1)[0].lower().removeprefix("www.")
    traits = {trait: converted}
    return [{**base, "type": "lead_updated", "lead_id": lead, "properties": {"traits": traits}}]


def _deal_change(
    base: dict[str, Any], deal: str, prop: Any, value: Any, mapping: HubSpotMapping
) -> list[Mapped]:
    if prop == "amount":
        if value in (None, ""):
            return []
        # Tandem has no amount-change event; re-stating the opportunity updates its amount.
        props = {"opportunity_id": deal, "amount": number(value, "propertyValue")}
        return [
            ObjectEvent("deal", deal, {**base, "type": "opportunity_created", "properties": props})
        ]
    if prop != "dealstage" or not isinstance(value, str) or not value:
        return []
    outcome = mapping.deal_stages.get(value, value)
    if outcome == "won":
        event = {**base, "type": "deal_won", "properties": {"opportunity_id": deal}}
    elif outcome == "lost":
        props = {"opportunity_id": deal, "reason": DEFAULT_LOST_REASON}
        event = {**base, "type": "deal_lost", "properties": props}
    else:
        props = {"opportunity_id": deal, "stage": outcome}
        event = {**base, "type": "opportunity_stage_changed", "properties": props}
    return [ObjectEvent("deal", deal, event)]


def _association(message: Mapping[str, Any], mapping: HubSpotMapping) -> list[Mapped]:
    kind = message.get("associationType")
    if message.get("associationRemoved") is True:
        return []
    source, target = message.get("fromObjectId"), message.get("toObjectId")
    if source is None or target is None:
        raise Invalid("fromObjectId", "an association names fromObjectId and toObjectId")
    if kind == "DEAL_TO_CONTACT":
        return [Link("deal", str(source), mapping.lead_id_prefix + str(target))]
    if kind == "CONTACT_TO_DEAL":
        return [Link("deal", str(target), mapping.lead_id_prefix + str(source))]
    return []
