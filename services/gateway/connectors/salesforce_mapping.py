"""Salesforce Change Data Capture events → Tandem events (SPEC 14). Pure.

A change event carries `ChangeEventHeader` (entityName, changeType, changedFields,
nulledFields, recordIds, commitTimestamp, transactionKey, sequenceNumber) and the fields'
new values. Only fields named in changedFields (or nulledFields) of an UPDATE are read; a
CREATE or UNDELETE carries the whole record. Gap events (GAP_*, GAP_OVERFLOW) carry no
values: what they still tell (a Lead or Contact was created) is applied, and every gap is
reported in the answer so the sender can resynchronise those records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from services.gateway.connectors.mapping import (
    Invalid,
    Link,
    ObjectEvent,
    decision,
    merged,
    number,
    utc_from_millis,
)

ENTITIES = ("Lead", "Contact", "Opportunity")
CHANGE_TYPES = ("CREATE", "UPDATE", "DELETE", "UNDELETE")
GAP_TYPES = ("GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW")

# Lead and Contact fields → traits (SPEC 2.2).
DEFAULT_PERSON_FIELDS: dict[str, str] = {
    "Email": "email",
    "FirstName": "first_name",
    "LastName": "last_name",
    "Title": "job_title",
    "Industry": "industry",
    "Country": "country",
    "MailingCountry": "country",
    "Company": "company_name",
    "Website": "company_domain",
    "NumberOfEmployees": "company_size",
    "AnnualRevenue": "annual_revenue",
}
NUMERIC_TRAITS = frozenset({"company_size", "annual_revenue"})
# Lead `Status` → lead decision (Salesforce's default picklist and common additions).
DEFAULT_LEAD_STATUSES: dict[str, str] = {
    "Working - Contacted": "lead_accepted",
    "Working": "lead_accepted",
    "Qualified": "lead_accepted",
    "Nurturing": "lead_rejected:bad_timing",
    "Unqualified": "lead_disqualified:unqualified",
    "Closed - Not Converted": "lead_disqualified:closed_not_converted",
}
# Opportunity `StageName` → "won", "lost", or passed on as the stage.
DEFAULT_OPPORTUNITY_STAGES: dict[str, str] = {"Closed Won": "won", "Closed Lost": "lost"}
DEFAULT_LOST_REASON = "closed_lost_in_salesforce"
# The Opportunity field naming its lead (a Contact id); the link is learned from it.
DEFAULT_OPPORTUNITY_LEAD_FIELD = "ContactId"


@dataclass(frozen=True)
class SalesforceMapping:
    person_fields: Mapping[str, str]
    lead_statuses: Mapping[str, str]
    opportunity_stages: Mapping[str, str]
    opportunity_lead_field: str

    @classmethod
    def for_tenant(cls, overrides: Mapping[str, Any]) -> SalesforceMapping:
        return cls(
            person_fields=merged(DEFAULT_PERSON_FIELDS, overrides, "person_fields"),
            lead_statuses=merged(DEFAULT_LEAD_STATUSES, overrides, "lead_statuses"),
            opportunity_stages=merged(DEFAULT_OPPORTUNITY_STAGES, overrides, "opportunity_stages"),
            opportunity_lead_field=str(
                overrides.get("opportunity_lead_field") or DEFAULT_OPPORTUNITY_LEAD_FIELD
            ),
        )


@dataclass(frozen=True)
class Gap:
    """A gap or overflow event, reported back to the sender."""

    entity: str
    change_type: str
    record_ids: tuple[str, ...]

    def report(self) -> dict[str, Any]:
        return {
            "entityName": self.entity,
            "changeType": self.change_type,
            "recordIds": list(self.record_ids),
        }


Mapped = dict[str, Any] | ObjectEvent | Link | Gap


def _header(message: Mapping[str, Any]) -> Mapping[str, Any]:
    header = message.get("ChangeEventHeader")
    if not isinstance(header, dict):
        raise Invalid("ChangeEventHeader", "must be an object")
    return header


def _strings(header: Mapping[str, Any], key: str) -> list[str]:
    value = header.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(f"ChangeEventHeader.{key}", "must be an array of strings")
    return value


def to_events(message: Mapping[str, Any], mapping: SalesforceMapping) -> list[Mapped]:
    """One change event → Tandem events, object events, links and gaps; [] when nothing in
    it is mapped (ignored)."""
    header = _header(message)
    entity, change = header.get("entityName"), header.get("changeType")
    if entity not in ENTITIES:
        raise Invalid("ChangeEventHeader.entityName", f"must be one of {', '.join(ENTITIES)}")
    if change not in CHANGE_TYPES + GAP_TYPES:
        raise Invalid("ChangeEventHeader.changeType", f"{change!r} is not a CDC change type")
    record_ids = _strings(header, "recordIds")
    if change != "GAP_OVERFLOW" and not record_ids:
        raise Invalid("ChangeEventHeader.recordIds", "names no record")
    occurred_at = utc_from_millis(
        header.get("commitTimestamp"), "ChangeEventHeader.commitTimestamp"
    )
    origin = _origin(header, message)
    out: list[Mapped] = []
    if change in GAP_TYPES:
        out.append(Gap(entity, change, tuple(record_ids)))
        # A created or restored person is known to exist even without its fields.
        if entity != "Opportunity" and change in ("GAP_CREATE", "GAP_UNDELETE"):
            for record in record_ids:
                exists = {"type": "lead_updated", "lead_id": record, "properties": {"traits": {}}}
                base = _base(origin, record, "exists", occurred_at)
                out.append(_of_person(entity, record, {**base, **exists}))
        return out
    if change == "DELETE":
        # Deleting a CRM record does not erase a person's history; erasure is an admin act.
        return []
    whole = change in ("CREATE", "UNDELETE")
    changed = set(_strings(header, "changedFields")) | set(_strings(header, "nulledFields"))
    fields = {
        k: v for k, v in message.items() if k != "ChangeEventHeader" and (whole or k in changed)
    }
    nulled = set(_strings(header, "nulledFields"))
    for name in nulled:
        fields[name] = None
    values = _Change(origin, occurred_at, fields, whole, mapping)
    for record in record_ids:
        if entity == "Opportunity":
            out.extend(_opportunity(values, record))
        else:
            out.extend(_person(values, entity, record))
    return out


def _origin(header: Mapping[str, Any], message: Mapping[str, Any]) -> str:
    key, seq = header.get("transactionKey"), header.get("sequenceNumber")
    if isinstance(key, str) and key and isinstance(seq, int):
        return f"{key}-{seq}"
    digest = hashlib.sha256(orjson.dumps(message, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return digest[:32]


def _base(origin: str, record: str, what: str, occurred_at: str) -> dict[str, Any]:
    return {"event_id": f"sf-{origin}-{record}-{what}", "occurred_at": occurred_at}


@dataclass(frozen=True)
class _Change:
    """The values one CREATE, UPDATE or UNDELETE sets, the same for every record it names."""

    origin: str
    occurred_at: str
    fields: Mapping[str, Any]
    whole: bool  # the whole record (CREATE, UNDELETE), not only the changed fields
    mapping: SalesforceMapping

    def base(self, record: str, what: str) -> dict[str, Any]:
        return _base(self.origin, record, what, self.occurred_at)


def _of_person(entity: str, record: str, event: dict[str, Any]) -> Mapped:
    """An event of a Lead or a Contact, which names the record as its lead. A converted
    lead stays the person's Tandem lead, so a Contact's events go to the lead converted to
    it (its `contact` link), and to the Contact's own id when none was."""
    if entity == "Contact":
        return ObjectEvent("contact", record, event, unlinked_lead=record)
    return event


