"""SPEC 17 through GraphQL: a lost and a won deal answer the three post-mortem questions
with their evidence; `postMortems` and the weekly review set them side by side."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Platform
from tests.integration.test_alignment import create_content, ev
from tests.integration.test_graphql_api import codes, data_of, errors_of

POST_MORTEM = """query($id: ID!) { dealPostMortem(opportunityId: $id) {
    opportunityId leadId status amount lostReason
    qualification { fitAtMql { score grade } fitAtOpportunity { score grade } sla slaMet }
    content { byStage { stage contentIds } gaps }
    messaging {
        objections { category answeredBy } answered messagesUsed objectionResponsesUsed
        objectionResponsesAvailable
    }
} }"""
SUMMARY = "deals mqlShare slaMetRate objectionsPerDeal answeredRate gapRate { stage value }"
COMPARISON = f"""query {{
    postMortems(from: "2026-11-09T00:00:00Z", to: "2026-11-16T00:00:00Z") {{
        won {{ {SUMMARY} }} lost {{ {SUMMARY} }}
    }}
    weeklyReview(weekStart: "2026-11-09") {{
        closedPostMortems {{ won {{ {SUMMARY} }} lost {{ {SUMMARY} }} }}
    }}
}}"""


async def objection_response(platform: Platform, key: str) -> str:
    created = await data_of(
        platform,
        key,
        'mutation { createMessage(input: {kind: OBJECTION_RESPONSE, text: "Pays back in a'
        ' quarter"}) { id } }',
    )
    message_id = str(created["createMessage"]["id"])
    await data_of(
        platform,
        key,
        "mutation($id: ID!) { approveMessage(id: $id) { status } }",
        {"id": message_id},
    )
    return message_id


def deals(tofu: str, bofu: str, answer: str) -> list[dict[str, Any]]:
    lost, won = "L-pm-lost", "L-pm-won"
    return [
        ev("pl1", "content_download", "2026-11-03T09:00:00Z", lost, content_id=tofu),
        ev("pl2", "demo_request", "2026-11-03T10:00:00Z", lost, channel="paid_search"),
        ev("pl3", "sales_email", "2026-11-03T12:00:00Z", lost),
        ev("pl4", "lead_accepted", "2026-11-05T09:00:00Z", lost),
        ev(
            "pl5",
            "opportunity_created",
            "2026-11-05T12:00:00Z",
            lost,
            properties={"opportunity_id": "O-pm-lost", "amount": 1000},
        ),
        ev(
            "pl6",
            "objection_logged",
            "2026-11-06T09:00:00Z",
            lost,
            properties={"category": "price"},
        ),
        ev("pl7", "sales_email", "2026-11-07T09:00:00Z", lost, message_id=answer),
        ev(
            "pl8",
            "deal_lost",
            "2026-11-10T09:00:00Z",
            lost,
            properties={"opportunity_id": "O-pm-lost", "reason": "price"},
        ),
        ev("pw1", "demo_request", "2026-11-03T10:00:00Z", won, channel="webinar"),
        # Answered 26 hours after the MQL: the 24-hour SLA is missed.
        ev("pw2", "sales_call", "2026-11-04T12:00:00Z", won),
        ev(
            "pw3",
            "opportunity_created",
            "2026-11-05T12:00:00Z",
            won,
            properties={"opportunity_id": "O-pm-won", "amount": 500},
        ),
        ev("pw4", "content_shared", "2026-11-06T12:00:00Z", won, properties={"content_id": bofu}),
        ev(
            "pw5",
            "deal_won",
            "2026-11-11T09:00:00Z",
            won,
            properties={"opportunity_id": "O-pm-won", "amount": 650},
        ),
    ]


@pytest.mark.integration
async def test_post_mortems_of_a_lost_and_a_won_deal(platform: Platform) -> None:
    tenant, admin = await platform.create_tenant("post-mortem")
    viewer = await platform.api_key(tenant, "viewer")
    tofu = await create_content(platform, admin, "guide", "TOFU", [])
    bofu = await create_content(platform, admin, "roi", "BOFU", ["price"])
    answer = await objection_response(platform, admin)
    events = deals(tofu, bofu, answer)
    await platform.post_events(admin, events)
    await platform.wait_events(tenant, len(events))

    lost = (await data_of(platform, viewer, POST_MORTEM, {"id": "O-pm-lost"}))["dealPostMortem"]
    assert lost == {
        "opportunityId": "O-pm-lost",
        "leadId": "L-pm-lost",
        "status": "LOST",
        "amount": 1000.0,
        "lostReason": "price",
        "qualification": {
            "fitAtMql": {"score": 0, "grade": "D"},
            "fitAtOpportunity": {"score": 0, "grade": "D"},
            "sla": "WITHIN",
            "slaMet": True,
        },
        "content": {
            "byStage": [
                {"stage": "TOFU", "contentIds": [tofu]},
                {"stage": "MOFU", "contentIds": []},
                {"stage": "BOFU", "contentIds": []},
            ],
            "gaps": ["MOFU", "BOFU"],
        },
        "messaging": {
            "objections": [{"category": "price", "answeredBy": [answer]}],
            "answered": 1,
            "messagesUsed": [answer],
            "objectionResponsesUsed": [answer],
            "objectionResponsesAvailable": 1,
        },
    }
    won = (await data_of(platform, viewer, POST_MORTEM, {"id": "O-pm-won"}))["dealPostMortem"]
    assert (won["status"], won["amount"]) == ("WON", 650.0)
    assert won["qualification"]["sla"] == "LATE" and won["qualification"]["slaMet"] is False
    assert won["content"]["gaps"] == ["TOFU", "MOFU"]
    assert won["messaging"]["objections"] == []

    missing = await errors_of(platform, viewer, POST_MORTEM, {"id": "O-nope"})
    assert codes(missing) == {"NOT_FOUND"}

    answer_data = await data_of(platform, viewer, COMPARISON)
    comparison = answer_data["postMortems"]
    assert (comparison["won"]["deals"], comparison["lost"]["deals"]) == (1, 1)
    assert (comparison["won"]["slaMetRate"], comparison["lost"]["slaMetRate"]) == (0.0, 1.0)
    assert comparison["lost"]["answeredRate"] == 1.0
    assert comparison["won"]["answeredRate"] is None
    assert {g["stage"]: g["value"] for g in comparison["won"]["gapRate"]} == {
        "TOFU": 1.0,
        "MOFU": 1.0,
        "BOFU": 0.0,
    }
    assert answer_data["weeklyReview"]["closedPostMortems"] == comparison
