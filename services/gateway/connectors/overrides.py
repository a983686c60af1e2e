"""What a tenant may override in each connector's mappings, and the check of an override
before it is stored: a bad table would otherwise fail every later batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.gateway.connectors import hubspot_mapping as hs
from services.gateway.connectors import salesforce_mapping as sf
from services.gateway.connectors import segment_mapping as seg
from shared.domain.events import EVENT_TYPES
from shared.validation import CHANNELS

DECISIONS = ("lead_accepted", "lead_requalified", "lead_rejected", "lead_disqualified")
NEEDS_REASON = ("lead_rejected", "lead_disqualified")

# connector → key → (kind of value, default table or value)
TABLES: dict[str, dict[str, tuple[str, Any]]] = {
    "segment": {
        "event_names": ("event_type", seg.DEFAULT_EVENT_NAMES),
        "utm_medium": ("channel", seg.DEFAULT_UTM_MEDIUM),
        "utm_source_medium": ("channel", seg.DEFAULT_UTM_SOURCE_MEDIUM),
    },
    "hubspot": {
        "lead_id_prefix": ("text", ""),
        "lifecycle_stages": ("decision", hs.DEFAULT_LIFECYCLE_STAGES),
        "lead_statuses": ("decision", hs.DEFAULT_LEAD_STATUSES),
        "contact_properties": ("text", hs.DEFAULT_CONTACT_PROPERTIES),
        "deal_stages": ("text", hs.DEFAULT_DEAL_STAGES),
    },
    "salesforce": {
        "person_fields": ("text", sf.DEFAULT_PERSON_FIELDS),
        "lead_statuses": ("decision", sf.DEFAULT_LEAD_STATUSES),
        "opportunity_stages": ("text", sf.DEFAULT_OPPORTUNITY_STAGES),
        "opportunity_lead_field": ("text", sf.DEFAULT_OPPORTUNITY_LEAD_FIELD),
    },
    # The board's columns are fixed (docs/monday.md): nothing to override.
    "monday": {},
}


def defaults(connector: str) -> dict[str, Any]:
    return {key: default for key, (_, default) in TABLES[connector].items()}


def _value_problem(kind: str, value: str) -> str | None:
    if kind == "event_type" and value not in EVENT_TYPES:
        return f"{value!r} is not a Tandem event type"
    if kind == "channel" and value not in CHANNELS:
        return f"{value!r} is not a channel ({', '.join(CHANNELS)})"
    if kind == "decision":
        decision, _, reason = value.partition(":")
        if decision not in DECISIONS:
            return f"{value!r}: a decision is one of {', '.join(DECISIONS)}"
        if decision in NEEDS_REASON and not reason:
            return f"{value!r}: {decision} needs a reason, written {decision}:REASON"
    if not value:
        return "must not be empty"
    return None


def override_problems(connector: str, overrides: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(path, problem) for every entry that cannot be used; [] when all is well."""
    tables = TABLES[connector]
    problems: list[tuple[str, str]] = []
    for key, value in overrides.items():
        if key not in tables:
            problems.append((key, f"not a {connector} mapping ({', '.join(tables)})"))
            continue
        kind, default = tables[key]
        if isinstance(default, str):
            if not isinstance(value, str):
                problems.append((key, "must be a string"))
            continue
        if not isinstance(value, dict):
            problems.append((key, "must be an object of name → value (null removes a default)"))
            continue
        for name, target in value.items():
            if target is None:
                continue
            problem = (
                "must be a string or null"
                if not isinstance(target, str)
                else _value_problem(kind, target)
            )
            if problem:
                problems.append((f"{key}.{name}", problem))
    return problems
