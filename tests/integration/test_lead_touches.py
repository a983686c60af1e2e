"""`leadTouches`: a lead's marketing touches through the real gateway, Kafka and worker, in
time order page by page, stitched anonymous touches included, other events and other leads'
and tenants' touches left out."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.conftest import Platform

QUERY = """query ($lead: ID!, $first: Int, $after: String) {
  leadTouches(leadId: $lead, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { eventId type occurredAt channel campaignId contentId stitched } }
  }
}"""


def event(event_id: str, type_: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "occurred_at": f"2026-11-{at}Z", **fields}


EVENTS = [
    event("t-1", "page_view", "02T09:00:00.000", anonymous_id="anon-1", channel="referral"),
    event("t-2", "identify", "03T09:00:00.000", lead_id="L-1", anonymous_id="anon-1"),
    event(
        "t-3",
        "email_click",
        "04T09:00:00.000",
        lead_id="L-1",
        channel="email",
        campaign_id="c-9",
        content_id="k-1",
    ),
    event("t-4", "sales_call", "05T09:00:00.000", lead_id="L-1"),
    event("t-5", "form_submit", "06T09:00:00.000", lead_id="L-1", channel="webinar"),
    event("t-6", "webinar_attended", "06T09:00:00.000", lead_id="L-1"),
    event("t-7", "ad_click", "07T09:00:00.000", lead_id="L-2", channel="paid_search"),
]


async def touches(platform: Platform, key: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        answer = await client.post(
            "/graphql", json={"query": QUERY, "variables": variables}, headers={"X-API-Key": key}
        )
    return dict(answer.json())


async def test_a_leads_touches_page_by_page_in_time_order(platform: Platform) -> None:
    slug, key = await platform.create_tenant("touches")
    other_slug, other_key = await platform.create_tenant("touches-other")
    await platform.post_events(key, EVENTS)
    await platform.post_events(other_key, [event("o-1", "page_view", "02T09:00:00.000",
                                                 lead_id="L-1", channel="email")])  # fmt: skip
    await platform.wait_events(slug, len(EVENTS))
    await platform.wait_events(other_slug, 1)

    async def stitched() -> bool:
        answer = await touches(platform, key, {"lead": "L-1"})
        return bool(answer["data"]["leadTouches"]["totalCount"] == 4)

    await platform.wait_for(stitched, 60, "the anonymous page view stitched to L-1")

    first = (await touches(platform, key, {"lead": "L-1", "first": 3}))["data"]["leadTouches"]
    assert first["totalCount"] == 4
    assert first["pageInfo"]["hasNextPage"] is True
    nodes = [e["node"] for e in first["edges"]]
    assert [n["eventId"] for n in nodes] == ["t-1", "t-3", "t-5"]
    assert nodes[0] == {
        "eventId": "t-1", "type": "page_view", "occurredAt": "2026-11-02T09:00:00.000Z",
        "channel": "referral", "campaignId": None, "contentId": None, "stitched": True,
    }  # fmt: skip
    assert nodes[1]["campaignId"] == "c-9" and nodes[1]["contentId"] == "k-1"
    assert nodes[1]["stitched"] is False

    after = first["pageInfo"]["endCursor"]
    rest = (await touches(platform, key, {"lead": "L-1", "first": 3, "after": after}))["data"]
    page = rest["leadTouches"]
    # Same time as t-5: after it by arrival.
    assert [e["node"]["eventId"] for e in page["edges"]] == ["t-6"]
    assert page["pageInfo"]["hasNextPage"] is False

    # Another tenant's lead of the same id has only its own touch; an unknown lead none.
    theirs = (await touches(platform, other_key, {"lead": "L-1"}))["data"]["leadTouches"]
    assert [e["node"]["eventId"] for e in theirs["edges"]] == ["o-1"]
    unknown = (await touches(platform, key, {"lead": "L-404"}))["data"]["leadTouches"]
    assert unknown["edges"] == [] and unknown["totalCount"] == 0

    refused = await touches(platform, key, {"lead": "L-1", "after": "bm90LWEtY3Vyc29y"})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    too_many = await touches(platform, key, {"lead": "L-1", "first": 501})
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
