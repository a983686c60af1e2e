"""The bytes a webhook receives: the documented JSON envelope (schemas/webhooks/), or a
Slack Block Kit message for subscriptions that asked for the Slack format."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson

from services.delivery.events import LEAD_FIELDS, SCHEMA_VERSION, EventType, Occurrence

# The team that owes an MQL its answer (SPEC 7: every response type is a sales action).
SLA_OWNER_TEAM = "SALES"


def lead_url(public_url: str, lead_id: str) -> str:
    return f"{public_url}/app/#/leads/{quote(lead_id, safe='')}"


def lead_object(lead_id: str, state: dict[str, Any] | None, public_url: str) -> dict[str, Any]:
    """The lead as its event's message (or else the read model) has it; only its id when
    neither knows it (yet)."""
    doc: dict[str, Any] = {"id": lead_id, "url": lead_url(public_url, lead_id)}
    if state is not None:
        doc.update((k, state[k]) for k in LEAD_FIELDS)
    return doc


def data_of(
    event: Occurrence,
    lead: dict[str, Any] | None,
    *,
    previous_score: int | None = None,
    opportunity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The event's `data` member, by type (see schemas/webhooks/<type>.schema.json)."""
    facts = event.facts
    if event.type is EventType.ACTION_ITEM_DUE:
        return {"action_item": facts["action_item"]}
    if event.type is EventType.REVIEW_WINS:
        return {"week_start": facts["week_start"], "wins": facts["wins"]}
    data: dict[str, Any] = {"lead": lead}
    if event.type is EventType.LEAD_SCORE_CHANGED:
        data.update(facts, previous_score=previous_score)
    elif event.type is EventType.SLA_BREACHED:
        data.update(facts, owner_team=SLA_OWNER_TEAM)
    elif event.type in (EventType.DEAL_WON, EventType.DEAL_LOST):
        data.update(facts, opportunity=opportunity)
    else:
        data.update(facts)
    return data


def envelope(event: Occurrence, data: dict[str, Any], created_at: datetime) -> bytes:
    return orjson.dumps(
        {
            "id": event.id,
            "type": event.type.value,
            "schema_version": SCHEMA_VERSION,
            "created_at": created_at.isoformat(),
            "tenant_id": event.tenant_id,
            "data": data,
        }
    )


_TITLES = {
    EventType.LEAD_STAGE_CHANGED: "Lead changed stage",
    EventType.LEAD_MQL: "New MQL",
    EventType.LEAD_SCORE_CHANGED: "Lead score changed",
    EventType.SLA_BREACHED: "SLA breached",
    EventType.DEAL_WON: "Deal won",
    EventType.DEAL_LOST: "Deal lost",
    EventType.ACTION_ITEM_DUE: "Action item due",
    EventType.REVIEW_WINS: "Wins to celebrate",
}


def _mrkdwn(text: str) -> str:
    # Slack's three control characters; everything else shows as typed.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def win_fields(wins: dict[str, Any]) -> list[tuple[str, str]]:
    """The week's wins as Slack fields, in plain words."""
    fields = []
    for deal in wins["deals_won"][:6]:
        journey = [*deal["campaigns"][:3], *(c["title"] for c in deal["content"][:3])]
        via = f", via {', '.join(journey)}" if journey else ""
        fields.append(
            (
                f"Won {deal['opportunity_id']}",
                f"{deal['amount']:,.0f} with lead {deal['lead_id']}{via}",
            )
        )
    if not wins["deals_won"]:
        fields.append(("Deals won", "none yet this week"))
    top = wins["top_campaign"]
    if top is not None:
        fields.append(("Most pipeline sourced", f"{top['campaign_id']}: {top['pipeline']:,.0f}"))
    for fast in wins["fastest_responses"][:2]:
        fields.append(("Fast response", f"lead {fast['lead_id']} in {fast['hours']:.1f} h"))
    return fields


def slack_message(event: Occurrence, data: dict[str, Any]) -> bytes:
    """A Block Kit message: a header, the facts as fields, and a button to the lead."""
    title = _TITLES[event.type]
    fields: list[tuple[str, str]] = []
    lead = data.get("lead") or {}
    if event.type is EventType.ACTION_ITEM_DUE:
        item = data["action_item"]
        fields += [
            ("Action item", item["title"]),
            ("Owner", f"{item['owner']} ({item['team']})"),
            ("Due", str(item["due_date"])),
            ("Status", item["status"]),
        ]
        summary = f"{title}: {item['title']} (due {item['due_date']})"
    elif event.type is EventType.REVIEW_WINS:
        fields += win_fields(data["wins"])
        summary = f"{title}, week of {data['week_start']}"
    else:
        fields.append(("Lead", lead.get("id", "")))
        fields.append(("Stage", str(lead.get("stage") or data.get("to_stage") or "unknown")))
        if event.type is EventType.SLA_BREACHED:
            fields += [
                ("Owner team", data["owner_team"]),
                ("Missed", f"{data['kind'].lower()} deadline {data['deadline']}"),
            ]
        elif event.type is EventType.LEAD_SCORE_CHANGED:
            fields.append(("Score", f"{data['previous_score'] or 0} → {data['score']}"))
        elif event.type in (EventType.DEAL_WON, EventType.DEAL_LOST):
            opp = data.get("opportunity") or {}
            fields.append(("Opportunity", str(opp.get("id", "unknown"))))
            fields.append(("Amount", str(opp.get("won_amount") or opp.get("amount") or "")))
        else:
            fields.append(("From", str(data.get("from_stage") or "new")))
        if "fit_grade" in lead:
            fields.append(("Grade / matrix", f"{lead['fit_grade']} / {lead['matrix']}"))
        summary = f"{title}: lead {lead.get('id', '')}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{_mrkdwn(value)}"} for name, value in fields
            ][:10],  # Slack's limit of fields per section
        },
    ]
    if "url" in lead:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open lead"},
                        "url": lead["url"],
                    }
                ],
            }
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Tandem · `{event.id}`"}]}
    )
    return orjson.dumps({"text": _mrkdwn(summary), "blocks": blocks})
