"""Relay pagination for every connection (SPEC 9.2): page sizes, `PageInfo`, and the one
cursor codec.

A cursor is `kind:key` in unpadded URL-safe base64: `kind` names the connection, so a
cursor of one connection is refused by another, and `key` is the keyset position (one
string as it is, several as a JSON array). Clients treat cursors as opaque."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import orjson
import strawberry
from graphql import GraphQLError

from services.gateway.graphql.core.errors import bad_input

MAX_PAGE = 500
DEFAULT_PAGE = 100


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise bad_input(
            f"`first` must be between 0 and {MAX_PAGE} (the maximum page size), got {first}; "
            "fetch further pages with `after`",
            [("first", f"must be between 0 and {MAX_PAGE}")],
        )
    return first


def encode_cursor(kind: str, *key: str) -> str:
    text = key[0] if len(key) == 1 else orjson.dumps(list(key)).decode()
    return base64.urlsafe_b64encode(f"{kind}:{text}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> str:
    """The key of a one-string cursor of the connection `kind`."""
    return _payload(kind, cursor)


def decode_cursor_parts(kind: str, cursor: str, parts: int) -> tuple[str, ...]:
    """The key of a cursor of `kind` made of `parts` strings."""
    try:
        key = orjson.loads(_payload(kind, cursor))
    except orjson.JSONDecodeError:
        key = None
    if not (isinstance(key, list) and len(key) == parts and all(isinstance(k, str) for k in key)):
        raise foreign_cursor(cursor)
    return tuple(key)


def _payload(kind: str, cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(kind + ":"):
        raise foreign_cursor(cursor)
    return text[len(kind) + 1 :]


def foreign_cursor(cursor: str) -> GraphQLError:
    return bad_input(
        f"`after` is not a cursor of this connection: {cursor!r}; pass an endCursor or "
        "edge cursor from a previous page",
        [("after", "not a cursor of this connection")],
    )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, cursors: list[str], *, has_next_page: bool, after: str | None) -> PageInfo:
        """The page info of a forward page whose edges carry `cursors`."""
        return cls(
            has_next_page=has_next_page,
            has_previous_page=after is not None,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


class Edge(Protocol):
    @property
    def cursor(self) -> str: ...


R = TypeVar("R")
E = TypeVar("E", bound=Edge)


def forward_page(
    rows: Sequence[R], limit: int, after: str | None, edge: Callable[[R], E]
) -> tuple[list[E], PageInfo]:
    """The edges of a page and its info, from the `limit + 1` rows a keyset query read
    (the extra row only tells that a next page exists)."""
    edges = [edge(row) for row in rows[:limit]]
    info = PageInfo.of([e.cursor for e in edges], has_next_page=len(rows) > limit, after=after)
    return edges, info
