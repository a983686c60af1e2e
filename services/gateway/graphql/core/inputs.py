"""How mutations read their input objects: each field by a reader, which checks and
normalises it and names the field in its error by the path the client sent
(`input.weekStart`); and the update input that mirrors a create input."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, get_type_hints

import strawberry
from strawberry.utils.str_converters import to_camel_case

from services.gateway.graphql.core.errors import bad_input

# Reads one input field: from its value and its path in errors ("input.title").
Reader = Callable[[Any, str], Any]


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def required_text(value: str, path: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise bad_input(f"`{path}` must not be empty", [(path, "must not be empty")])
    return stripped


def tags(values: list[str] | None) -> list[str]:
    """Tags as given, without blanks or repeats, in their first order."""
    return list(dict.fromkeys(v.strip() for v in values or [] if v.strip()))


def tag_list(value: list[str] | None, path: str) -> list[str]:
    return tags(value)


def enum_value(value: Enum, path: str) -> Any:
    return value.value


def as_given(value: Any, path: str) -> Any:
    return value


def read_input(
    input: Any, readers: Mapping[str, Reader], *, given_only: bool = False
) -> dict[str, Any]:
    """Each field of the `input` object read by its reader; with `given_only`, only the
    fields it gives (not null), as an update does."""
    fields = {name: getattr(input, name) for name in readers}
    return {
        name: readers[name](value, f"input.{to_camel_case(name)}")
        for name, value in fields.items()
        if not (given_only and value is None)
    }


def patch_input(full: type[Any]) -> type[Any]:
    """The update input `XUpdateInput` of the create input `XInput`: the same fields, each
    optional, so that a field left out (or null) keeps its value."""
    hints = get_type_hints(full)
    definition = full.__strawberry_definition__
    annotations = {f.python_name: hints[f.python_name] | None for f in definition.fields}
    name = definition.name.removesuffix("Input") + "UpdateInput"
    namespace = {"__annotations__": annotations, **dict.fromkeys(annotations)}
    return strawberry.input(
        type(name, (), namespace), description="The fields to change; the others keep their value"
    )
