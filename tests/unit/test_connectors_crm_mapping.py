"""HubSpot and Salesforce payloads → Tandem events, the v3 signature, the override checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from services.gateway.connectors.hubspot_mapping import HubSpotMapping, sign, signature_error
from services.gateway.connectors.hubspot_mapping import to_events as hubspot_events
from services.gateway.connectors.mapping import Invalid, Link, ObjectEvent
from services.gateway.connectors.overrides import override_problems
from services.gateway.connectors.salesforce_mapping import Gap, SalesforceMapping
from services.gateway.connectors.salesforce_mapping import to_events as salesforce_events

HS = HubSpotMapping.for_tenant({})
SF = SalesforceMapping.for_tenant({})
NOW_MS = 1_795_082_400_000


def test_v3_signature_is_hubspots_hmac_and_the_window_is_five_minutes() -> None:
    body, uri = b'[{"eventId":1}]', "https://tandem.example/v1/connectors/hubspot/acme"
    expected = base64.b64encode(
        hmac.new(
            b"secret", b"POST" + uri.encode() + body + b"1795082400000", hashlib.sha256
        ).digest()
    ).decode()
    assert sign("secret", "POST", uri, body, "1795082400000") == expected
    check = ("secret", "POST", uri, body)
    assert signature_error(*check, str(NOW_MS), expected, NOW_MS + 299_000) is None
    assert "5 minutes" in str(signature_error(*check, str(NOW_MS), expected, NOW_MS + 301_000))
    assert signature_error(*check, str(NOW_MS), expected[:-2] + "xx", NOW_MS) is not None
    assert signature_error("other", "POST", uri, body, str(NOW_MS), expected, NOW_MS) is not None
    assert signature_error(*check, None, expected, NOW_MS) is not None


def test_a_timestamp_in_seconds_is_named_as_such_not_as_too_old() -> None:
    uri = "https://tandem.example/v1/connectors/hubspot/acme"
    seconds = str(NOW_MS // 1000)
    signature = sign("secret", "POST", uri, b"[]", seconds)
    error = str(signature_error("secret", "POST", uri, b"[]", seconds, signature, NOW_MS))
    assert "epoch seconds" in error and "milliseconds" in error


def _hs(subscription: str, **fields: Any) -> dict[str, Any]:
    return {"eventId": 9, "portalId": 1, "occurredAt": NOW_MS, "subscriptionType": subscription,
            "objectId": 42, **fields}  # fmt: skip


def test_hubspot_contact_changes_become_traits_and_decisions() -> None:
    [created] = hubspot_events(_hs("contact.creation"), HS)
    assert created == {
        "event_id": "hubspot-1-9",
        "occurred_at": "2026-11-19T10:00:00Z",
        "type": "lead_updated",
        "lead_id": "42",
        "properties": {"traits": {}},
    }
    change = _hs("contact.propertyChange", propertyName="numberofemployees", propertyValue="75")
    [trait] = hubspot_events(change, HS)
    assert isinstance(trait, dict) and trait["properties"] == {"traits": {"company_size": 75}}
    status = _hs(
        "contact.propertyChange", propertyName="hs_lead_status", propertyValue="BAD_TIMING"
    )
    [rejected] = hubspot_events(status, HS)
    assert isinstance(rejected, dict)
    assert (rejected["type"], rejected["properties"]) == ("lead_rejected", {"reason": "bad_timing"})
    unmapped = _hs("contact.propertyChange", propertyName="favorite_color", propertyValue="teal")
    assert hubspot_events(unmapped, HS) == []
    with pytest.raises(Invalid):
        hubspot_events({**_hs("contact.creation"), "occurredAt": "soon"}, HS)


def test_hubspot_deals_are_object_events_and_associations_links() -> None:
    [won] = hubspot_events(
        _hs("deal.propertyChange", propertyName="dealstage", propertyValue="closedwon"), HS
    )
    assert isinstance(won, ObjectEvent) and won.event["type"] == "deal_won"
    custom = HubSpotMapping.for_tenant({"deal_stages": {"123456": "won"}})
    [also_won] = hubspot_events(
        _hs("deal.propertyChange", propertyName="dealstage", propertyValue="123456"), custom
    )
    assert isinstance(also_won, ObjectEvent) and also_won.event["type"] == "deal_won"
    [amount] = hubspot_events(
        _hs("deal.propertyChange", propertyName="amount", propertyValue="12.5"), HS
    )
    assert isinstance(amount, ObjectEvent) and amount.event["properties"]["amount"] == 12.5
    association = {
        **_hs("deal.associationChange"),
        "fromObjectId": 7,
        "toObjectId": 42,
        "associationType": "CONTACT_TO_DEAL",
    }
    assert hubspot_events(association, HS) == [Link("deal", "42", "7")]


def _sf(entity: str, change: str, changed: list[str], **fields: Any) -> dict[str, Any]:
    header = {"entityName": entity, "changeType": change, "changedFields": changed,
              "recordIds": ["R1"], "commitTimestamp": NOW_MS, "transactionKey": "tk",
              "sequenceNumber": 1}  # fmt: skip
    return {"ChangeEventHeader": header, **fields}


def test_salesforce_update_reads_only_changed_fields() -> None:
    update = _sf("Lead", "UPDATE", ["Email"], Email="a@b.co", Title="stale")
    [event] = salesforce_events(update, SF)
    assert event == {
        "event_id": "sf-tk-1-R1-traits",
        "occurred_at": "2026-11-19T10:00:00Z",
        "type": "lead_updated",
        "lead_id": "R1",
        "properties": {"traits": {"email": "a@b.co"}},
    }
    nulled = _sf("Contact", "UPDATE", [], Title=None)
    nulled["ChangeEventHeader"]["nulledFields"] = ["Title"]
    [cleared] = salesforce_events(nulled, SF)
    assert isinstance(cleared, ObjectEvent) and cleared.unlinked_lead == "R1"
    assert cleared.event["properties"]["traits"] == {"job_title": None}
    assert salesforce_events(_sf("Lead", "DELETE", []), SF) == []


def test_salesforce_opportunities_links_and_gaps() -> None:
    created = _sf("Opportunity", "CREATE", [], Amount=10, StageName="Closed Lost", ContactId="C")
    out = salesforce_events(created, SF)
    assert out[0] == Link("opportunity", "R1", "C")
    assert [o.event["type"] for o in out[1:] if isinstance(o, ObjectEvent)] == [
        "opportunity_created",
        "deal_lost",
    ]
    gap = salesforce_events(_sf("Lead", "GAP_CREATE", []), SF)
    assert gap[0] == Gap("Lead", "GAP_CREATE", ("R1",))
    assert isinstance(gap[1], dict) and gap[1]["type"] == "lead_updated"
    overflow = _sf("Contact", "GAP_OVERFLOW", [])
    overflow["ChangeEventHeader"]["recordIds"] = []
    assert salesforce_events(overflow, SF) == [Gap("Contact", "GAP_OVERFLOW", ())]
    with pytest.raises(Invalid) as err:
        salesforce_events(_sf("Account", "CREATE", []), SF)
    assert err.value.field == "ChangeEventHeader.entityName"


def test_a_converted_lead_links_its_contact_and_opportunity_to_itself() -> None:
    converted = _sf(
        "Lead",
        "UPDATE",
        ["IsConverted", "ConvertedContactId", "ConvertedOpportunityId", "Status"],
        IsConverted=True,
        ConvertedContactId="003C",
        ConvertedOpportunityId="006O",
        Status="Closed - Converted",
    )
    assert salesforce_events(converted, SF) == [
        Link("contact", "003C", "R1"),
        Link("opportunity", "006O", "R1"),
    ]
    # Converted without an opportunity: the contact alone.
    del converted["ConvertedOpportunityId"]
    assert salesforce_events(converted, SF) == [Link("contact", "003C", "R1")]


def test_a_contacts_events_wait_for_no_link_but_follow_a_conversion() -> None:
    created = _sf("Contact", "CREATE", [], Email="c@d.co", Title="CTO")
    [traits] = salesforce_events(created, SF)
    assert isinstance(traits, ObjectEvent)
    assert (traits.object_type, traits.object_id, traits.unlinked_lead) == ("contact", "R1", "R1")
    assert traits.event["type"] == "lead_updated"
    # A Lead's own events name it directly.
    [lead] = salesforce_events(_sf("Lead", "CREATE", [], Email="c@d.co"), SF)
    assert isinstance(lead, dict) and lead["lead_id"] == "R1"


def test_overrides_are_checked_before_they_are_stored() -> None:
    assert override_problems("segment", {"utm_medium": {"cpc": "paid_search"}}) == []
    assert override_problems("hubspot", {"lead_statuses": {"X": "lead_rejected"}}) == [
        ("lead_statuses.X", "'lead_rejected': lead_rejected needs a reason, written "
         "lead_rejected:REASON"),
    ]  # fmt: skip
    assert override_problems("salesforce", {"nope": {}})[0][0] == "nope"
    assert override_problems("segment", {"utm_medium": {"cpc": "tv"}})[0][0] == "utm_medium.cpc"
