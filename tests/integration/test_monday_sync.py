"""Monday.com sync end to end: events through the real gateway, Kafka and worker; the
delivery process keeps a local Monday.com stand-in's board current (the shared numbers and
the action items), and a status changed on the board comes back through the webhook to the
action item. The stand-in checks the API's shapes, token and limits."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Platform
from tests.integration.test_graphql_api import codes, data_of, errors_of
from tests.standins.delivery import Delivery, start_delivery
from tests.standins.monday import Board, Column, Item, MondayStandIn

WAIT_S = 120
TOKEN = "eyJhbGciOiJIUzI1NiJ9.monday-standin-token"
SIGNING_SECRET = "monday-signing-secret-0123456789"
# The pinned clock is Friday 2026-11-20: its week starts Monday 2026-11-16.
WEEK = "2026-11-16"
# Another account's token, whose every request Monday.com answers "retry in 10 minutes"
# (the sync waits at most two before asking again).
BUSY_TOKEN = "eyJhbGciOiJIUzI1NiJ9.busy-account-token"

UPDATE = """mutation($input: ConnectorInput!) {
  updateConnector(input: $input) { connector enabled secretSet boardId signingSecretSet }
}"""


@dataclass
class Setup:
    monday: MondayStandIn
    delivery: Delivery


@pytest.fixture(scope="module")
async def setup(platform: Platform, logs_dir: Path) -> AsyncIterator[Setup]:
    # Other apps used the account's minute and its complexity budget: the first request is
    # answered 429 and the budget is spent until the window resets.
    monday = await MondayStandIn(
        TOKEN,
        SIGNING_SECRET,
        throttle_first=True,
        budget_spent_first=True,
        window_s=3,
        busy_tokens={BUSY_TOKEN: 600},
    ).start()
    delivery = await start_delivery(
        platform,
        logs_dir,
        {
            "TANDEM_MONDAY_BASE_URL": monday.base_url,
            "TANDEM_MONDAY_SYNC_INTERVAL_S": "0.5",
            "TANDEM_MONDAY_MIN_INTERVAL_S": "2",
            # The board's webhook calls the gateway under test.
            "TANDEM_PUBLIC_URL": platform.gateway_url,
        },
    )
    try:
        yield Setup(monday, delivery)
    finally:
        delivery.process.kill(signal.SIGTERM)
        await platform.admin.execute(
            "DELETE FROM monday_boards WHERE tenant_id = ANY($1::text[])", platform.tenants
        )
        assert monday.server
        await monday.server.stop()


def ev(event_id: str, type_: str, at: str, lead: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "occurred_at": at, "lead_id": lead, **fields}


async def connect(platform: Platform, admin: str, board: Board, token: str = TOKEN) -> None:
    settings = await data_of(
        platform,
        admin,
        UPDATE,
        {
            "input": {
                "connector": "MONDAY",
                "token": token,
                "boardId": board.id,
                "signingSecret": SIGNING_SECRET,
            }
        },
    )
    assert settings["updateConnector"] == {
        "connector": "MONDAY",
        "enabled": True,
        "secretSet": True,
        "boardId": board.id,
        "signingSecretSet": True,
    }


def value(board: Board, name: str) -> str | None:
    item = board.item_named(name, "Shared numbers")
    return None if item is None else shown(board, item).get("Value")


def shown(board: Board, item: Item) -> dict[str, Any]:
    """The item's values by the titles of their columns, as a person sees them."""
    return {board.columns[c].title: v for c, v in item.values.items()}


