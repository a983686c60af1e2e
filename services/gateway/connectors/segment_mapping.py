"""Segment spec messages → Tandem events (SPEC 14). Pure: no I/O, tables passed in.

The tables (event names, UTM → channel) are documented in docs/connectors.md; a tenant's
overrides (connector_settings.mappings of `segment`) are merged onto these defaults.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from services.gateway.connectors.mapping import Invalid, merged

# Segment's semantic event names (and a few common ones) → Tandem touch types.
DEFAULT_EVENT_NAMES: dict[str, str] = {
    "Demo Requested": "demo_request",
    "Form Submitted": "form_submit",
    "Webinar Attended": "webinar_attended",
    "Event Attended": "event_attended",
    "Email Opened": "email_open",
    "Email Link Clicked": "email_click",
    "Ad Clicked": "ad_click",
    "Content Downloaded": "content_download",
    "Chat Conversation Started": "chat_conversation",
    "Social Engagement": "social_engagement",
}

# utm_medium (lower case) → channel. Checked after DEFAULT_UTM_SOURCE_MEDIUM.
DEFAULT_UTM_MEDIUM: dict[str, str] = {
    "cpc": "paid_search",
    "ppc": "paid_search",
    "paid_search": "paid_search",
    "paidsearch": "paid_search",
    "sem": "paid_search",
    "organic": "organic_search",
    "organic_search": "organic_search",
    "seo": "organic_search",
    "paid_social": "paid_social",
    "paidsocial": "paid_social",
    "social_paid": "paid_social",
    "social": "organic_social",
    "organic_social": "organic_social",
    "social-network": "organic_social",
    "email": "email",
    "e-mail": "email",
    "newsletter": "email",
    "referral": "referral",
    "webinar": "webinar",
    "event": "event",
    "syndication": "content_syndication",
    "content_syndication": "content_syndication",
    "partner": "partner",
    "affiliate": "partner",
    "review": "review_site",
    "review_site": "review_site",
    "outbound": "outbound",
    "display": "other",
    "cpm": "other",
}

# "utm_source/utm_medium" (lower case) → channel, checked first: a paid click on a social
# network is paid social, not paid search.
DEFAULT_UTM_SOURCE_MEDIUM: dict[str, str] = {
    "linkedin/cpc": "paid_social",
    "facebook/cpc": "paid_social",
    "twitter/cpc": "paid_social",
    "x/cpc": "paid_social",
    "instagram/cpc": "paid_social",
    "g2/referral": "review_site",
    "capterra/referral": "review_site",
}

# A campaign whose medium no table names.
UNKNOWN_MEDIUM_CHANNEL = "other"

# Segment's reserved traits → Tandem traits (SPEC 2.2); other keys are kept as they are.
TRAIT_NAMES: dict[str, str] = {
    "title": "job_title",
    "employees": "company_size",
    "annualRevenue": "annual_revenue",
    "website": "company_domain",
}
# Segment's group traits → the lead's account traits.
GROUP_TRAIT_NAMES: dict[str, str] = {
    "name": "company_name",
    "industry": "industry",
    "employees": "company_size",
    "annualRevenue": "annual_revenue",
    "website": "company_domain",
    "country": "country",
}

# Validator field → the Segment field the sender knows it by.
SEGMENT_FIELDS: dict[str, str] = {
    "event_id": "messageId",
    "occurred_at": "timestamp",
    "lead_id": "userId",
    "anonymous_id": "anonymousId",
    "account_id": "groupId",
    "campaign_id": "context.campaign.name",
    "channel": "context.campaign.medium",
    "properties.traits": "traits",
}

KINDS = ("track", "identify", "page", "screen", "group", "alias")


@dataclass(frozen=True)
class SegmentMapping:
    event_names: Mapping[str, str]
    utm_medium: Mapping[str, str]
    utm_source_medium: Mapping[str, str]

    @classmethod
    def for_tenant(cls, overrides: Mapping[str, Any]) -> SegmentMapping:
        """Defaults with a tenant's overrides on top (keys `event_names`, `utm_medium`,
        `utm_source_medium`; a value of null removes a default)."""
        return cls(
            event_names=merged(DEFAULT_EVENT_NAMES, overrides, "event_names"),
            utm_medium=merged(DEFAULT_UTM_MEDIUM, overrides, "utm_medium", lower=True),
            utm_source_medium=merged(
                DEFAULT_UTM_SOURCE_MEDIUM, overrides, "utm_source_medium", lower=True
            ),
        )


DEFAULT_MAPPING = SegmentMapping.for_tenant({})


class Unmapped:
    """A track whose name the tenant's map does not name: accepted, counted, not stored."""


def translate_field(field: str) -> str:
    """A validator field path as the Segment sender names it."""
    for tandem, segment in SEGMENT_FIELDS.items():
        if field == tandem or field.startswith(tandem + "."):
            return segment + field[len(tandem) :]
    return field


def encoded(message: Mapping[str, Any]) -> bytes:
    """The message as canonical JSON (sorted keys), or Invalid if JSON cannot carry it on."""
    try:
        return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise Invalid("", f"message cannot be stored: {exc}") from exc


