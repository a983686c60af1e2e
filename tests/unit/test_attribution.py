"""SPEC 5: the built-in attribution models, their position rules, and the worked example."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.attribution import (
    BUILTIN_MODELS,
    BUILTIN_NAMES,
    FIRST_TOUCH,
    FULL_PATH,
    LAST_TOUCH,
    LINEAR,
    NONE_KEY,
    PIPELINE,
    REVENUE,
    TIME_DECAY,
    U_SHAPED,
    UNATTRIBUTED,
    W_SHAPED,
    AttributionModel,
    Conversion,
    Credit,
    CreditGroup,
    Kind,
    credit_conversion,
    credit_lead,
    group_credits,
    opportunity_conversions,
    parse_custom_model,
)
from shared.domain.events import MARKETING_TOUCHES, Event
from tests.worked_example import lead_events, sample_events

T0 = datetime(2026, 10, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def touch(
    n: int,
    days: float,
    *,
    channel: str | None = "email",
    type: str = "page_view",
    stitched: bool = False,
    seq: int | None = None,
    campaign_id: str | None = None,
) -> Event:
    return Event(
        event_id=f"e{n}",
        type=type,
        occurred_at=T0 + days * DAY,
        seq=n if seq is None else seq,
        lead_id=None if stitched else "L1",
        anonymous_id="a1" if stitched else None,
        channel=channel,
        campaign_id=campaign_id,
        stitched=stitched,
    )


def pipeline(days: float, amount: float = 1000.0) -> Conversion:
    return Conversion("O1", PIPELINE, T0 + days * DAY, amount, T0 + days * DAY)


def revenue(created_days: float, won_days: float, amount: float = 1000.0) -> Conversion:
    return Conversion("O1", REVENUE, T0 + won_days * DAY, amount, T0 + created_days * DAY)


def fractions(
    model: AttributionModel, touches: Sequence[Event], conversion: Conversion
) -> dict[str | None, float]:
    rows = credit_conversion(touches, conversion, model)
    assert len({r.event_id for r in rows}) == len(rows), "one row per touch"
    return {r.event_id: r.fraction for r in rows}


def assert_fractions(got: dict[str | None, float], expected: dict[str | None, float]) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


# A journey whose first touch is anonymous (stitched), so that FT and LC differ.
JOURNEY = [
    touch(1, 0, stitched=True),
    touch(2, 1),
    touch(3, 2),
    touch(4, 3),
    touch(5, 4),
]


class TestModels:
    def test_builtin_names_in_spec_order(self) -> None:
        assert [m.name for m in BUILTIN_MODELS] == [
            "FIRST_TOUCH",
            "LAST_TOUCH",
            "LINEAR",
            "U_SHAPED",
            "W_SHAPED",
            "FULL_PATH",
            "TIME_DECAY",
        ]
        assert frozenset(m.name for m in BUILTIN_MODELS) == BUILTIN_NAMES

    def test_first_touch(self) -> None:
        got = fractions(FIRST_TOUCH, JOURNEY, pipeline(5))
        assert_fractions(got, {"e1": 1, "e2": 0, "e3": 0, "e4": 0, "e5": 0})

    @pytest.mark.parametrize("conversion", [pipeline(5), revenue(2.5, 5)])
    def test_last_touch(self, conversion: Conversion) -> None:
        got = fractions(LAST_TOUCH, JOURNEY, conversion)
        assert_fractions(got, {"e1": 0, "e2": 0, "e3": 0, "e4": 0, "e5": 1})

    def test_linear(self) -> None:
        got = fractions(LINEAR, JOURNEY, pipeline(5))
        assert_fractions(got, {f"e{i}": 0.2 for i in range(1, 6)})

    def test_u_shaped_gives_the_rest_to_the_last_touch_too(self) -> None:
        got = fractions(U_SHAPED, JOURNEY, pipeline(5))
        middle = 0.2 / 3
        assert_fractions(got, {"e1": 0.4, "e2": 0.4, "e3": middle, "e4": middle, "e5": middle})

    def test_w_shaped_pipeline(self) -> None:
        got = fractions(W_SHAPED, JOURNEY, pipeline(5))
        assert_fractions(got, {"e1": 0.3, "e2": 0.3, "e3": 0.05, "e4": 0.05, "e5": 0.3})

    def test_w_shaped_revenue_puts_oc_at_the_opportunity_creation(self) -> None:
        got = fractions(W_SHAPED, JOURNEY, revenue(2.5, 5))
        assert_fractions(got, {"e1": 0.3, "e2": 0.3, "e3": 0.3, "e4": 0.05, "e5": 0.05})

    def test_full_path_pipeline_is_w_shaped(self) -> None:
        conversion = pipeline(5)
        assert fractions(FULL_PATH, JOURNEY, conversion) == fractions(W_SHAPED, JOURNEY, conversion)

    def test_full_path_revenue(self) -> None:
        journey = [*JOURNEY, touch(6, 6), touch(7, 7)]
        got = fractions(FULL_PATH, journey, revenue(4.5, 8))
        middle = 0.1 / 3
        assert_fractions(
            got,
            {
                "e1": 0.225,
                "e2": 0.225,
                "e3": middle,
                "e4": middle,
                "e5": 0.225,
                "e6": middle,
                "e7": 0.225,
            },
        )

    def test_time_decay_halves_every_seven_days(self) -> None:
        journey = [touch(1, 0), touch(2, 7), touch(3, 14)]
        got = fractions(TIME_DECAY, journey, pipeline(14))
        assert_fractions(got, {"e1": 0.25 / 1.75, "e2": 0.5 / 1.75, "e3": 1 / 1.75})

    def test_time_decay_counts_from_the_conversion_not_the_day(self) -> None:
        journey = [touch(1, 0), touch(2, 3.5)]
        got = fractions(TIME_DECAY, journey, pipeline(10))
        low, high = 2 ** (-10 / 7), 2 ** (-6.5 / 7)
        assert_fractions(got, {"e1": low / (low + high), "e2": high / (low + high)})

    def test_time_decay_survives_touches_decades_old(self) -> None:
        journey = [touch(1, -40 * 365), touch(2, -30 * 365)]
        got = fractions(TIME_DECAY, journey, pipeline(0))
        assert math.fsum(got.values()) == pytest.approx(1.0, abs=1e-12)
        assert got["e2"] == pytest.approx(1.0)


class TestPositions:
    @pytest.mark.parametrize("model", BUILTIN_MODELS, ids=lambda m: m.name)
    @pytest.mark.parametrize("conversion", [pipeline(1), revenue(1, 2)], ids=["pipe", "rev"])
    def test_a_single_touch_holds_everything(
        self, model: AttributionModel, conversion: Conversion
    ) -> None:
        assert fractions(model, [touch(1, 0)], conversion) == pytest.approx({"e1": 1.0})

    def test_coinciding_positions_without_middle_split_the_rest_per_position(self) -> None:
        # e1 holds FT and LC, e2 holds OC: the rest goes 2/3 to e1 and 1/3 to e2.
        got = fractions(W_SHAPED, [touch(1, 0), touch(2, 1)], pipeline(2))
        assert_fractions(got, {"e1": 0.6 + 0.1 * 2 / 3, "e2": 0.3 + 0.1 / 3})

    def test_u_shaped_with_ft_and_lc_on_one_touch(self) -> None:
        got = fractions(U_SHAPED, [touch(1, 0), touch(2, 1), touch(3, 2)], pipeline(2))
        assert_fractions(got, {"e1": 0.8, "e2": 0.1, "e3": 0.1})

    def test_full_path_revenue_with_all_positions_on_two_touches(self) -> None:
        # e1: FT, LC; e2: OC, CW. Four positions share the rest.
        got = fractions(FULL_PATH, [touch(1, 0), touch(2, 1)], revenue(2, 3))
        assert_fractions(got, {"e1": 0.45 + 0.05, "e2": 0.45 + 0.05})

    def test_stitched_first_touch_moves_lc_to_the_first_identified_touch(self) -> None:
        journey = [touch(1, 0, stitched=True), touch(2, 1, stitched=True), touch(3, 2)]
        got = fractions(U_SHAPED, journey, pipeline(3))
        assert_fractions(got, {"e1": 0.4, "e2": 0.2, "e3": 0.4})

    def test_lc_falls_back_to_ft_when_every_eligible_touch_is_stitched(self) -> None:
        # The identified touch comes after the conversion, so it is not eligible.
        journey = [touch(1, 0, stitched=True), touch(2, 1, stitched=True), touch(3, 5)]
        got = fractions(U_SHAPED, journey, pipeline(3))
        assert_fractions(got, {"e1": 0.8, "e2": 0.2})

    def test_oc_without_a_touch_gives_its_weight_to_the_rest(self) -> None:
        # Every touch came after the opportunity was created, before the win.
        journey = [touch(1, 1), touch(2, 2), touch(3, 3)]
        got = fractions(W_SHAPED, journey, revenue(0, 4))
        assert_fractions(got, {"e1": 0.6, "e2": 0.2, "e3": 0.2})
        got = fractions(FULL_PATH, journey, revenue(0, 4))
        assert_fractions(got, {"e1": 0.45, "e2": 0.1 + 0.225, "e3": 0.225})

    def test_oc_without_a_touch_and_no_middle_touch(self) -> None:
        # e1 holds FT and LC, e2 holds CW; the rest (with OC's weight) goes per position.
        got = fractions(FULL_PATH, [touch(1, 1), touch(2, 2)], revenue(0, 3))
        rest = 0.1 + 0.225
        assert_fractions(got, {"e1": 0.45 + rest * 2 / 3, "e2": 0.225 + rest / 3})

    def test_ties_in_occurred_at_are_broken_by_seq(self) -> None:
        journey = [touch(1, 0, seq=9, channel="late"), touch(2, 0, seq=3, channel="early")]
        rows = credit_conversion(journey, pipeline(1), FIRST_TOUCH)
        assert [(r.event_id, r.fraction) for r in rows] == [("e2", 1.0), ("e1", 0.0)]
        rows = credit_conversion(journey, pipeline(1), LAST_TOUCH)
        assert [(r.event_id, r.fraction) for r in rows] == [("e2", 0.0), ("e1", 1.0)]

    def test_touches_are_sorted_whatever_their_input_order(self) -> None:
        shuffled = [JOURNEY[3], JOURNEY[0], JOURNEY[4], JOURNEY[2], JOURNEY[1]]
        for model in BUILTIN_MODELS:
            assert fractions(model, shuffled, revenue(2.5, 5)) == fractions(
                model, JOURNEY, revenue(2.5, 5)
            )

    def test_touches_after_the_conversion_are_excluded_and_at_it_included(self) -> None:
        journey = [touch(1, 0), touch(2, 1), touch(3, 1.5)]
        assert_fractions(fractions(LINEAR, journey, pipeline(1)), {"e1": 0.5, "e2": 0.5})
        assert_fractions(fractions(LAST_TOUCH, journey, pipeline(1)), {"e1": 0, "e2": 1})

    def test_events_that_are_not_marketing_touches_are_ignored(self) -> None:
        call = Event("s1", "sales_call", T0, seq=0, lead_id="L1")
        created = Event("o1", "opportunity_created", T0 + DAY, seq=1, lead_id="L1")
        got = fractions(LINEAR, [call, touch(2, 0.5), created], pipeline(2))
        assert_fractions(got, {"e2": 1.0})

    @pytest.mark.parametrize("model", BUILTIN_MODELS, ids=lambda m: m.name)
    @pytest.mark.parametrize("journey", [[], [touch(1, 3)]], ids=["none", "only-later"])
    def test_no_eligible_touch_is_unattributed(
        self, model: AttributionModel, journey: list[Event]
    ) -> None:
        rows = credit_conversion(journey, revenue(1, 2, amount=700.0), model)
        assert rows == [
            Credit(
                "O1", REVENUE, model.name, None, None, None, None, None, 1.0, 700.0, T0 + 2 * DAY
            )
        ]
        assert group_credits(rows, "CHANNEL") == [CreditGroup(UNATTRIBUTED, 1.0, 700.0)]


class TestRows:
    def test_rows_carry_the_touch_references_and_the_amount_share(self) -> None:
        first = Event(
            "e1",
            "webinar_attended",
            T0,
            seq=1,
            lead_id="L1",
            channel="webinar",
            campaign_id="c1",
            content_id="k1",
            message_id="m1",
        )
        rows = credit_conversion([first, touch(2, 1)], revenue(1, 2, amount=5000.0), U_SHAPED)
        assert rows[0] == Credit(
            "O1", REVENUE, "U_SHAPED", "e1", "webinar", "c1", "k1", "m1", 0.8, 4000.0, T0 + 2 * DAY
        )
        assert rows[1].amount == pytest.approx(1000.0)

    def test_credit_lead_covers_every_model_and_conversion(self) -> None:
        conversions = opportunity_conversions(
            "O1", amount=100.0, created_at=T0 + 2.5 * DAY, won_at=T0 + 5 * DAY
        )
        custom = parse_custom_model({"name": "EVEN", "weights": {"rest": 1}})
        rows = credit_lead(JOURNEY, conversions, [custom])
        assert {(r.kind, r.model) for r in rows} == {
            (kind, name)
            for kind in (PIPELINE, REVENUE)
            for name in (*(m.name for m in BUILTIN_MODELS), "EVEN")
        }
        # Pipeline at 2.5 days sees three touches, revenue at 5 days all five.
        assert len(rows) == 8 * 3 + 8 * 5
        for conversion in conversions:
            for model in (*BUILTIN_MODELS, custom):
                mine = [r for r in rows if r.kind == conversion.kind and r.model == model.name]
                assert mine == credit_conversion(JOURNEY, conversion, model)

    def test_credit_lead_without_conversions_is_empty(self) -> None:
        assert credit_lead(JOURNEY, []) == []


class TestConversions:
    def test_open_opportunity_is_pipeline_only(self) -> None:
        assert opportunity_conversions("O1", amount=500.0, created_at=T0) == (
            Conversion("O1", PIPELINE, T0, 500.0, T0),
        )

    def test_won_amount_is_the_revenue(self) -> None:
        won = T0 + 3 * DAY
        assert opportunity_conversions(
            "O1", amount=500.0, created_at=T0, won_at=won, won_amount=650.0
        ) == (
            Conversion("O1", PIPELINE, T0, 500.0, T0),
            Conversion("O1", REVENUE, won, 650.0, T0),
        )

    def test_won_without_amount_takes_the_opportunity_amount(self) -> None:
        won = T0 + 3 * DAY
        _, rev = opportunity_conversions("O1", amount=500.0, created_at=T0, won_at=won)
        assert rev == Conversion("O1", REVENUE, won, 500.0, T0)

    def test_a_won_amount_of_zero_is_kept(self) -> None:
        won = T0 + 3 * DAY
        _, rev = opportunity_conversions(
            "O1", amount=500.0, created_at=T0, won_at=won, won_amount=0.0
        )
        assert rev.amount == 0.0


class TestGroupCredits:
    ROWS = (
        Credit("O1", PIPELINE, "LINEAR", "e1", "email", "c1", None, "m1", 0.5, 50.0, T0),
        Credit("O1", PIPELINE, "LINEAR", "e2", None, "c1", "k1", None, 0.5, 50.0, T0),
        Credit("O2", PIPELINE, "LINEAR", "e3", "email", None, "k1", None, 0.25, 100.0, T0),
        Credit("O2", PIPELINE, "LINEAR", "e4", "webinar", None, None, None, 0.75, 300.0, T0),
        Credit("O3", PIPELINE, "LINEAR", None, None, None, None, None, 1.0, 20.0, T0),
    )

    @pytest.mark.parametrize(
        ("group_by", "expected"),
        [
            (
                "CHANNEL",
                [
                    (NONE_KEY, 0.5, 50),
                    (UNATTRIBUTED, 1, 20),
                    ("email", 0.75, 150),
                    ("webinar", 0.75, 300),
                ],
            ),
            ("CAMPAIGN", [(NONE_KEY, 1, 400), (UNATTRIBUTED, 1, 20), ("c1", 1, 100)]),
            ("CONTENT", [(NONE_KEY, 1.25, 350), (UNATTRIBUTED, 1, 20), ("k1", 0.75, 150)]),
            ("MESSAGE", [(NONE_KEY, 1.5, 450), (UNATTRIBUTED, 1, 20), ("m1", 0.5, 50)]),
        ],
    )
    def test_groups(self, group_by: Any, expected: list[tuple[str, float, float]]) -> None:
        assert group_credits(self.ROWS, group_by) == [CreditGroup(*e) for e in expected]

    def test_unknown_group_is_refused(self) -> None:
        with pytest.raises(ValueError, match="group_by"):
            group_credits(self.ROWS, "TOUCH")  # type: ignore[arg-type]

    def test_zero_credit_touches_still_list_their_channel(self) -> None:
        rows = credit_conversion(
            [touch(1, 0, channel="email"), touch(2, 1, channel="webinar")], pipeline(2), FIRST_TOUCH
        )
        assert group_credits(rows, "CHANNEL") == [
            CreditGroup("email", 1.0, 1000.0),
            CreditGroup("webinar", 0.0, 0.0),
        ]


# Hypothesis: every model, every touch sequence, every conversion.

CUSTOM_MODELS = (
    parse_custom_model({"name": "EVEN", "weights": {"rest": 1}}),
    parse_custom_model(
        {
            "name": "WIN_HEAVY",
            "weights": {"first": 0.1, "closed_won": 0.7, "rest": 0.2},
            "type_multipliers": {"page_view": 0.1, "webinar_attended": 1.0},
        }
    ),
    parse_custom_model(
        {
            "name": "MUTED",
            "weights": {"first": 0.5, "opportunity_creation": 0.5},
            "type_multipliers": {t: 0.0 for t in MARKETING_TOUCHES},
        }
    ),
)
ALL_MODELS = (*BUILTIN_MODELS, *CUSTOM_MODELS)

touch_specs = st.lists(
    st.tuples(
        # Minutes after T0; a few fixed instants make ties in occurred_at common.
        st.integers(min_value=0, max_value=60 * 24 * 90) | st.sampled_from([0, 1440, 2880]),
        st.booleans(),
        st.sampled_from(sorted(MARKETING_TOUCHES)),
    ),
    max_size=25,
)


def build(specs: Iterable[tuple[int, bool, str]]) -> list[Event]:
    return [
        Event(
            f"e{i}",
            kind,
            T0 + timedelta(minutes=minute),
            seq=i,
            lead_id=None if stitched else "L1",
            stitched=stitched,
            channel="email",
        )
        for i, (minute, stitched, kind) in enumerate(specs)
    ]


@settings(max_examples=300, deadline=None)
@given(
    specs=touch_specs,
    created=st.integers(min_value=0, max_value=60 * 24 * 100),
    cycle=st.integers(min_value=0, max_value=60 * 24 * 30),
    amount=st.floats(min_value=0, max_value=1e9),
)
def test_fractions_of_every_conversion_sum_to_one(
    specs: list[tuple[int, bool, str]], created: int, cycle: int, amount: float
) -> None:
    touches = build(specs)
    conversions = opportunity_conversions(
        "O1",
        amount=amount,
        created_at=T0 + timedelta(minutes=created),
        won_at=T0 + timedelta(minutes=created + cycle),
    )
    rows = credit_lead(touches, conversions, CUSTOM_MODELS)
    for conversion in conversions:
        kind: Kind = conversion.kind
        eligible = sum(t.occurred_at <= conversion.at for t in touches)
        for model in ALL_MODELS:
            mine = [r for r in rows if r.kind == kind and r.model == model.name]
            assert len(mine) == max(eligible, 1)
            assert all(r.fraction >= 0 for r in mine)
            assert math.fsum(r.fraction for r in mine) == pytest.approx(1.0, abs=1e-9)
            assert all(r.amount == pytest.approx(amount * r.fraction) for r in mine)
            grouped = group_credits(mine, "CAMPAIGN")
            assert math.fsum(g.credit for g in grouped) == pytest.approx(1.0, abs=1e-9)


# The worked example of /work/shared/spec/examples.


@pytest.fixture(scope="module")
def examples_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "shared/spec/examples"


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def example_credits() -> list[Credit]:
    """The credit rows of every lead of sample-events.jsonl, built the way the journey does:
    identify links an anonymous id to its lead, whose touches it then carries as stitched."""
    touches = {
        lead: [e for e in events if e.type in MARKETING_TOUCHES]
        for lead, events in lead_events().items()
    }
    opportunities: dict[tuple[str, str], dict[str, Any]] = {}
    for e in sample_events():
        if e["type"] in ("opportunity_created", "deal_won"):
            at = _parse_time(e["occurred_at"])
            props = e["properties"]
            key = (e["lead_id"], props["opportunity_id"])
            opportunity = opportunities.setdefault(key, {"created_at": at, "amount": 0.0})
            if e["type"] == "opportunity_created":
                opportunity.update(created_at=at, amount=props["amount"])
            else:
                opportunity.update(won_at=at, won_amount=props.get("amount"))
    rows: list[Credit] = []
    for (lead, opportunity_id), facts in opportunities.items():
        rows.extend(
            credit_lead(touches.get(lead, []), opportunity_conversions(opportunity_id, **facts))
        )
    return rows


@pytest.fixture(scope="module")
def example_rows() -> list[Credit]:
    return example_credits()


@pytest.fixture(scope="module")
def expected_tables(examples_dir: Path) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = json.loads(
        (examples_dir / "expected.json").read_text()
    )["attribution"]
    return tables


EXAMPLE_TABLES = [
    f"{model.name}/{kind}/CHANNEL" for model in BUILTIN_MODELS for kind in (PIPELINE, REVENUE)
]


def test_example_has_exactly_the_tables_we_check(
    expected_tables: dict[str, list[dict[str, Any]]],
) -> None:
    assert sorted(expected_tables) == sorted(EXAMPLE_TABLES)


def test_example_conversions_all_fall_in_the_reported_period(
    examples_dir: Path, example_rows: list[Credit]
) -> None:
    # So the tables need no filter by conversion time to compare with expected.json.
    period = json.loads((examples_dir / "expected.json").read_text())["period"]
    start, end = _parse_time(period["from"]), _parse_time(period["to"])
    assert {(r.opportunity_id, r.kind) for r in example_rows}
    assert all(start <= r.converted_at < end for r in example_rows)


@pytest.mark.parametrize("table", EXAMPLE_TABLES)
def test_example_attribution_table(
    table: str,
    example_rows: list[Credit],
    expected_tables: dict[str, list[dict[str, Any]]],
) -> None:
    model, kind, group_by = table.split("/")
    got = group_credits(
        [r for r in example_rows if r.model == model and r.kind == kind],
        group_by,  # type: ignore[arg-type]
    )
    expected = expected_tables[table]
    # Keys include the channels that a model credits 0: every eligible touch has its row.
    assert [g.key for g in got] == [row["key"] for row in expected]
    for group, row in zip(got, expected, strict=True):
        assert group.credit == pytest.approx(row["credit"], abs=1e-4), group.key
        assert group.amount == pytest.approx(row["amount"], abs=0.01), group.key
