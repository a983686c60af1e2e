"""Per-tenant attribution models: position weights, touch-type multipliers, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.attribution import (
    PIPELINE,
    REVENUE,
    AttributionModel,
    Conversion,
    CustomModelError,
    Weights,
    credit_conversion,
    parse_custom_model,
    parse_custom_models,
)
from shared.domain.events import Event

T0 = datetime(2026, 10, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def touch(n: int, days: float, type: str = "page_view") -> Event:
    return Event(f"e{n}", type, T0 + days * DAY, seq=n, lead_id="L1", channel="email")


def fractions(model: AttributionModel, touches: list[Event], conversion: Conversion) -> list[float]:
    return [r.fraction for r in credit_conversion(touches, conversion, model)]


PIPE = Conversion("O1", PIPELINE, T0 + 10 * DAY, 100.0, T0 + 10 * DAY)
WON = Conversion("O1", REVENUE, T0 + 10 * DAY, 100.0, T0 + 5 * DAY)


class TestParse:
    def test_full_definition(self) -> None:
        model = parse_custom_model(
            {
                "name": "ENTERPRISE_PATH",
                "weights": {
                    "first": 0.2,
                    "lead_creation": 0.2,
                    "opportunity_creation": 0.2,
                    "closed_won": 0.3,
                    "rest": 0.1,
                },
                "type_multipliers": {"webinar_attended": 1.0, "page_view": 0.1},
            }
        )
        assert model.name == "ENTERPRISE_PATH"
        assert model.rule == "POSITION"
        assert model.weights == pytest.approx(Weights(0.2, 0.2, 0.2, 0.3, 0.1))
        assert model.pipeline_weights is None
        assert model.type_multipliers == {"webinar_attended": 1.0, "page_view": 0.1}

    def test_missing_weights_are_zero_and_multipliers_optional(self) -> None:
        model = parse_custom_model(
            {"name": "FIRST_AND_REST", "weights": {"first": 0.5, "rest": 0.5}}
        )
        assert model.weights == Weights(first=0.5, rest=0.5)
        assert model.type_multipliers == {}

    def test_weights_within_tolerance_are_rescaled_to_one(self) -> None:
        model = parse_custom_model(
            {"name": "NEARLY", "weights": {"first": 0.5, "rest": 0.5 + 5e-10}}
        )
        assert sum(model.weights) == pytest.approx(1.0, abs=1e-15)

    def test_null_multipliers_mean_none(self) -> None:
        model = parse_custom_model({**VALID, "type_multipliers": None})
        assert model.type_multipliers == {}

    def test_integers_are_numbers(self) -> None:
        model = parse_custom_model({"name": "ALL_FIRST", "weights": {"first": 1}})
        assert model.weights.first == 1.0


def errors_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(CustomModelError) as caught:
        parse_custom_model(data)
    return list(caught.value.errors)


VALID: dict[str, Any] = {"name": "MY_MODEL", "weights": {"first": 0.5, "rest": 0.5}}


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        ({"name": None}, "name", "required"),
        ({"name": ""}, "name", "required"),
        ({"name": 7}, "name", "required"),
        ({"name": "my_model"}, "name", "UPPER_SNAKE"),
        ({"name": "MY-MODEL"}, "name", "UPPER_SNAKE"),
        ({"name": "_MODEL"}, "name", "UPPER_SNAKE"),
        ({"name": "MODEL_"}, "name", "UPPER_SNAKE"),
        ({"name": "MY__MODEL"}, "name", "UPPER_SNAKE"),
        ({"name": "9LIVES"}, "name", "UPPER_SNAKE"),
        ({"name": "A" * 65}, "name", "64"),
        ({"name": "W_SHAPED"}, "name", "built-in"),
        ({"name": "LINEAR"}, "name", "built-in"),
        ({"weights": None}, "weights", "required"),
        ({"weights": [0.5, 0.5]}, "weights", "required"),
        ({"weights": {"first": 0.5}}, "weights", "sum to 1"),
        ({"weights": {"first": 0.6, "rest": 0.6}}, "weights", "sum to 1"),
        ({"weights": {"first": 0.5, "rest": 0.5 + 1e-8}}, "weights", "sum to 1"),
        ({"weights": {"first": 1.5}}, "weights.first", "between 0 and 1"),
        ({"weights": {"first": 1.0, "rest": -0.5}}, "weights.rest", "between 0 and 1"),
        ({"weights": {"first": 1.0, "rest": float("nan")}}, "weights.rest", "between 0 and 1"),
        ({"weights": {"first": 1.0, "rest": "0"}}, "weights.rest", "between 0 and 1"),
        ({"weights": {"first": True}}, "weights.first", "between 0 and 1"),
        ({"weights": {"first": 10**400}}, "weights.first", "between 0 and 1"),
        ({"weights": {"first": float("inf")}}, "weights.first", "between 0 and 1"),
        ({"weights": {"first": 1.0, "middle": 0.0}}, "weights.middle", "unknown position"),
        ({"type_multipliers": []}, "type_multipliers", "object"),
        ({"type_multipliers": {"webinar": 1.0}}, "type_multipliers.webinar", "touch type"),
        ({"type_multipliers": {"deal_won": 1.0}}, "type_multipliers.deal_won", "touch type"),
        ({"type_multipliers": {"page_view": 1.1}}, "type_multipliers.page_view", "between"),
        ({"type_multipliers": {"page_view": -0.1}}, "type_multipliers.page_view", "between"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_invalid_definition_names_the_field(
    change: dict[str, Any], path: str, fragment: str
) -> None:
    errors = errors_of({**VALID, **change})
    assert len(errors) == 1, errors
    assert errors[0][0] == path
    assert fragment in errors[0][1]


def test_the_sum_is_shown_with_enough_digits() -> None:
    (error,) = errors_of({"name": "OFF", "weights": {"first": 0.5, "rest": 0.5 + 2e-9}})
    assert error == ("weights", "must sum to 1, not 1.000000002")


def test_missing_fields_and_non_objects() -> None:
    assert [p for p, _ in errors_of({})] == ["name", "weights"]
    assert errors_of([1, 2]) == [("", "must be an object")]


def test_every_problem_is_reported_at_once() -> None:
    errors = errors_of(
        {
            "name": "FULL_PATH",
            "weights": {"first": 2, "rest": 0.5},
            "type_multipliers": {"page_view": 3, "ghost": 0.5},
        }
    )
    assert [p for p, _ in errors] == [
        "name",
        "weights.first",
        "type_multipliers.page_view",
        "type_multipliers.ghost",
    ]
    # The sum is not checked while a weight itself is wrong: one error is enough there.
    assert str(CustomModelError(errors)).startswith("name: FULL_PATH is a built-in model; ")


class TestParseList:
    def test_models_in_order(self) -> None:
        models = parse_custom_models([VALID, {**VALID, "name": "OTHER"}])
        assert [m.name for m in models] == ["MY_MODEL", "OTHER"]
        assert parse_custom_models([]) == ()

    def test_paths_carry_the_index_and_names_are_unique(self) -> None:
        items: list[Any] = [VALID, {**VALID, "weights": {"first": 2}}, VALID, "not an object"]
        with pytest.raises(CustomModelError) as caught:
            parse_custom_models(items)
        assert [p for p, _ in caught.value.errors] == ["[1].weights.first", "[2].name", "[3]"]
        assert caught.value.errors[1][1] == "MY_MODEL is already defined"


class TestCredit:
    def test_multipliers_scale_then_renormalise(self) -> None:
        model = parse_custom_model(
            {
                "name": "INTENT",
                "weights": {"rest": 1},
                "type_multipliers": {"webinar_attended": 1.0, "page_view": 0.1},
            }
        )
        touches = [
            touch(1, 0, "page_view"),
            touch(2, 1, "webinar_attended"),
            touch(3, 2, "ad_click"),
        ]
        # Raw thirds, scaled 0.1 / 1 / 1 (types not listed keep 1).
        assert fractions(model, touches, PIPE) == pytest.approx([0.1 / 2.1, 1 / 2.1, 1 / 2.1])

    def test_multipliers_apply_to_position_shares(self) -> None:
        model = parse_custom_model(
            {
                "name": "FIRST_HEAVY",
                "weights": {"first": 0.8, "rest": 0.2},
                "type_multipliers": {"page_view": 0.5},
            }
        )
        touches = [touch(1, 0, "page_view"), touch(2, 1, "form_submit")]
        assert fractions(model, touches, PIPE) == pytest.approx([0.4 / 0.6, 0.2 / 0.6])

    def test_everything_multiplied_away_falls_back_to_the_raw_shares(self) -> None:
        model = parse_custom_model(
            {
                "name": "PAGE_VIEWS_ONLY",
                "weights": {"first": 0.5, "rest": 0.5},
                "type_multipliers": {"email_open": 0.0, "ad_click": 0.0},
            }
        )
        touches = [touch(1, 0, "email_open"), touch(2, 1, "ad_click"), touch(3, 2, "ad_click")]
        assert fractions(model, touches, PIPE) == pytest.approx([0.5, 0.25, 0.25])

    def test_a_zero_multiplier_leaves_a_zero_row(self) -> None:
        model = parse_custom_model(
            {"name": "NO_OPENS", "weights": {"rest": 1}, "type_multipliers": {"email_open": 0}}
        )
        touches = [touch(1, 0, "email_open"), touch(2, 1, "form_submit")]
        assert fractions(model, touches, PIPE) == [0.0, 1.0]

    def test_closed_won_weight_has_no_touch_in_pipeline_so_goes_to_the_rest(self) -> None:
        model = parse_custom_model(
            {"name": "BOOKENDS", "weights": {"first": 0.5, "closed_won": 0.5}}
        )
        touches = [touch(1, 0), touch(2, 1), touch(3, 2)]
        assert fractions(model, touches, PIPE) == pytest.approx([0.5, 0.25, 0.25])
        assert fractions(model, touches, WON) == pytest.approx([0.5, 0.0, 0.5])

    def test_opportunity_creation_weight_in_revenue(self) -> None:
        model = parse_custom_model(
            {"name": "HANDOFF", "weights": {"opportunity_creation": 0.9, "rest": 0.1}}
        )
        touches = [touch(1, 0), touch(2, 4), touch(3, 6)]
        assert fractions(model, touches, WON) == pytest.approx([0.05, 0.9, 0.05])
