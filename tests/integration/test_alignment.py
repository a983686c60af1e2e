"""The alignment workflows (SPEC 8) end to end: the messaging library and its roles, action
items, the ingestion check of rejection reasons, a weekly review of a constructed week whose
every section has a known answer, and an ICP review checked against hand-computed lifts."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from services.gateway.auth import KEY_PREFIX
from tests.integration.conftest import Platform
from tests.integration.test_graphql_api import codes, data_of, errors_of

WEEK = "2026-11-09"  # a Monday before the pinned clock (2026-11-20)

MESSAGE_FIELDS = "id kind text status version versions { version status text author }"
CONTENT_FIELDS = "id title status version author versions { version title status author createdAt }"


def ev(event_id: str, type_: str, at: str, lead: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "occurred_at": at, "lead_id": lead, **fields}


async def create_message(platform: Platform, key: str, text: str) -> dict[str, Any]:
    data = await data_of(
        platform,
        key,
        f"mutation($in: MessageInput!) {{ createMessage(input: $in) {{ {MESSAGE_FIELDS} }} }}",
        {"in": {"kind": "VALUE", "text": text, "personas": ["cfo"]}},
    )
    return dict(data["createMessage"])


async def create_content(
    platform: Platform, key: str, title: str, stage: str, objections: list[str]
) -> str:
    data = await data_of(
        platform,
        key,
        """mutation($input: ContentItemInput!) { createContentItem(input: $input) { id } }""",
        {
            "input": {
                "title": title,
                "url": f"https://example.com/{title}",
                "funnelStage": stage,
                "format": "pdf",
                "objections": objections,
            }
        },
    )
    content_id = str(data["createContentItem"]["id"])
    await data_of(
        platform,
        key,
        "mutation($id: ID!) { approveContentItem(id: $id) { status } }",
        {"id": content_id},
    )
    return content_id


async def test_marketing_publishes_messages_and_sales_may_not(platform: Platform) -> None:
    tenant, _ = await platform.create_tenant("align-msg")
    marketing = await platform.api_key(tenant, "marketing")
    sales = await platform.api_key(tenant, "sales")

    created = await create_message(platform, marketing, "Close the books in a day")
    assert (created["status"], created["version"]) == ("DRAFT", 1)
    edited = await data_of(
        platform,
        marketing,
        f"""mutation($id: ID!) {{
            updateMessage(id: $id, input: {{text: "Close the books in an hour"}}) {{ version }}
            approveMessage(id: $id) {{ {MESSAGE_FIELDS} }}
        }}""",
        {"id": created["id"]},
    )
    approved = edited["approveMessage"]
    assert (approved["status"], approved["version"]) == ("APPROVED", 3)
    assert [(v["version"], v["status"], v["text"]) for v in approved["versions"]] == [
        (1, "DRAFT", "Close the books in a day"),
        (2, "DRAFT", "Close the books in an hour"),
        (3, "APPROVED", "Close the books in an hour"),
    ]
    assert all(v["author"] for v in approved["versions"])

    # Sales reads the approved library but cannot write it.
    listed = await data_of(
        platform, sales, "{ messages(status: APPROVED) { edges { node { id text } } } }"
    )
    assert [e["node"]["id"] for e in listed["messages"]["edges"]] == [created["id"]]
    for mutation in (
        """mutation { createMessage(input: {kind: PROOF, text: "x"}) { id } }""",
        f"""mutation {{ approveMessage(id: "{created["id"]}") {{ id }} }}""",
    ):
        assert codes(await errors_of(platform, sales, mutation)) == {"FORBIDDEN"}

    again = await errors_of(
        platform, marketing, f"""mutation {{ approveMessage(id: "{created["id"]}") {{ id }} }}"""
    )
    assert codes(again) == {"BAD_USER_INPUT"}
    missing = await errors_of(
        platform, marketing, """mutation { retireMessage(id: "nope") { id } }"""
    )
    assert codes(missing) == {"NOT_FOUND"}


def author_of(key: str) -> str:
    """Who an API key authenticates as (`key:` and its key id): the author its writes record."""
    return "key:" + key.removeprefix(f"{KEY_PREFIX}_").split("_")[0]


async def test_content_items_keep_a_version_per_write(platform: Platform) -> None:
    tenant, _ = await platform.create_tenant("align-cnt")
    writer = await platform.api_key(tenant, "marketing")
    editor = await platform.api_key(tenant, "marketing")
    sales = await platform.api_key(tenant, "sales")

    create = f"""mutation($in: ContentItemInput!) {{
        createContentItem(input: $in) {{ {CONTENT_FIELDS} }}
    }}"""
    guide = {"title": "ROI guide", "url": "https://x.example/roi", "funnelStage": "MOFU",
             "format": "pdf"}  # fmt: skip
    created = await data_of(platform, writer, create, {"in": guide})
    content_id = created["createContentItem"]["id"]
    assert created["createContentItem"]["version"] == 1
    update = f"""mutation($id: ID!) {{
        updateContentItem(id: $id, input: {{title: "ROI guide 2027"}}) {{ {CONTENT_FIELDS} }}
    }}"""
    updated = (await data_of(platform, editor, update, {"id": content_id}))["updateContentItem"]
    assert (updated["version"], updated["author"]) == (2, author_of(editor))

    # Sales reads the catalog but cannot write it.
    assert codes(await errors_of(platform, sales, update, {"id": content_id})) == {"FORBIDDEN"}

    approve = "mutation($id: ID!) { approveContentItem(id: $id) { id } }"
    await data_of(platform, writer, approve, {"id": content_id})
    retired = await data_of(
        platform,
        editor,
        f"mutation($id: ID!) {{ retireContentItem(id: $id) {{ {CONTENT_FIELDS} }} }}",
        {"id": content_id},
    )
    item = retired["retireContentItem"]
    assert (item["status"], item["version"]) == ("RETIRED", 4)
    versions = item["versions"]
    assert [(v["version"], v["title"], v["status"], v["author"]) for v in versions] == [
        (1, "ROI guide", "DRAFT", author_of(writer)),
        (2, "ROI guide 2027", "DRAFT", author_of(editor)),
        (3, "ROI guide 2027", "APPROVED", author_of(writer)),
        (4, "ROI guide 2027", "RETIRED", author_of(editor)),
    ]
    assert all(v["createdAt"] for v in versions)

    # The refused write left no version behind; sales reads the same history.
    read = await data_of(
        platform,
        sales,
        "query($id: ID!) { contentItem(id: $id) { versions { version status } } }",
        {"id": content_id},
    )
    assert [(v["version"], v["status"]) for v in read["contentItem"]["versions"]] == [
        (1, "DRAFT"), (2, "DRAFT"), (3, "APPROVED"), (4, "RETIRED"),
    ]  # fmt: skip


async def test_sales_creates_and_updates_action_items(platform: Platform) -> None:
    tenant, _ = await platform.create_tenant("align-act")
    sales = await platform.api_key(tenant, "sales")
    viewer = await platform.api_key(tenant, "viewer")
    create = """mutation($input: ActionItemInput!) {
        createActionItem(input: $input) { id title owner team dueDate status weekStart }
    }"""
    item = {"title": "Call back webinar MQLs", "owner": "sam", "team": "SALES",
            "weekStart": WEEK, "dueDate": "2026-11-12"}  # fmt: skip
    created = (await data_of(platform, sales, create, {"input": item}))["createActionItem"]
    assert created["status"] == "OPEN" and created["team"] == "SALES"
    await data_of(
        platform,
        sales,
        "mutation($id: ID!) { updateActionItem(id: $id, input: {status: DONE}) { status } }",
        {"id": created["id"]},
    )
    listed = await data_of(
        platform, viewer, f"""{{ actionItems(weekStart: "{WEEK}") {{ title status }} }}"""
    )
    assert listed["actionItems"] == [{"title": "Call back webinar MQLs", "status": "DONE"}]
    assert codes(await errors_of(platform, viewer, create, {"input": item})) == {"FORBIDDEN"}
    tuesday = {**item, "weekStart": "2026-11-10"}
    assert codes(await errors_of(platform, sales, create, {"input": tuesday})) == {"BAD_USER_INPUT"}


async def test_an_unknown_rejection_reason_is_refused_and_the_rest_accepted(
    platform: Platform,
) -> None:
    tenant, admin = await platform.create_tenant("align-rej")
    batch = [
        ev("r-1", "page_view", "2026-11-10T09:00:00Z", "R-1", channel="email"),
        ev("r-2", "lead_rejected", "2026-11-10T10:00:00Z", "R-1", properties={"reason": "meh"}),
        ev("r-3", "lead_rejected", "2026-11-10T11:00:00Z", "R-1", properties={"reason": "junk"}),
    ]
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        response = await client.post(
            "/v1/events",
            content=orjson.dumps(batch),
            headers={"X-API-Key": admin, "content-type": "application/json"},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2
    [refused] = body["rejected"]
    assert (refused["index"], refused["event_id"]) == (1, "r-2")
    [error] = refused["errors"]
    assert error["field"] == "properties.reason"
    assert "'meh'" in error["reason"] and "junk" in error["reason"]
    await platform.wait_events(tenant, 2)
    stored = await platform.admin.fetch(
        "SELECT event_id FROM events WHERE tenant_id = $1 ORDER BY event_id", tenant
    )
    assert [r["event_id"] for r in stored] == ["r-1", "r-3"]


REVIEW = """query($week: Date!) { weeklyReview(weekStart: $week) {
    from to
    newLeads { channel leads mqls avgFitScore }
    sla { mqls responded withinSla breached pending medianResponseHours }
    stageMoves { opportunityId leadId stage at }
    stalled { opportunityId stage daysStalled }
    topObjections { category count lastWeekCount }
    contentForDeals { opportunityId stage suggestions { contentId matchedObjections } }
    closedDeals { opportunityId won amount reason competitor channel fitGrade }
    closedByChannel { key won lost revenue }
    closedByFitGrade { key won lost revenue }
    actionItems { title }
    wins {
        dealsWon { opportunityId leadId amount campaigns content { contentId } }
        topCampaign { campaignId }
        fastestResponses { leadId hours }
    }
} }"""


@pytest.fixture(scope="module")
async def review_tenant(platform: Platform) -> dict[str, str]:
    tenant, admin = await platform.create_tenant("align-week")
    marketing = await platform.api_key(tenant, "marketing")
    sales = await platform.api_key(tenant, "sales")
    message = await create_message(platform, marketing, "Proof: close in a day")
    await data_of(
        platform,
        marketing,
        "mutation($id: ID!) { approveMessage(id: $id) { id } }",
        {"id": message["id"]},
    )
    bofu = await create_content(platform, marketing, "pricing-guide", "BOFU", [])
    mofu = await create_content(platform, marketing, "case-study", "MOFU", [])
    price = await create_content(platform, marketing, "roi-calculator", "TOFU", ["price"])
    for week, title in ((WEEK, "Call back webinar MQLs"), ("2026-11-02", "an older item")):
        await data_of(
            platform,
            sales,
            "mutation($input: ActionItemInput!) { createActionItem(input: $input) { id } }",
            {"input": {"title": title, "owner": "sam", "team": "SALES", "weekStart": week}},
        )
    events = [
        # New leads of the week: two MQLs answered (3 h and 48 h), one never, one not MQL.
        ev("l1-1", "demo_request", "2026-11-10T09:00:00Z", "L1", channel="paid_search"),
        ev("l1-2", "sales_call", "2026-11-10T12:00:00Z", "L1"),
        ev("l1-3", "objection_logged", "2026-11-12T09:00:00Z", "L1",
           properties={"category": "integration"}),
        ev("l2-1", "demo_request", "2026-11-11T10:00:00Z", "L2", channel="webinar"),
        ev("l2-2", "sales_email", "2026-11-13T10:00:00Z", "L2"),
        ev("l3-1", "page_view", "2026-11-12T08:00:00Z", "L3", channel="paid_search"),
        ev("l3-2", "lead_rejected", "2026-11-12T09:00:00Z", "L3",
           properties={"reason": "no_budget"}),
        ev("l4-1", "demo_request", "2026-11-14T00:00:00Z", "L4", channel="webinar"),
        # D1: an open deal that moved to proposal in the week and raised a price objection.
        ev("d1-1", "page_view", "2026-10-01T00:00:00Z", "D1", channel="email"),
        ev("d1-2", "opportunity_created", "2026-10-02T00:00:00Z", "D1",
           properties={"opportunity_id": "O1", "amount": 1000}),
        ev("d1-3", "opportunity_stage_changed", "2026-11-10T10:00:00Z", "D1",
           properties={"opportunity_id": "O1", "stage": "proposal"}),
        ev("d1-4", "objection_logged", "2026-11-11T09:00:00Z", "D1",
           properties={"category": "price"}),
        ev("d1-5", "competitor_mentioned", "2026-11-11T09:30:00Z", "D1",
           properties={"competitor": "Acme"}),
        # D2: open, stuck in discovery since 2026-10-05, already read the MOFU case study.
        ev("d2-1", "page_view", "2026-10-01T00:00:00Z", "D2", channel="email"),
        ev("d2-2", "opportunity_created", "2026-10-02T00:00:00Z", "D2",
           properties={"opportunity_id": "O2", "amount": 700}),
        ev("d2-3", "content_shared", "2026-10-04T00:00:00Z", "D2",
           properties={"content_id": mofu}),
        ev("d2-4", "opportunity_stage_changed", "2026-10-05T00:00:00Z", "D2",
           properties={"opportunity_id": "O2", "stage": "discovery"}),
        # D3 won in the week; its first touch carried the message and the pricing guide.
        ev("d3-1", "page_view", "2026-10-01T00:00:00Z", "D3", channel="paid_search",
           message_id=message["id"], content_id=bofu),
        ev("d3-2", "opportunity_created", "2026-10-02T00:00:00Z", "D3",
           properties={"opportunity_id": "O3", "amount": 2000}),
        ev("d3-3", "deal_won", "2026-11-12T00:00:00Z", "D3",
           properties={"opportunity_id": "O3", "amount": 2500}),
        # D4 lost in the week to Acme on price, after last week's objections.
        ev("d4-1", "page_view", "2026-10-01T00:00:00Z", "D4", channel="email"),
        ev("d4-2", "opportunity_created", "2026-10-02T00:00:00Z", "D4",
           properties={"opportunity_id": "O4", "amount": 500}),
        ev("d4-3", "objection_logged", "2026-11-03T00:00:00Z", "D4",
           properties={"category": "price"}),
        ev("d4-4", "objection_logged", "2026-11-04T00:00:00Z", "D4",
           properties={"category": "timing"}),
        ev("d4-5", "deal_lost", "2026-11-13T00:00:00Z", "D4",
           properties={"opportunity_id": "O4", "reason": "price", "competitor": "Acme"}),
    ]  # fmt: skip
    await platform.post_events(admin, events)
    await platform.wait_events(tenant, len(events))

    async def credited() -> bool:
        n = await platform.admin.fetchval(
            "SELECT count(*) FROM attribution_credits WHERE tenant_id = $1 AND kind = 'REVENUE'",
            tenant,
        )
        return bool(n)

    await platform.wait_for(credited, what="the win's attribution")
    return {"tenant": tenant, "viewer": await platform.api_key(tenant, "viewer"),
            "message": message["id"], "bofu": bofu, "mofu": mofu, "price": price}  # fmt: skip


async def test_weekly_review_of_a_constructed_week(
    platform: Platform, review_tenant: dict[str, str]
) -> None:
    viewer = review_tenant["viewer"]
    review = (await data_of(platform, viewer, REVIEW, {"week": WEEK}))["weeklyReview"]
    assert (review["from"], review["to"]) == (
        "2026-11-09T00:00:00.000Z",
        "2026-11-16T00:00:00.000Z",
    )
    assert review["newLeads"] == [
        {"channel": "paid_search", "leads": 2, "mqls": 1, "avgFitScore": 0.0},
        {"channel": "webinar", "leads": 2, "mqls": 2, "avgFitScore": 0.0},
    ]
    assert review["sla"] == {"mqls": 3, "responded": 2, "withinSla": 1, "breached": 2,
                             "pending": 0, "medianResponseHours": 25.5}  # fmt: skip
    assert review["stageMoves"] == [
        {"opportunityId": "O1", "leadId": "D1", "stage": "proposal",
         "at": "2026-11-10T10:00:00.000Z"}
    ]  # fmt: skip
    assert review["stalled"] == [{"opportunityId": "O2", "stage": "discovery", "daysStalled": 42}]
    assert review["topObjections"] == [
        {"category": "integration", "count": 1, "lastWeekCount": 0},
        {"category": "price", "count": 1, "lastWeekCount": 1},
    ]
    [deal] = review["contentForDeals"]
    assert (deal["opportunityId"], deal["stage"]) == ("O1", "proposal")
    assert {s["contentId"]: s["matchedObjections"] for s in deal["suggestions"]} == {
        review_tenant["bofu"]: [],
        review_tenant["price"]: ["price"],
    }
    assert review["closedDeals"] == [
        {"opportunityId": "O3", "won": True, "amount": 2500.0, "reason": None,
         "competitor": None, "channel": "paid_search", "fitGrade": "D"},
        {"opportunityId": "O4", "won": False, "amount": 500.0, "reason": "price",
         "competitor": "Acme", "channel": "email", "fitGrade": "D"},
    ]  # fmt: skip
    assert review["closedByChannel"] == [
        {"key": "email", "won": 0, "lost": 1, "revenue": 0.0},
        {"key": "paid_search", "won": 1, "lost": 0, "revenue": 2500.0},
    ]
    assert review["closedByFitGrade"] == [{"key": "D", "won": 1, "lost": 1, "revenue": 2500.0}]
    assert review["actionItems"] == [{"title": "Call back webinar MQLs"}]
    # Wins: D3's deal with the pricing guide its lead read; the MQLs answered, fastest first.
    assert review["wins"] == {
        "dealsWon": [
            {
                "opportunityId": "O3",
                "leadId": "D3",
                "amount": 2500.0,
                "campaigns": [],
                "content": [{"contentId": review_tenant["bofu"]}],
            }
        ],
        "topCampaign": None,
        "fastestResponses": [{"leadId": "L1", "hours": 3.0}, {"leadId": "L2", "hours": 48.0}],
    }

    markdown = await data_of(
        platform, viewer, "query($w: Date!) { weeklyReviewMarkdown(weekStart: $w) }", {"w": WEEK}
    )
    text = markdown["weeklyReviewMarkdown"]
    assert text.startswith("# Weekly review — week of 2026-11-09\n")
    assert "| O2 | D2 | discovery | 700.00 | 42 |" in text
    assert "- Median response: 25.5 h" in text

    wednesday = await errors_of(
        platform, viewer, '{ weeklyReview(weekStart: "2026-11-11") { from } }'
    )
    assert codes(wednesday) == {"BAD_USER_INPUT"}


async def test_feedback_and_influence(platform: Platform, review_tenant: dict[str, str]) -> None:
    viewer = review_tenant["viewer"]
    feedback = await data_of(
        platform,
        viewer,
        """{ feedback(from: "2026-11-02T00:00:00Z", to: "2026-11-16T00:00:00Z", groupBy: WEEK) {
            key rejectionReasons { reason count unknownReason }
            objections { value count } competitors { value count } lostReasons { value count }
        } }""",
    )
    assert feedback["feedback"] == [
        {"key": "2026-11-02", "rejectionReasons": [], "competitors": [], "lostReasons": [],
         "objections": [{"value": "price", "count": 1}, {"value": "timing", "count": 1}]},
        {"key": "2026-11-09",
         "rejectionReasons": [{"reason": "no_budget", "count": 1, "unknownReason": False}],
         "objections": [{"value": "integration", "count": 1}, {"value": "price", "count": 1}],
         "competitors": [{"value": "Acme", "count": 1}],
         "lostReasons": [{"value": "price", "count": 1}]},
    ]  # fmt: skip
    by_channel = await data_of(
        platform,
        viewer,
        """{ feedback(from: "2026-11-09T00:00:00Z", to: "2026-11-16T00:00:00Z",
                      groupBy: CHANNEL) { key lostReasons { value } } }""",
    )
    assert [r["key"] for r in by_channel["feedback"]] == ["email", "paid_search"]

    influence = """query($m: ID!, $c: ID!) {
        message(id: $m) { influence { pipeline revenue wonWith lostWith wonWithout
                                      lostWithout winRateWith winRateWithout } }
        contentItem(id: $c) { influence(model: FIRST_TOUCH) { pipeline revenue winRateWith } }
    }"""
    data = await data_of(
        platform, viewer, influence, {"m": review_tenant["message"], "c": review_tenant["bofu"]}
    )
    assert data["message"]["influence"] == {
        "pipeline": 2000.0, "revenue": 2500.0, "wonWith": 1, "lostWith": 0, "wonWithout": 0,
        "lostWithout": 1, "winRateWith": 1.0, "winRateWithout": 0.0,
    }  # fmt: skip
    assert data["contentItem"]["influence"] == {
        "pipeline": 2000.0,
        "revenue": 2500.0,
        "winRateWith": 1.0,
    }


async def test_icp_review_lifts_match_hand_computed_values(platform: Platform) -> None:
    tenant, admin = await platform.create_tenant("align-icp")
    profiles = {
        "I1": ({"industry": "software", "country": "US", "company_size": 120}, "WON"),
        "I2": ({"industry": "software", "country": "DE", "company_size": 30}, "WON"),
        "I3": ({"industry": "retail", "country": "US", "company_size": 120}, "LOST"),
        "I4": ({"industry": "retail", "country": "US", "company_size": 5000}, "LOST"),
        "I5": ({"industry": "software", "country": "US"}, None),
    }
    events = []
    for lead, (traits, outcome) in profiles.items():
        events.append(ev(f"{lead}-1", "page_view", "2026-11-02T09:00:00Z", lead, channel="email"))
        events.append(
            ev(f"{lead}-2", "lead_updated", "2026-11-02T09:01:00Z", lead,
               properties={"traits": traits})
        )  # fmt: skip
        if outcome is None:
            continue
        opportunity = {"opportunity_id": f"O-{lead}", "amount": 1000}
        events.append(
            ev(f"{lead}-3", "opportunity_created", "2026-11-03T00:00:00Z", lead,
               properties=opportunity)
        )  # fmt: skip
        ref = {"opportunity_id": f"O-{lead}"}
        if outcome == "WON":
            won = {**ref, "amount": 3000 if lead == "I1" else 1000}
            events.append(ev(f"{lead}-4", "deal_won", "2026-11-05T00:00:00Z", lead,
                             properties=won))  # fmt: skip
        else:
            events.append(ev(f"{lead}-4", "deal_lost", "2026-11-05T00:00:00Z", lead,
                             properties={**ref, "reason": "price"}))  # fmt: skip
    await platform.post_events(admin, events)
    await platform.wait_events(tenant, len(events))

    async def closed() -> bool:
        n = await platform.admin.fetchval(
            "SELECT count(*) FROM opportunities WHERE tenant_id = $1 AND status <> 'OPEN'", tenant
        )
        return bool(n == 4)

    await platform.wait_for(closed, what="four closed deals")
    data = await data_of(
        platform,
        admin,
        """{ icpReview(from: "2026-11-01T00:00:00Z", to: "2026-11-08T00:00:00Z") {
            leads winRate
            grades { fitGrade leads opportunityRate winRate avgDeal }
            traits { trait value leads won lost winRate lift }
        } }""",
    )
    icp = data["icpReview"]
    assert (icp["leads"], icp["winRate"]) == (5, 0.5)
    assert icp["grades"] == [
        {"fitGrade": "D", "leads": 5, "opportunityRate": 0.8, "winRate": 0.5, "avgDeal": 2000.0}
    ]
    lifts = {(t["trait"], t["value"]): (t["leads"], t["winRate"], t["lift"]) for t in icp["traits"]}
    # Overall: 2 won of 4 closed = 0.5; a value's lift is its win rate over 0.5.
    assert lifts == {
        ("industry", "software"): (3, 1.0, 2.0),
        ("industry", "retail"): (2, 0.0, 0.0),
        ("country", "US"): (4, pytest.approx(1 / 3), pytest.approx(2 / 3)),
        ("country", "DE"): (1, 1.0, 2.0),
        ("company_size", "51-200"): (2, 0.5, 1.0),
        ("company_size", "11-50"): (1, 1.0, 2.0),
        ("company_size", "1001-5000"): (1, 0.0, 0.0),
    }
