"""The GraphQL the weekly meeting's dashboard needs, end to end through the real gateway,
Kafka and worker: leads as people (search, order, paging to the end), the cohort funnel,
the configuration's history and restore, and the weekly review's deals and carried-over
action items."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Platform
from tests.integration.test_graphql_api import data_of, errors_of

# Twelve people at three companies; the worked example's clock is 2026-11-20.
PEOPLE = [
    ("ada.lovelace", "Ada", "Lovelace", "analytical.io", "CTO"),
    ("grace.hopper", "Grace", "Hopper", "navy.mil", "Rear Admiral"),
    ("alan.turing", "Alan", "Turing", "bletchley.uk", "Cryptanalyst"),
    ("katherine.johnson", "Katherine", "Johnson", "nasa.gov", "Mathematician"),
    ("edsger.dijkstra", "Edsger", "Dijkstra", "analytical.io", "Professor"),
    ("barbara.liskov", "Barbara", "Liskov", "mit.edu", "Professor"),
    ("donald.knuth", "Donald", "Knuth", "stanford.edu", "Professor"),
    ("margaret.hamilton", "Margaret", "Hamilton", "nasa.gov", "Director"),
    ("linus.torvalds", "Linus", "Torvalds", "kernel.org", "Maintainer"),
    ("frances.allen", "Frances", "Allen", "ibm.com", "Fellow"),
    ("john.backus", "John", "Backus", "ibm.com", "Fellow"),
    ("info", None, None, "acme.com", None),  # no name to read: shown by email
]


def _events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i, (local, first, last, domain, title) in enumerate(PEOPLE):
        traits: dict[str, Any] = {"email": f"{local}{i}@{domain}", "company_domain": domain}
        if first:
            traits["first_name"], traits["last_name"] = first, last
        if title:
            traits["job_title"] = title
        lead = f"P{i:03d}"
        day = 2 + i
        events.append(
            {
                "event_id": f"{lead}-1",
                "type": "identify",
                "occurred_at": f"2026-11-{day:02d}T09:00:00Z",
                "lead_id": lead,
                "properties": {"traits": traits},
            }
        )
        # The first six ask for a demo (fast track to MQL); the first three get a deal.
        if i < 6:
            events.append(
                {
                    "event_id": f"{lead}-2",
                    "type": "demo_request",
                    "occurred_at": f"2026-11-{day:02d}T10:00:00Z",
                    "lead_id": lead,
                    "channel": "paid_search",
                }
            )
        # Three more attend a webinar: 12 points, short of MQL under the default model.
        if 6 <= i < 9:
            events.append(
                {
                    "event_id": f"{lead}-2",
                    "type": "webinar_attended",
                    "occurred_at": f"2026-11-{day:02d}T11:00:00Z",
                    "lead_id": lead,
                    "channel": "webinar",
                }
            )
        if i < 3:
            opportunity = f"{lead}-O1"
            events += [
                {
                    "event_id": f"{lead}-3",
                    "type": "opportunity_created",
                    "occurred_at": "2026-11-16T10:00:00Z",
                    "lead_id": lead,
                    "properties": {"opportunity_id": opportunity, "amount": 1000.0 * (i + 1)},
                },
                {
                    "event_id": f"{lead}-4",
                    "type": "opportunity_stage_changed",
                    "occurred_at": "2026-11-17T10:00:00Z",
                    "lead_id": lead,
                    "properties": {"opportunity_id": opportunity, "stage": "discovery"},
                },
                {
                    "event_id": f"{lead}-5",
                    "type": "opportunity_stage_changed",
                    "occurred_at": "2026-11-18T10:00:00Z",
                    "lead_id": lead,
                    "properties": {"opportunity_id": opportunity, "stage": "proposal"},
                },
            ]
    return events


@pytest.fixture(scope="module")
async def people(platform: Platform) -> dict[str, str]:
    tenant, admin = await platform.create_tenant("meet")
    events = _events()
    await platform.post_events(admin, events)
    await platform.wait_events(tenant, len(events))
    viewer = await platform.api_key(tenant, "viewer")
    return {"tenant": tenant, "admin": admin, "viewer": viewer}


PAGE = """query($search: String, $orderBy: LeadOrder, $after: String, $first: Int) {
    leads(search: $search, orderBy: $orderBy, first: $first, after: $after) {
        totalCount
        edges { node { id name email title company score createdAt } }
        pageInfo { hasNextPage endCursor }
    }
}"""


async def _all(platform: Platform, key: str, **variables: Any) -> tuple[int, list[dict[str, Any]]]:
    """Every lead of the query, page by page to the end (two per page)."""
    nodes: list[dict[str, Any]] = []
    after = None
    total = -1
    while True:
        page = (await data_of(platform, key, PAGE, {**variables, "after": after, "first": 2}))[
            "leads"
        ]
        total = page["totalCount"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return total, nodes
        after = page["pageInfo"]["endCursor"]


async def test_a_lead_reads_as_a_person(platform: Platform, people: dict[str, str]) -> None:
    data = await data_of(
        platform,
        people["viewer"],
        '{ a: lead(id: "P000") { name email title company }'
        ' b: lead(id: "P011") { name email company } }',
    )
    assert data["a"] == {
        "name": "Ada Lovelace",
        "email": "ada.lovelace0@analytical.io",
        "title": "CTO",
        "company": "analytical.io",
    }
    assert data["b"] == {"name": None, "email": "info11@acme.com", "company": "acme.com"}


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("P007", {"P007"}),  # id
        ("hopper1@", {"P001"}),  # email
        ("LOVELACE", {"P000"}),  # last name, any case
        ("katherine johnson", {"P003"}),  # full name
        ("analytical.io", {"P000", "P004"}),  # domain
        ("nasa", {"P003", "P007"}),  # part of a domain
        ("100%", set()),  # LIKE's wildcards are plain characters
        ("zzz", set()),
    ],
)
async def test_search_finds_leads_by_id_email_name_or_domain(
    platform: Platform, people: dict[str, str], search: str, expected: set[str]
) -> None:
    total, nodes = await _all(platform, people["viewer"], search=search)
    assert {n["id"] for n in nodes} == expected
    assert total == len(expected)


async def test_every_order_pages_to_the_end_in_order(
    platform: Platform, people: dict[str, str]
) -> None:
    key = people["viewer"]
    total, by_name = await _all(platform, key, orderBy="NAME_ASC")
    assert total == len(PEOPLE) == len(by_name)
    names = [(n["name"] or "").lower() for n in by_name]
    assert names == sorted(names)
    assert by_name[0]["id"] == "P011"  # no name sorts first
    _, by_name_desc = await _all(platform, key, orderBy="NAME_DESC")
    assert [n["id"] for n in by_name_desc] == [n["id"] for n in reversed(by_name)]
    _, newest = await _all(platform, key, orderBy="CREATED_DESC")
    assert [n["id"] for n in newest] == [f"P{i:03d}" for i in reversed(range(len(PEOPLE)))]
    _, by_score = await _all(platform, key, orderBy="SCORE_DESC")
    scores = [(n["score"], n["id"]) for n in by_score]
    assert scores == sorted(scores, reverse=True)
    assert len({n["id"] for n in by_score}) == len(PEOPLE)


async def test_a_cursor_of_one_order_is_refused_by_another(
    platform: Platform, people: dict[str, str]
) -> None:
    page = await data_of(platform, people["viewer"], PAGE, {"orderBy": "NAME_ASC", "first": 2})
    cursor = page["leads"]["pageInfo"]["endCursor"]
    errors = await errors_of(
        platform, people["viewer"], PAGE, {"orderBy": "SCORE_DESC", "after": cursor}
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_cohort_funnel_counts_true_conversions(
    platform: Platform, people: dict[str, str]
) -> None:
    data = await data_of(
        platform,
        people["viewer"],
        """{ cohortFunnel(from: "2026-11-01T00:00:00Z", to: "2026-11-20T00:00:00Z") {
            fromStage toStage entered converted rate } }""",
    )
    steps = {s["fromStage"]: s for s in data["cohortFunnel"]}
    # 12 created, 6 of them MQL (demo requests), 3 of those with a deal.
    assert steps["AWARE"] == {
        "fromStage": "AWARE", "toStage": "MQL", "entered": 12, "converted": 6, "rate": 0.5,
    }  # fmt: skip
    assert steps["MQL"]["entered"] == 6
    assert steps["MQL"]["converted"] == 3  # a deal counts as past SQL
    assert steps["OPPORTUNITY"] == {
        "fromStage": "OPPORTUNITY", "toStage": "CUSTOMER", "entered": 3, "converted": 0,
        "rate": 0.0,
    }  # fmt: skip
    assert all(s["rate"] is None or 0 <= s["rate"] <= 1 for s in data["cohortFunnel"])


async def test_the_weekly_review_names_deals_and_their_moves(
    platform: Platform, people: dict[str, str]
) -> None:
    review = (
        await data_of(
            platform,
            people["viewer"],
            """{ weeklyReview(weekStart: "2026-11-16") {
                stageMoves { opportunityId fromStage stage amount lead { name company } }
            } }""",
        )
    )["weeklyReview"]
    moves = {(m["opportunityId"], m["stage"]): m for m in review["stageMoves"]}
    first = moves[("P000-O1", "discovery")]
    assert first["fromStage"] is None  # created without a stage
    assert first["amount"] == 1000.0
    assert first["lead"] == {"name": "Ada Lovelace", "company": "analytical.io"}
    assert moves[("P002-O1", "proposal")]["fromStage"] == "discovery"
    assert moves[("P002-O1", "proposal")]["amount"] == 3000.0


ITEM = """mutation($input: ActionItemInput!) { createActionItem(input: $input) { id } }"""
CARRIED = """query($week: Date!) { weeklyReview(weekStart: $week) {
    actionItems { title dueDate } carriedOver { title status weekStart } } }"""


async def test_open_action_items_carry_over_to_later_reviews(
    platform: Platform, people: dict[str, str]
) -> None:
    admin = people["admin"]
    for title, status in (("Call Ada", "OPEN"), ("Fix the form", "DONE"), ("Brief", "IN_PROGRESS")):
        await data_of(
            platform,
            admin,
            ITEM,
            {
                "input": {
                    "title": title,
                    "owner": "Sam",
                    "team": "SALES",
                    "weekStart": "2026-11-09",
                    "dueDate": "2026-11-13",
                    "status": status,
                }
            },
        )
    data = (await data_of(platform, admin, CARRIED, {"week": "2026-11-16"}))["weeklyReview"]
    assert sorted(i["title"] for i in data["carriedOver"]) == ["Brief", "Call Ada"]
    assert {i["weekStart"] for i in data["carriedOver"]} == {"2026-11-09"}
    same_week = (await data_of(platform, admin, CARRIED, {"week": "2026-11-09"}))["weeklyReview"]
    assert same_week["carriedOver"] == []
    assert {i["dueDate"] for i in same_week["actionItems"]} == {"2026-11-13"}


HISTORY = """{ configHistory(first: 10) {
    edges { node { version section author authorName createdAt restoredFrom } } } }"""
SCORING = (
    """mutation($input: ScoringModelInput!) { updateScoringModel(input: $input) { version } }"""
)
RESTORE = """mutation($v: Int!) { restoreConfigVersion(version: $v) {
    version windowDays mql { minEngagement } } }"""


async def test_config_history_names_who_and_restore_brings_a_version_back(
    platform: Platform,
) -> None:
    tenant, admin = await platform.create_tenant("hist")
    first = await data_of(platform, admin, SCORING, {"input": {"windowDays": 30}})
    second = await data_of(
        platform, admin, SCORING, {"input": {"windowDays": 45, "mql": {"minEngagement": 55}}}
    )
    v1 = first["updateScoringModel"]["version"]
    v2 = second["updateScoringModel"]["version"]
    assert v2 == v1 + 1
    nodes = [e["node"] for e in (await data_of(platform, admin, HISTORY))["configHistory"]["edges"]]
    assert [n["version"] for n in nodes][:2] == [v2, v1]
    assert nodes[0]["section"] == "scoring_model"
    assert nodes[0]["author"].startswith("key:")
    assert not nodes[0]["authorName"].startswith("key:")  # a label or role, not an id
    restored = (await data_of(platform, admin, RESTORE, {"v": v1}))["restoreConfigVersion"]
    assert restored["version"] == v2 + 1
    assert restored["windowDays"] == 30
    assert restored["mql"]["minEngagement"] == 40  # the default, as in version v1
    latest = (await data_of(platform, admin, HISTORY))["configHistory"]["edges"][0]["node"]
    assert (latest["section"], latest["restoredFrom"]) == ("restore", v1)
    errors = await errors_of(platform, admin, RESTORE, {"v": 999})
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    viewer = await platform.api_key(tenant, "viewer")
    errors = await errors_of(platform, viewer, RESTORE, {"v": v1})
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


PREVIEW = """query($input: ScoringModelInput!) { scoringModelPreview(input: $input) {
    leadsChecked newMqls engagementUp engagementDown } }"""


async def test_a_scoring_preview_counts_the_leads_it_would_move_and_saves_nothing(
    platform: Platform, people: dict[str, str]
) -> None:
    key = people["viewer"]
    lower = await data_of(platform, key, PREVIEW, {"input": {"mql": {"minEngagement": 10}}})
    # The six leads below MQL; the three webinar attendees have 12 points.
    assert lower["scoringModelPreview"] == {
        "leadsChecked": 6, "newMqls": 3, "engagementUp": 0, "engagementDown": 0,
    }  # fmt: skip
    rules = {"engagementRules": [{"eventType": "webinar_attended", "points": 50}]}
    richer = await data_of(platform, key, PREVIEW, {"input": rules})
    assert richer["scoringModelPreview"]["newMqls"] == 3
    assert richer["scoringModelPreview"]["engagementUp"] == 3
    empty = await data_of(platform, key, PREVIEW, {"input": {"engagementRules": []}})
    assert empty["scoringModelPreview"]["engagementDown"] == 3
    assert empty["scoringModelPreview"]["newMqls"] == 0
    errors = await errors_of(platform, key, PREVIEW, {"input": {"windowDays": -5}})
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    config = await data_of(platform, key, "{ tenantConfig { version } }")
    assert config["tenantConfig"]["version"] == 0