def _conversion(change: _Change, record: str) -> list[Mapped]:
    """A Lead converted (`ConvertedContactId`) links its contact, and the opportunity the
    conversion opened, to the lead: the journey, its touches and the deal stay one."""
    out: list[Mapped] = []
    for field, object_type in (
        ("ConvertedContactId", "contact"),
        ("ConvertedOpportunityId", "opportunity"),
    ):
        converted = change.fields.get(field)
        if isinstance(converted, str) and converted:
            out.append(Link(object_type, converted, record))
    return out


def _person(change: _Change, entity: str, record: str) -> list[Mapped]:
    out: list[Mapped] = _conversion(change, record) if entity == "Lead" else []
    traits: dict[str, Any] = {}
    for field, value in change.fields.items():
        trait = change.mapping.person_fields.get(field)
        if trait is None:
            continue
        if value is None or value == "":
            traits[trait] = None
        elif trait in NUMERIC_TRAITS:
            converted = number(value, field)
            traits[trait] = int(converted) if trait == "company_size" else converted
        elif trait == "company_domain":
            traits[trait] = (
                str(value).split("://", 1)[-1].split("/", 1)[0].lower().removeprefix("www.")
            )
        else:
            traits[trait] = value
    if traits or change.whole:
        base = change.base(record, "traits")
        event = {**base, "type": "lead_updated", "lead_id": record}
        out.append(_of_person(entity, record, {**event, "properties": {"traits": traits}}))
    status = change.fields.get("Status")
    if isinstance(status, str) and status in change.mapping.lead_statuses:
        spec, base = change.mapping.lead_statuses[status], change.base(record, "status")
        out.append(_of_person(entity, record, decision(spec, record, base)))
    return out


def _opportunity(change: _Change, record: str) -> list[Mapped]:
    out: list[Mapped] = []
    contact = change.fields.get(change.mapping.opportunity_lead_field)
    if isinstance(contact, str) and contact:
        out.append(Link("opportunity", record, contact))
    if change.whole or "Amount" in change.fields:
        amount = change.fields.get("Amount")
        props = {
            "opportunity_id": record,
            "amount": 0 if amount is None else number(amount, "Amount"),
        }
        event = {
            **change.base(record, "amount"),
            "type": "opportunity_created",
            "properties": props,
        }
        out.append(ObjectEvent("opportunity", record, event))
    stage = change.fields.get("StageName")
    if isinstance(stage, str) and stage:
        outcome = change.mapping.opportunity_stages.get(stage, stage)
        base = change.base(record, "stage")
        if outcome == "won":
            event = {**base, "type": "deal_won", "properties": {"opportunity_id": record}}
        elif outcome == "lost":
            reason = change.fields.get("Loss_Reason__c") or DEFAULT_LOST_REASON
            event = {
                **base,
                "type": "deal_lost",
                "properties": {"opportunity_id": record, "reason": str(reason)},
            }
        else:
            event = {
                **base,
                "type": "opportunity_stage_changed",
                "properties": {"opportunity_id": record, "stage": outcome},
            }
        out.append(ObjectEvent("opportunity", record, event))
    return out
