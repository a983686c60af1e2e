"""The Monday.com sync's pure parts: what the board shows, what a round sends, the batched
request, the budget's wait, and the webhook token's check."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import jwt
import orjson
from hypothesis import given
from hypothesis import strategies as st

from services.delivery.monday import (
    LOW_BUDGET,
    Budget,
    Figure,
    Layout,
    Op,
    Wanted,
    action_item_columns,
    batch_mutation,
    change_text,
    column_layout,
    figure_columns,
    plan,
    top_campaign_item,
    week_start,
)
from services.gateway.connectors.monday import token_problem
from shared.domain.wins import TopCampaign
from shared.monday import ACTION_ITEMS, SHARED_NUMBERS, STATUS_LABELS, status_of_label

STAMP = "2026-11-20 10:00 UTC"
PATH = "/v1/connectors/monday/acme"


def test_a_figure_reads_in_plain_numbers_and_its_change_in_points_or_percent() -> None:
    assert figure_columns(Figure("k", "Leads", "count", 12, 8)) == {
        "tandem_value": "12",
        "tandem_previous": "8",
        "tandem_change": "+4 (+50.0%)",
    }
    assert figure_columns(Figure("k", "Rate", "rate", 0.25, 0.3)) == {
        "tandem_value": "25.0%",
        "tandem_previous": "30.0%",
        "tandem_change": "-5.0 pts",
    }
    assert change_text("money", 1500.0, 0.0) == "+1,500"  # no percentage of nothing
    assert change_text("rate", None, 0.3) == ""
    assert figure_columns(Figure("k", "Stage", "count", 3, None))["tandem_change"] == ""


def test_an_action_item_shows_names_people_read() -> None:
    row = {
        "title": "Call back",
        "owner": "Sam",
        "team": "BOTH",
        "due_date": date(2026, 11, 24),
        "status": "IN_PROGRESS",
    }
    assert action_item_columns(row) == {
        "name": "Call back",
        "tandem_owner": "Sam",
        "tandem_team": "Both",
        "tandem_due": {"date": "2026-11-24"},
        "tandem_status": {"label": "In progress"},
    }
    assert action_item_columns({**row, "due_date": None})["tandem_due"] == {}


@given(st.sampled_from(sorted(STATUS_LABELS)))
def test_every_status_label_maps_back_to_its_status(status: str) -> None:
    assert status_of_label(STATUS_LABELS[status]) == status
    assert status_of_label(f"  {STATUS_LABELS[status].upper()} ") == status


def test_a_label_of_no_status_maps_to_none() -> None:
    assert status_of_label("Working on it") == "IN_PROGRESS"
    assert status_of_label("Maybe later") is None


def test_the_top_campaign_is_a_win_on_the_board() -> None:
    spring = TopCampaign(campaign_id="spring", pipeline=12_500, opportunities=3)
    item = top_campaign_item(spring, None)
    assert item.group == SHARED_NUMBERS
    assert item.columns == {
        "tandem_value": "spring (12,500)",
        "tandem_previous": "",
        "tandem_change": "",
    }


def test_week_start_is_monday_midnight_utc() -> None:
    friday = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    assert week_start(friday) == datetime(2026, 11, 16, tzinfo=UTC)
    assert week_start(datetime(2026, 11, 16, tzinfo=UTC)) == datetime(2026, 11, 16, tzinfo=UTC)


def figure(value: str) -> Wanted:
    return Wanted("leads", SHARED_NUMBERS, "Leads", {"tandem_value": value})


def test_a_new_item_is_sent_whole_and_a_figure_is_stamped() -> None:
    action = Wanted("action:1", ACTION_ITEMS, "Call", {"name": "Call", "tandem_owner": "Sam"})
    ops = plan([figure("3"), action], {}, STAMP)
    assert ops == [
        Op(figure("3"), None, {"tandem_value": "3", "tandem_updated": STAMP}),
        Op(action, None, {"tandem_owner": "Sam"}),  # the name is the item's, not a column
    ]


def test_only_changed_columns_are_sent_and_an_unchanged_item_costs_nothing() -> None:
    sent = {"leads": ("11", {"tandem_value": "3", "tandem_updated": "earlier"})}
    assert plan([figure("3")], sent, STAMP) == []
    assert plan([figure("4")], sent, STAMP) == [
        Op(figure("4"), "11", {"tandem_value": "4", "tandem_updated": STAMP})
    ]
    action = Wanted("action:1", ACTION_ITEMS, "New title", {"name": "New title", "s": "Done"})
    known = {"action:1": ("12", {"name": "Old title", "s": "Done"})}
    assert plan([action], known, STAMP) == [Op(action, "12", {"name": "New title"})]


def test_a_batch_is_one_request_of_aliased_mutations_with_json_string_values() -> None:
    ops = [
        Op(figure("3"), None, {"tandem_value": "3"}),
        Op(figure("4"), "77", {"tandem_value": "4"}),
    ]
    layout = Layout({SHARED_NUMBERS: "group_1"}, {"tandem_value": "text_7"})
    query, variables = batch_mutation("123", ops, layout)
    assert "m0: create_item(" in query and "m1: change_multiple_column_values(" in query
    assert "complexity { after reset_in_x_seconds }" in query
    assert variables["board"] == "123" and variables["g0"] == "group_1"
    assert variables["n0"] == "Leads" and variables["i1"] == "77"
    assert isinstance(variables["v0"], str)
    assert orjson.loads(variables["v1"]) == {"text_7": "4"}  # the board's own column id


def test_columns_already_on_the_board_are_found_by_id_or_title_when_their_type_fits() -> None:
    found = column_layout(
        [
            {"id": "tandem_value", "title": "Anything", "type": "text"},
            {"id": "status", "title": "status", "type": "status"},
            {"id": "date4", "title": "Due Date", "type": "date"},
            {"id": "text9", "title": "Owner", "type": "people"},  # not a text: created anew
        ]
    )
    assert found == {
        "tandem_value": "tandem_value",
        "tandem_status": "status",
        "tandem_due": "date4",
    }


def test_a_budget_about_to_run_out_waits_for_its_reset() -> None:
    assert Budget().wait_s() == 0
    assert Budget(LOW_BUDGET + 1, 30).wait_s() == 0
    assert Budget(LOW_BUDGET - 1, 30).wait_s() == 30
    assert Budget(0, 10_000).wait_s() == 120  # bounded


def token(secret: str, **claims: object) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 60, **claims}, secret, algorithm="HS256")


def test_the_webhook_token_must_be_signed_with_the_signing_secret_and_unexpired() -> None:
    secret = "s" * 32
    assert token_problem(token(secret, aud=f"https://tandem.example{PATH}"), secret, PATH) is None
    assert token_problem(token(secret), secret, PATH) is None
    assert token_problem(None, secret, PATH) == "no Authorization token"
    assert "does not verify" in str(token_problem(token("other" * 8), secret, PATH))
    expired = jwt.encode({"exp": int(time.time()) - 10}, secret, algorithm="HS256")
    assert "does not verify" in str(token_problem(expired, secret, PATH))
    no_exp = jwt.encode({"iat": 1}, secret, algorithm="HS256")
    assert "does not verify" in str(token_problem(no_exp, secret, PATH))
    other = token(secret, aud="https://tandem.example/v1/connectors/monday/globex")
    assert token_problem(other, secret, PATH) == "token is for another endpoint"
