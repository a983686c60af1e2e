"""The condition operators of ICP rules, disqualifiers and engagement `when` clauses (SPEC 4).

A condition names an attribute (a trait of the lead, or a key of an event's properties), an
operator and a value. A condition on a missing attribute is false whatever the operator, so
`neq` and `not_in` never match a lead that lacks the trait: an unknown country is not
"outside India", it is unknown. A null value counts as missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

OPERATORS: tuple[str, ...] = (
    "eq",
    "neq",
    "in",
    "not_in",
    "gte",
    "lte",
    "between",
    "contains",
    "exists",
)


@dataclass(frozen=True, slots=True)
class Condition:
    """`value` holds JSON scalars; a list value is kept as a tuple so conditions stay hashable."""

    attribute: str
    op: str
    value: Any

    def describe(self) -> str:
        if self.op == "exists":
            return f"{self.attribute} exists"
        return f"{self.attribute} {self.op} {_show(self.value)}"

    def to_dict(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"attribute": self.attribute, "op": self.op, "value": value}


def matches(condition: Condition, mapping: Mapping[str, Any]) -> bool:
    actual = _lookup(mapping, condition.attribute)
    if actual is None:
        return False
    return _OPERATIONS[condition.op](actual, condition.value)


def value_error(op: str, value: Any) -> str | None:
    """Why `value` cannot be the operand of `op`, or None when it can."""
    if op not in _OPERATIONS:
        return f"unknown operator {op!r}; expected one of {', '.join(OPERATORS)}"
    if op in ("eq", "neq"):
        if not _is_scalar(value):
            return f"{op} needs one string, number or boolean, got {_kind(value)}"
    elif op in ("in", "not_in"):
        if not isinstance(value, list | tuple):
            return f"{op} needs a list of values, got {_kind(value)}"
        if not value:
            return f"{op} needs at least one value in its list"
        for i, item in enumerate(value):
            if not _is_scalar(item):
                return f"{op} list item {i} must be a string, number or boolean, got {_kind(item)}"
    elif op in ("gte", "lte"):
        if not _is_number(value):
            return f"{op} needs a number, got {_kind(value)}"
    elif op == "between":
        if not (isinstance(value, list | tuple) and len(value) == 2):
            return f"between needs [lo, hi], a list of two numbers, got {_kind(value)}"
        lo, hi = value
        if not (_is_number(lo) and _is_number(hi)):
            return f"between needs two numbers [lo, hi], got [{_kind(lo)}, {_kind(hi)}]"
        if lo > hi:
            return f"between needs lo ≤ hi, got [{lo}, {hi}]"
    elif op == "contains":
        if not (isinstance(value, str) and value):
            return f"contains needs a non-empty string, got {_kind(value)}"
    elif value is not None and value is not True:
        # `exists: false` would contradict the rule that a condition on a missing
        # attribute is false, so absence cannot be tested.
        return f"exists takes no value (or true), got {_kind(value)}"
    return None


def _lookup(mapping: Mapping[str, Any], attribute: str) -> Any:
    if attribute in mapping:
        return mapping[attribute]
    # Event properties nest (e.g. utm.source); a literal key with a dot still wins above.
    current: Any = mapping
    for part in attribute.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _as_number(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        # Partner tools often send numeric traits as strings ("company_size": "500").
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    if isinstance(actual, bool) or isinstance(expected, bool):
        # Python's True == 1 must not make a boolean trait equal a number.
        return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
    if _is_number(actual) and _is_number(expected):
        return bool(actual == expected)
    return False


def _eq(actual: Any, expected: Any) -> bool:
    return _equal(actual, expected)


def _neq(actual: Any, expected: Any) -> bool:
    return not _equal(actual, expected)


def _in(actual: Any, expected: Any) -> bool:
    return any(_equal(actual, item) for item in expected)


def _not_in(actual: Any, expected: Any) -> bool:
    return not _in(actual, expected)


def _gte(actual: Any, expected: Any) -> bool:
    number = _as_number(actual)
    return number is not None and number >= expected


def _lte(actual: Any, expected: Any) -> bool:
    number = _as_number(actual)
    return number is not None and number <= expected


def _between(actual: Any, expected: Any) -> bool:
    number = _as_number(actual)
    lo, hi = expected
    return number is not None and lo <= number <= hi


def _contains(actual: Any, expected: Any) -> bool:
    needle = str(expected).casefold()
    if isinstance(actual, str):
        return needle in actual.casefold()
    if isinstance(actual, list | tuple):
        # A multi-valued trait (tags, interests) contains the text if any of its items does.
        return any(isinstance(item, str) and needle in item.casefold() for item in actual)
    return False


def _exists(actual: Any, expected: Any) -> bool:
    return True


_OPERATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _eq,
    "neq": _neq,
    "in": _in,
    "not_in": _not_in,
    "gte": _gte,
    "lte": _lte,
    "between": _between,
    "contains": _contains,
    "exists": _exists,
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _show(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