async def test_events_reach_the_board_and_a_status_changed_there_reaches_the_action_item(
    platform: Platform, setup: Setup
) -> None:
    monday = setup.monday
    # A tenant whose token Monday.com refuses: its failures must not hold up the other.
    broken, broken_admin = await platform.create_tenant("monday-bad")
    await connect(platform, broken_admin, monday.add_board("Not ours"), "a-token-monday-refuses")

    # And one whose account is throttled for a minute at a time: it waits alone.
    _, busy_admin = await platform.create_tenant("monday-busy")
    busy_board = monday.add_board("Busy account")
    await connect(platform, busy_admin, busy_board, BUSY_TOKEN)

    async def busy_told_to_wait() -> bool:
        return monday.busy_refused >= 1

    await platform.wait_for(busy_told_to_wait, WAIT_S, "the busy account's first 429")
    tenant, admin = await platform.create_tenant("monday")
    sales = await platform.api_key(tenant, "sales")
    board = monday.add_board()
    # The team made the board already: a group and a Status column Tandem uses as they are.
    board.groups["topics"] = "Shared numbers"
    board.columns["status"] = Column("status", "Status", "status", ["Working on it", "Done"])
    await connect(platform, admin, board)
    await platform.post_events(
        admin,
        [
            ev("a-1", "demo_request", "2026-11-17T09:00:00Z", "A", channel="paid_search"),
            ev("b-1", "page_view", "2026-11-17T10:00:00Z", "B", channel="email"),
            ev("c-1", "page_view", "2026-11-10T10:00:00Z", "C", channel="email"),
        ],
    )
    created = await data_of(
        platform,
        sales,
        "mutation($input: ActionItemInput!) { createActionItem(input: $input) { id } }",
        {
            "input": {
                "title": "Call back the webinar MQLs",
                "owner": "Sam Rivera",
                "team": "SALES",
                "weekStart": WEEK,
                "dueDate": "2026-11-24",
            }
        },
    )
    action_id = created["createActionItem"]["id"]

    async def on_board() -> bool:
        item = board.item_named("Call back the webinar MQLs", "Action items")
        return (
            value(board, "Lead volume, this week") == "2"
            and value(board, "Lead volume, last week") == "1"
            and item is not None
        )

    await platform.wait_for(on_board, WAIT_S, "the figures and the action item on the board")
    numbers = board.item_named("Lead volume, this week", "Shared numbers")
    assert numbers is not None
    assert shown(board, numbers)["Previous period"] == "1"
    assert shown(board, numbers)["Change"] == "+1 (+100.0%)"
    assert shown(board, numbers)["Updated at"].endswith("UTC")
    assert {i.name for i in board.items_in("Shared numbers")} >= {
        "MQL to SQL rate",
        "Lead to opportunity rate",
        "Opportunity to customer rate",
        "Leads at stage: Marketing qualified",
        "Marketing-sourced revenue",
        "Marketing-influenced revenue",
        "Deals won, this week",
        "Campaign that sourced the most pipeline, this week",
    }
    action = board.item_named("Call back the webinar MQLs", "Action items")
    assert action is not None
    assert shown(board, action) == {
        "Owner": "Sam Rivera",
        "Team": "Sales",
        "Due date": "2026-11-24",
        "Status": "Open",
    }
    assert "status" in action.values  # the team's own Status column
    assert numbers.group_id == "topics"
    assert [c.title for c in board.columns.values()].count("Status") == 1
    # The busy board is still waiting (its wait is its own): nothing on it, no one held up.
    assert busy_board.items == {}
    # The limits were met and honoured: no request came back before it was told to.
    assert monday.throttled >= 1 and monday.exhausted >= 1 and monday.early == 0
    # Batched: the first round's items went out several to a request.
    creates = [m for m in monday.mutations if m[0] == "create_item"]
    batched = [r for r in monday.requests if r["query"].count("create_item(") > 1]
    assert len(creates) > len(batched) >= 1
    assert all(isinstance(args["column_values"], str) for _, args in monday.mutations
               if "column_values" in args)  # fmt: skip
    assert not [e for e in monday.errors if e["extensions"].get("code") not in (
        "COMPLEXITY_BUDGET_EXHAUSTED",)]  # fmt: skip

    # A person marks it done on the board: the webhook brings it back to Tandem.
    seen = len(monday.mutations)
    answer = await monday.change_status(board.id, action.id, "status", "Done")
    assert answer.status_code == 200, answer.text
    listing = f'{{ actionItems(weekStart: "{WEEK}") {{ id status author }} }}'
    items = await data_of(platform, sales, listing)
    assert items["actionItems"] == [{"id": action_id, "status": "DONE", "author": "Monday.com"}]

    # A request not signed with the signing secret changes nothing.
    forged = await monday.change_status(
        board.id, action.id, "status", "Open", secret="not-the-signing-secret-0123456789"
    )
    assert forged.status_code == 401
    items = await data_of(platform, sales, f'{{ actionItems(weekStart: "{WEEK}") {{ status }} }}')
    assert items["actionItems"] == [{"status": "DONE"}]

    # A change in Tandem reaches the board: the figure moves, its Change follows.
    await platform.post_events(
        admin, [ev("d-1", "page_view", "2026-11-18T10:00:00Z", "D", channel="email")]
    )

    async def moved() -> bool:
        return value(board, "Lead volume, this week") == "3"

    await platform.wait_for(moved, WAIT_S, "the new lead's count on the board")
    assert shown(board, numbers)["Change"] == "+2 (+200.0%)"
    # The status that came from the board is not sent back to it.
    echoed = [
        args
        for name, args in monday.mutations[seen:]
        if str(args.get("item_id")) == action.id and '"status"' in args["column_values"]
    ]
    assert echoed == []
    failing = await platform.admin.fetchval(
        "SELECT last_error FROM monday_boards WHERE tenant_id = $1", broken
    )
    assert failing and "401" in failing


async def test_monday_settings_are_checked_and_their_secrets_never_shown(
    platform: Platform,
) -> None:
    tenant, admin = await platform.create_tenant("monday-cfg")
    bad = await errors_of(
        platform,
        admin,
        UPDATE,
        {"input": {"connector": "MONDAY", "boardId": "boards/12", "token": "short"}},
    )
    assert codes(bad) == {"BAD_USER_INPUT"}
    fields = {f["path"] for f in bad[0]["extensions"]["fields"]}
    assert fields == {"input.boardId", "input.token"}
    other = await errors_of(
        platform, admin, UPDATE, {"input": {"connector": "HUBSPOT", "boardId": "12"}}
    )
    assert codes(other) == {"BAD_USER_INPUT"}
    first = await errors_of(
        platform, admin, UPDATE, {"input": {"connector": "MONDAY", "signingSecret": "s" * 32}}
    )
    assert codes(first) == {"BAD_USER_INPUT"}  # a board first
    await data_of(
        platform,
        admin,
        UPDATE,
        {"input": {"connector": "MONDAY", "boardId": "12", "token": TOKEN}},
    )
    listed = await data_of(platform, admin, "{ connectors { connector boardId secretSet } }")
    assert {"connector": "MONDAY", "boardId": "12", "secretSet": True} in listed["connectors"]
    assert TOKEN not in str(listed)
    viewer = await platform.api_key(tenant, "viewer")
    assert codes(await errors_of(platform, viewer, UPDATE, {"input": {"connector": "MONDAY"}})) == {
        "FORBIDDEN"
    }
    await platform.admin.execute("DELETE FROM monday_boards WHERE tenant_id = $1", tenant)
