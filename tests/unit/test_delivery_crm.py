"""What the CRM sync writes and when it waits (services/delivery/crm_sync.py)."""

from __future__ import annotations

import httpx

from services.delivery.crm_sync import (
    DEFAULT_FIELD_MAPS,
    MAX_WAIT_S,
    changed,
    retry_after_s,
    values_of,
)
from tests.unit.delivery_samples import AT, LEAD_ROW


def test_crm_values_follow_each_vendors_types() -> None:
    lead = {**LEAD_ROW, "mql_at": AT}
    hubspot = values_of(lead, DEFAULT_FIELD_MAPS["hubspot"], "hubspot")
    assert hubspot == {
        "tandem_stage": "MQL",
        "tandem_fit_score": "50",
        "tandem_fit_grade": "B",
        "tandem_engagement_score": "30",
        "tandem_matrix": "B2",
        "tandem_mql_at": "2026-11-20T00:00:00Z",
    }
    salesforce = values_of({**lead, "mql_at": None}, DEFAULT_FIELD_MAPS["salesforce"], "salesforce")
    assert salesforce["Tandem_Fit_Score__c"] == 50
    assert salesforce["Tandem_MQL_Time__c"] is None
    assert values_of({**lead, "mql_at": None}, {"mql_at": "m"}, "hubspot") == {"m": ""}


def test_crm_sends_only_what_changed() -> None:
    current = {"a": "1", "b": "2"}
    assert changed(None, current) == current
    assert changed({"a": "1", "b": "2"}, current) == {}
    assert changed({"a": "1", "b": "3"}, current) == {"b": "2"}
    assert changed({"a": "1"}, current) == {"b": "2"}  # a property mapped since


def test_crm_retry_after_is_bounded() -> None:
    def answer(headers: dict[str, str]) -> httpx.Response:
        return httpx.Response(429, headers=headers)

    assert retry_after_s(answer({"Retry-After": "3"}), 10) == 3
    assert retry_after_s(answer({}), 10) == 10
    assert retry_after_s(answer({"Retry-After": "soon"}), 10) == 10
    assert retry_after_s(answer({"Retry-After": "86400"}), 10) == MAX_WAIT_S
