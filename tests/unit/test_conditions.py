"""SPEC 4: the condition operators."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.conditions import OPERATORS, Condition, matches, value_error

TRAITS: dict[str, Any] = {
    "department": "Sales",
    "country": "GB",
    "company_size": 500,
    "annual_revenue": 12.5,
    "job_title": "Head of Revenue Operations",
    "is_partner": True,
    "size_text": "750",
    "tags": ["Enterprise", "fintech"],
    "nothing": None,
    "utm": {"source": "LinkedIn"},
}


def check(op: str, value: Any, attribute: str) -> bool:
    return matches(Condition(attribute, op, value), TRAITS)


@pytest.mark.parametrize(
    ("op", "value", "attribute", "expected"),
    [
        ("eq", "sales", "department", True),
        ("eq", "SALES", "department", True),
        ("eq", "marketing", "department", False),
        ("eq", 500, "company_size", True),
        ("eq", 500.0, "company_size", True),
        ("eq", "500", "company_size", False),
        ("eq", True, "is_partner", True),
        ("eq", 1, "is_partner", False),
        ("eq", False, "is_partner", False),
        ("neq", "marketing", "department", True),
        ("neq", "sAlEs", "department", False),
        ("neq", 10, "company_size", True),
        ("in", ["Marketing", "sales"], "department", True),
        ("in", ["marketing", "ops"], "department", False),
        ("in", [100, 500], "company_size", True),
        ("not_in", ["in", "us"], "country", True),
        ("not_in", ["gb"], "country", False),
        ("gte", 500, "company_size", True),
        ("gte", 501, "company_size", False),
        ("gte", 12.5, "annual_revenue", True),
        ("gte", 700, "size_text", True),
        ("gte", 1, "department", False),
        ("lte", 500, "company_size", True),
        ("lte", 499, "company_size", False),
        ("lte", 800, "size_text", True),
        ("between", [500, 1000], "company_size", True),
        ("between", [100, 500], "company_size", True),
        ("between", [501, 1000], "company_size", False),
        ("between", [0, 499.5], "company_size", False),
        ("between", [0, 10], "department", False),
        ("contains", "head", "job_title", True),
        ("contains", "REVENUE OPS", "job_title", False),
        ("contains", "revenue op", "job_title", True),
        ("contains", "vp", "job_title", False),
        ("contains", "tech", "tags", True),
        ("contains", "smb", "tags", False),
        ("contains", "5", "company_size", False),
        ("exists", None, "department", True),
        ("exists", True, "company_size", True),
        ("eq", "linkedin", "utm.source", True),
        ("exists", None, "utm.medium", False),
    ],
)
def test_operator(op: str, value: Any, attribute: str, expected: bool) -> None:
    assert check(op, value, attribute) is expected


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("eq", "x"),
        ("neq", "x"),
        ("in", ["x"]),
        ("not_in", ["x"]),
        ("gte", 1),
        ("lte", 1),
        ("between", [0, 1]),
        ("contains", "x"),
        ("exists", None),
    ],
)
@pytest.mark.parametrize("attribute", ["missing", "nothing", "utm.missing", "country.deeper"])
def test_a_condition_on_a_missing_attribute_is_false(op: str, value: Any, attribute: str) -> None:
    assert check(op, value, attribute) is False


def test_every_operator_is_covered() -> None:
    assert set(OPERATORS) == {
        "eq",
        "neq",
        "in",
        "not_in",
        "gte",
        "lte",
        "between",
        "contains",
        "exists",
    }


def test_a_literal_dotted_key_wins_over_nesting() -> None:
    mapping = {"utm.source": "direct", "utm": {"source": "linkedin"}}
    assert matches(Condition("utm.source", "eq", "direct"), mapping)


def test_tuple_values_match_like_lists() -> None:
    assert matches(Condition("country", "in", ("gb", "us")), TRAITS)
    assert matches(Condition("company_size", "between", (1, 500)), TRAITS)


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        (Condition("company_size", "gte", 500), "company_size gte 500"),
        (
            Condition("department", "in", ("Marketing", "Sales")),
            "department in ['Marketing', 'Sales']",
        ),
        (Condition("job_title", "contains", "head"), "job_title contains 'head'"),
        (Condition("is_partner", "eq", True), "is_partner eq true"),
        (Condition("email", "exists", None), "email exists"),
    ],
)
def test_describe(condition: Condition, text: str) -> None:
    assert condition.describe() == text


def test_to_dict_gives_lists() -> None:
    assert Condition("country", "not_in", ("in",)).to_dict() == {
        "attribute": "country",
        "op": "not_in",
        "value": ["in"],
    }


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("eq", "x"),
        ("eq", 3),
        ("eq", False),
        ("neq", 2.5),
        ("in", ["a", 1, True]),
        ("not_in", ("a",)),
        ("gte", 0),
        ("lte", -3.5),
        ("between", [1, 1]),
        ("between", [-1.5, 2]),
        ("contains", "x"),
        ("exists", None),
        ("exists", True),
    ],
)
def test_valid_operands(op: str, value: Any) -> None:
    assert value_error(op, value) is None


@pytest.mark.parametrize(
    ("op", "value", "message"),
    [
        ("like", "x", "unknown operator 'like'; expected one of eq, neq, in"),
        ("eq", ["a"], "eq needs one string, number or boolean, got a list of 1"),
        ("neq", None, "neq needs one string, number or boolean, got null"),
        ("eq", {"a": 1}, "eq needs one string, number or boolean, got an object"),
        ("in", "sales", "in needs a list of values, got the string 'sales'"),
        ("not_in", 3, "not_in needs a list of values, got the number 3"),
        ("in", [], "in needs at least one value in its list"),
        ("in", ["a", ["b"]], "in list item 1 must be a string, number or boolean, got a list of 1"),
        ("gte", "500", "gte needs a number, got the string '500'"),
        ("lte", True, "lte needs a number, got a boolean"),
        ("between", 5, "between needs [lo, hi], a list of two numbers, got the number 5"),
        ("between", [1, 2, 3], "between needs [lo, hi], a list of two numbers, got a list of 3"),
        ("between", [1, "x"], "between needs two numbers [lo, hi], got [the number 1, the string"),
        ("between", [5, 1], "between needs lo ≤ hi, got [5, 1]"),
        ("contains", "", "contains needs a non-empty string, got the string ''"),
        ("contains", 5, "contains needs a non-empty string, got the number 5"),
        ("exists", False, "exists takes no value (or true), got a boolean"),
        ("exists", "yes", "exists takes no value (or true), got the string 'yes'"),
    ],
)
def test_invalid_operands(op: str, value: Any, message: str) -> None:
    error = value_error(op, value)
    assert error is not None
    assert error.startswith(message)
