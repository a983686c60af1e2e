"""Types built from the database rows whose columns carry their field names."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")


def from_row(cls: type[T], row: Mapping[str, Any], *, id_column: str | None = None) -> T:
    """An instance of the strawberry type `cls` whose fields are the row's columns of the
    same names (`id` read from `id_column`), enum fields converted from their stored value.
    A field the row lacks raises KeyError: the column list and the type must agree."""
    values: dict[str, Any] = {}
    for name, enum in _fields(cls):
        value = row[id_column if name == "id" and id_column else name]
        values[name] = enum(value) if enum is not None and value is not None else value
    return cls(**values)


_FIELDS: dict[type[Any], tuple[tuple[str, type[Enum] | None], ...]] = {}


def _fields(cls: type[Any]) -> tuple[tuple[str, type[Enum] | None], ...]:
    """The init fields of `cls` and the enum of each (None if not one), read once per type."""
    if cls not in _FIELDS:
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
        _FIELDS[cls] = tuple((f.name, enum_of(hints[f.name])) for f in fields if f.init)
    return _FIELDS[cls]


def enum_of(hint: Any) -> type[Enum] | None:
    """The enum of `E` or `E | None`; None for any other type."""
    candidate = without_none(hint)
    return candidate if isinstance(candidate, type) and issubclass(candidate, Enum) else None


def without_none(hint: Any) -> Any:
    """`T` of `T | None`; any other type as it is."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint
