"""A won deal's journey as the weekly wins show it (shared/domain/wins.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.wins import MAX_PER_DEAL, Touch, WinContent, journeys


def test_campaigns_keep_the_order_first_touched_and_appear_once() -> None:
    found = journeys(
        ["a", "b"],
        [
            Touch("a", "spring", None, None),
            Touch("b", "fair", None, None),
            Touch("a", "webinar", None, None),
            Touch("a", "spring", "guide", "The guide"),
        ],
    )
    assert found["a"].campaigns == ["spring", "webinar"]
    assert found["a"].content == [WinContent("guide", "The guide")]
    assert found["b"].campaigns == ["fair"] and found["b"].content == []


def test_uncatalogued_content_is_left_out_and_catalogued_content_appears_once() -> None:
    found = journeys(
        ["a"],
        [
            Touch("a", None, "draft", None),
            Touch("a", None, "guide", "The guide"),
            Touch("a", None, "guide", "The guide"),
        ],
    )
    assert found["a"].content == [WinContent("guide", "The guide")]


def test_a_lead_without_touches_has_an_empty_journey() -> None:
    found = journeys(["a"], [])
    assert found["a"].campaigns == [] and found["a"].content == []


@given(
    st.lists(
        st.tuples(st.sampled_from("abcdefghijklmnop"), st.booleans()),
        max_size=60,
    )
)
def test_at_most_max_per_deal_of_each_in_first_touch_order(touches: list[tuple[str, bool]]) -> None:
    met = [Touch("lead", n, n, f"Title {n}" if listed else None) for n, listed in touches]
    found = journeys(["lead"], met)
    first_seen = list(dict.fromkeys(name for name, _ in touches))
    assert found["lead"].campaigns == first_seen[:MAX_PER_DEAL]
    catalogued = list(dict.fromkeys(name for name, listed in touches if listed))
    assert [c.content_id for c in found["lead"].content] == catalogued[:MAX_PER_DEAL]
