"""The pure parts of the delivery service: signatures, URL policy, backoff, event ids and
the bodies against their published schemas."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fastjsonschema
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.delivery import events, payloads
from services.delivery.retry import backoff_s, next_attempt_at
from shared.webhooks import (
    WEBHOOK_EVENT_TYPES,
    UrlPolicy,
    UrlRefused,
    check_address,
    check_syntax,
    check_url,
    signature,
    verify,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "webhooks"
AT = datetime(2026, 11, 20, tzinfo=UTC)
LOOPBACK = UrlPolicy(allow_loopback=True)


def test_signature_is_the_stripe_scheme() -> None:
    # HMAC-SHA256 of "t.body", hex, as `t=<unix>,v1=<hex>`.
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1_700_000_000, body) == f"t=1700000000,v1={expected}"


@given(st.binary(max_size=200), st.text(min_size=1, max_size=20))
def test_signature_verifies_only_the_same_body_and_secret(body: bytes, secret: str) -> None:
    header = signature(secret, 1_000, body)
    assert verify(secret, header, body, now=1_010)
    assert not verify(secret + "x", header, body, now=1_010)
    assert not verify(secret, header, body + b"x", now=1_010)
    assert not verify(secret, header, body, now=1_000 + 301)  # too old: a replay


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "http:///path",
        "https://user:pw@example.com/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "javascript:alert(1)",
    ],
)
def test_malformed_or_metadata_urls_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_syntax(url)


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.5.5",
        "fe80::1",
        "fd00::1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_private_link_local_and_metadata_addresses_are_refused(address: str) -> None:
    with pytest.raises(UrlRefused):
        check_address(address, LOOPBACK)


def test_loopback_only_when_allowed() -> None:
    with pytest.raises(UrlRefused):
        check_address("127.0.0.1", UrlPolicy())
    check_address("127.0.0.1", LOOPBACK)
    check_address("::1", LOOPBACK)
    check_address("10.1.2.3", UrlPolicy(allow_private=True))
    check_address("93.184.216.34", UrlPolicy())


async def test_literal_addresses_are_checked_after_resolution() -> None:
    with pytest.raises(UrlRefused):
        await check_url("http://169.254.169.254/latest", LOOPBACK)
    with pytest.raises(UrlRefused):
        await check_url("http://localhost:9/x", UrlPolicy())
    await check_url("http://127.0.0.1:9/x", LOOPBACK)


@given(st.integers(1, 60), st.integers(0, 2**32))
def test_backoff_grows_exponentially_within_jitter_and_cap(attempt: int, seed: int) -> None:
    wait = backoff_s(attempt, 10, 3600, random.Random(seed))
    ceiling = min(3600, 10 * 2 ** (attempt - 1))
    assert ceiling / 2 <= wait <= ceiling


def test_retries_stop_after_the_window() -> None:
    rand = random.Random(1)
    created = AT
    assert next_attempt_at(1, created, AT, base_s=10, max_s=3600, window_s=86400, rand=rand)
    late = created + timedelta(hours=23, minutes=59)
    assert (
        next_attempt_at(30, created, late, base_s=10, max_s=3600, window_s=86400, rand=rand) is None
    )


def _transition(to_stage: str, ordinal: int = 2) -> dict[str, object]:
    return {
        "tenant_id": "acme",
        "lead_id": "L-1",
        "ordinal": ordinal,
        "from_stage": "ENGAGED",
        "to_stage": to_stage,
        "at": AT.isoformat(),
        "event_id": "e-9",
        "reason": "fast track",
    }


def test_ids_depend_on_the_source_fact_only() -> None:
    first = events.from_transition(_transition("MQL"), AT)
    again = events.from_transition(_transition("MQL"), AT + timedelta(minutes=5))
    assert [o.type.value for o in first] == ["lead.stage_changed", "lead.mql"]
    assert [o.id for o in first] == [o.id for o in again]  # a re-read is the same event
    assert len({o.id for o in first}) == 2
    other = events.from_transition(_transition("MQL", ordinal=3), AT)
    assert {o.id for o in other}.isdisjoint(o.id for o in first)
    assert events.delivery_id("acme", "wh_1", first[0].id) != events.delivery_id(
        "acme", "wh_2", first[0].id
    )


def test_deals_and_alerts() -> None:
    won = events.from_transition(_transition("CUSTOMER"), AT)
    assert [o.type.value for o in won] == ["lead.stage_changed", "deal.won"]
    lost = events.from_transition(_transition("CLOSED_LOST"), AT)
    assert [o.type.value for o in lost] == ["lead.stage_changed", "deal.lost"]
    assert events.from_alert({"type": "other"}, AT) == []


@pytest.mark.parametrize(
    ("previous", "score", "threshold", "fires"),
    [(None, 9, 10, False), (None, 10, 10, True), (40, 49, 10, False), (40, 30, 10, True)],
)
def test_score_threshold(previous: int | None, score: int, threshold: int, fires: bool) -> None:
    assert events.score_change(previous, score, threshold) is fires


LEAD_ROW = {
    "stage": "MQL",
    "fit_score": 50,
    "fit_grade": "B",
    "engagement_score": 30,
    "score": 80,
    "matrix": "B2",
    "mql_at": AT,
}


def _bodies() -> list[tuple[str, dict[str, object]]]:
    lead = payloads.lead_object("L-1", LEAD_ROW, "http://x")
    found: list[tuple[events.Occurrence, dict[str, object]]] = []
    for o in events.from_transition(_transition("MQL"), AT):
        found.append((o, payloads.data_of(o, lead)))
    for o in events.from_transition(_transition("CUSTOMER"), AT):
        opp = {
            "id": "o-1",
            "amount": 10.0,
            "won_amount": 12.0,
            "lost_reason": None,
            "competitor": None,
            "closed_at": AT.isoformat(),
        }
        found.append((o, payloads.data_of(o, lead, opportunity=opp)))
    for o in events.from_transition(_transition("CLOSED_LOST"), AT):
        found.append((o, payloads.data_of(o, lead, opportunity=None)))
    state = {
        "tenant_id": "acme",
        "lead_id": "L-1",
        "previous_stage": "ENGAGED",
        "stage": "MQL",
        "fit_score": 50,
        "engagement_score": 30,
        "score": 80,
        "matrix": "B2",
        "at": AT.isoformat(),
    }
    for o in events.from_lead_state(state, AT):
        found.append((o, payloads.data_of(o, lead, previous_score=60)))
    alert = {
        "id": "acme:L-1:RESPONSE:x",
        "type": "sla_breach",
        "tenant_id": "acme",
        "lead_id": "L-1",
        "kind": "RESPONSE",
        "mql_at": AT.isoformat(),
        "deadline": AT.isoformat(),
        "detected_at": AT.isoformat(),
    }
    for o in events.from_alert(alert, AT):
        found.append((o, payloads.data_of(o, lead)))
    item = {
        "id": "a-1",
        "title": "Fix <routing> & SLAs",
        "owner": "kim",
        "team": "SALES",
        "due_date": "2026-11-18",
        "status": "OPEN",
        "week_start": "2026-11-16",
    }
    o = events.from_action_item("acme", item, AT)
    found.append((o, payloads.data_of(o, None)))
    wins = {
        "deals_won": [
            {
                "opportunity_id": "o-1",
                "lead_id": "L-1",
                "amount": 1500.0,
                "closed_at": AT,
                "campaigns": ["autumn <webinar>"],
                "content": [{"content_id": "c-1", "title": "ROI & pricing"}],
            }
        ],
        "top_campaign": {"campaign_id": "autumn", "pipeline": 9000.0, "opportunities": 3},
        "fastest_responses": [{"lead_id": "L-2", "mql_at": AT, "responded_at": AT, "hours": 0.5}],
    }
    o = events.from_wins("acme", "2026-11-09", wins, AT)
    found.append((o, payloads.data_of(o, None)))
    return [(o.type.value, orjson.loads(payloads.envelope(o, d, AT))) for o, d in found] + [
        (o.type.value + "/slack", orjson.loads(payloads.slack_message(o, d))) for o, d in found
    ]


def test_every_type_has_a_schema_and_bodies_match_it() -> None:
    bodies = _bodies()
    assert {t for t, _ in bodies if "/" not in t} == set(WEBHOOK_EVENT_TYPES)
    for event_type, body in bodies:
        if event_type.endswith("/slack"):
            assert body["blocks"][0]["type"] == "header"
            assert "&lt;routing&gt;" in json.dumps(body) or "action_item" not in event_type
            continue
        schema = json.loads((SCHEMAS / f"{event_type}.schema.json").read_text())
        fastjsonschema.compile(schema)(body)


def test_crm_values_follow_each_vendors_types() -> None:
    from services.delivery.crm import DEFAULT_FIELD_MAPS, values_of

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
    from services.delivery.crm import changed

    current = {"a": "1", "b": "2"}
    assert changed(None, current) == current
    assert changed({"a": "1", "b": "2"}, current) == {}
    assert changed({"a": "1", "b": "3"}, current) == {"b": "2"}
    assert changed({"a": "1"}, current) == {"b": "2"}  # a property mapped since


def test_crm_retry_after_is_bounded() -> None:
    import httpx

    from services.delivery.crm import MAX_WAIT_S, retry_after_s

    def answer(headers: dict[str, str]) -> httpx.Response:
        return httpx.Response(429, headers=headers)

    assert retry_after_s(answer({"Retry-After": "3"}), 10) == 3
    assert retry_after_s(answer({}), 10) == 10
    assert retry_after_s(answer({"Retry-After": "soon"}), 10) == 10
    assert retry_after_s(answer({"Retry-After": "86400"}), 10) == MAX_WAIT_S
