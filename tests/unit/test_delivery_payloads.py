"""Webhook bodies (services/delivery/payloads.py) against their published schemas, and the
Slack rendering of each."""

from __future__ import annotations

import json
from pathlib import Path

import fastjsonschema
import orjson

from services.delivery import events, payloads
from shared.webhooks import WEBHOOK_EVENT_TYPES
from tests.unit.delivery_samples import AT, LEAD_ROW, transition

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "webhooks"


def _bodies() -> list[tuple[str, dict[str, object]]]:
    lead = payloads.lead_object("L-1", LEAD_ROW, "http://x")
    found: list[tuple[events.Occurrence, dict[str, object]]] = []
    for o in events.from_transition(transition("MQL"), AT):
        found.append((o, payloads.data_of(o, lead)))
    for o in events.from_transition(transition("CUSTOMER"), AT):
        opp = {
            "id": "o-1",
            "amount": 10.0,
            "won_amount": 12.0,
            "lost_reason": None,
            "competitor": None,
            "closed_at": AT.isoformat(),
        }
        found.append((o, payloads.data_of(o, lead, opportunity=opp)))
    for o in events.from_transition(transition("CLOSED_LOST"), AT):
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