def message_id(message: Mapping[str, Any]) -> str:
    """`messageId`, or for a message without one a hash of its content: a resent message
    gets the same id and is applied once."""
    given = message.get("messageId")
    if isinstance(given, str) and given:
        return given
    return f"seg-{hashlib.sha256(encoded(message)).hexdigest()[:40]}"


def occurred_at(message: Mapping[str, Any], received_at: datetime) -> str:
    for key in ("timestamp", "originalTimestamp"):
        value = message.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise Invalid(key, "must be an ISO 8601 date-time string")
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise Invalid(key, f"{value!r} is not an ISO 8601 date-time") from exc
        # Segment reads a time without an offset as UTC.
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return _utc(parsed)
    return _utc(received_at)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _id(message: Mapping[str, Any], key: str) -> str | None:
    value = message.get(key)
    if value is None or value == "":
        return None
    # Segment's libraries send numeric ids as numbers.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise Invalid(key, "must be a string")
    return value


def channel(campaign: Mapping[str, Any], mapping: SegmentMapping) -> str | None:
    """The channel of `context.campaign` by the tenant's UTM tables; None without UTM."""
    medium = str(campaign.get("medium") or "").strip().lower()
    source = str(campaign.get("source") or "").strip().lower()
    if not medium and not source:
        return None
    found = mapping.utm_source_medium.get(f"{source}/{medium}")
    if found is None:
        found = mapping.utm_medium.get(medium)
    return found or UNKNOWN_MEDIUM_CHANNEL


def _traits(raw: Any, names: Mapping[str, str], field: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Invalid(field, "must be an object")
    traits: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "company" and isinstance(value, dict) and names is TRAIT_NAMES:
            # Segment's nested company trait names the lead's company.
            traits.update(_traits(value, GROUP_TRAIT_NAMES, f"{field}.company"))
            continue
        if key == "address" and isinstance(value, dict) and "country" in value:
            traits.setdefault("country", value["country"])
        traits[names.get(key, key)] = value
    domain = traits.get("company_domain")
    if isinstance(domain, str):
        traits["company_domain"] = _domain(domain)
    return traits


def _domain(website: str) -> str:
    host = website.split("://", 1)[-1].split("/", 1)[0].lower()
    return host.removeprefix("www.")


def to_event(
    kind: str, message: Mapping[str, Any], mapping: SegmentMapping, received_at: datetime
) -> dict[str, Any] | Unmapped:
    """One Segment message → one Tandem event (not yet validated), or Unmapped.

    Raises Invalid for what the validator cannot name in Segment's terms."""
    if kind not in KINDS:
        raise Invalid("type", f"{kind!r} is not one of {', '.join(KINDS)}")
    event: dict[str, Any] = {
        "event_id": message_id(message),
        "occurred_at": occurred_at(message, received_at),
    }
    user_id, anonymous_id = _id(message, "userId"), _id(message, "anonymousId")
    if kind == "alias":
        previous = _id(message, "previousId")
        if previous is None or user_id is None:
            raise Invalid("previousId" if previous is None else "userId", "alias needs both")
        # An alias links the earlier id to the user, as identify links an anonymous id.
        user_id, anonymous_id = user_id, previous
    if user_id is None and anonymous_id is None:
        raise Invalid("userId", "a message needs userId or anonymousId")
    if user_id is not None:
        event["lead_id"] = user_id
    if anonymous_id is not None:
        event["anonymous_id"] = anonymous_id
    context = message.get("context") or {}
    if not isinstance(context, dict):
        raise Invalid("context", "must be an object")
    campaign = context.get("campaign")
    if isinstance(campaign, dict):
        found = channel(campaign, mapping)
        if found is not None:
            event["channel"] = found
        name = campaign.get("id") or campaign.get("name")
        if isinstance(name, str) and name:
            event["campaign_id"] = name

    properties = message.get("properties") or {}
    if not isinstance(properties, dict):
        raise Invalid("properties", "must be an object")
    if kind == "track":
        name = message.get("event")
        if not isinstance(name, str) or not name:
            raise Invalid("event", "a track needs the event name")
        tandem_type = mapping.event_names.get(name)
        if tandem_type is None:
            return Unmapped()
        event["type"] = tandem_type
        event["properties"] = {**properties, "segment_event": name}
    elif kind in ("page", "screen"):
        event["type"] = "page_view"
        props = dict(properties)
        if message.get("name") is not None:
            props.setdefault("name", message["name"])
        if kind == "screen":
            props.setdefault("screen", True)
        event["properties"] = props
    elif kind in ("identify", "alias"):
        traits = _traits(message.get("traits"), TRAIT_NAMES, "traits")
        # Without an anonymous id there is nothing to link: the traits update the lead.
        event["type"] = "identify" if anonymous_id is not None else "lead_updated"
        event["properties"] = {"traits": traits}
    else:  # group
        group_id = _id(message, "groupId")
        if group_id is None:
            raise Invalid("groupId", "a group call needs groupId")
        event["type"] = "lead_updated"
        event["account_id"] = group_id
        event.pop("anonymous_id", None)
        traits = _traits(message.get("traits"), GROUP_TRAIT_NAMES, "traits")
        event["properties"] = {"traits": traits}
    return event
