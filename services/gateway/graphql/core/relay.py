"""Relay pagination for every connection (SPEC 9.2): page sizes, `PageInfo`, the generic
`Edge` and `Connection`, and the one cursor codec, which a connection uses through its
`Keyset` (what its cursors hold, written and read in one place); and the query of one
node by its id.

A cursor is `kind:key` in unpadded URL-safe base64: `kind` names the connection, so a
cursor of one connection is refused by another, and `key` is the keyset position (one
string as it is, several as a JSON array). Clients treat cursors as opaque."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from graphql import GraphQLError

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.permissions import read_field

MAX_PAGE = 500
DEFAULT_PAGE = 100
# How the connections that take `first` describe it.
FIRST_ARGUMENT = f"`first` defaults to {DEFAULT_PAGE}, at most {MAX_PAGE}"


def node_query(
    node: type[Any], load: Callable[[Info, str], Awaitable[Any]], description: str
) -> Any:
    """The query of one `node` by its id: what `load` reads for the request, or null."""

    async def resolve(info: Info, id: strawberry.ID) -> Any:
        return await load(info, str(id))

    # Built for each node type, so the schema's types come from the arguments.
    resolve.__annotations__ = {"info": Info, "id": strawberry.ID, "return": node | None}
    return read_field(description)(resolve)


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


def _parts(kind: str, cursor: str, parts: int) -> tuple[str, ...]:
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


N = TypeVar("N")
R = TypeVar("R")


@strawberry.type
class Edge(Generic[N]):
    """A node and its cursor. The schema names `Edge[Lead]` `LeadEdge`; a connection whose
    edge type must be named otherwise subclasses it (`ContentEdge(Edge[ContentItem])`)."""

    cursor: str
    node: N


E = TypeVar("E", bound=Edge[Any])


@strawberry.type
class Connection(Generic[E]):
    """A connection's edges and page info: a connection type subclasses it with its edge
    type (`LeadConnection(Connection[Edge[Lead]])`) and adds what else it answers."""

    edges: list[E]
    page_info: PageInfo


@dataclass(frozen=True)
class Keyset:
    """The cursors of one connection, written and read in one place: `kind` names the
    connection, and a cursor holds its row's keyset position, the row's `columns` in
    order (column → the parser that reads its text back)."""

    kind: str
    columns: Mapping[str, Callable[[str], Any]]

    def cursor(self, row: Any) -> str:
        return encode_cursor(self.kind, *(_text(row[column]) for column in self.columns))

    def position(self, after: str | None) -> tuple[Any, ...] | None:
        """The position the cursor `after` holds (None: the first page). A cursor of
        another connection, or a part its parser refuses, is the client's mistake."""
        if after is None:
            return None
        parsers = tuple(self.columns.values())
        one = len(parsers) == 1
        parts = (
            (decode_cursor(self.kind, after),) if one else _parts(self.kind, after, len(parsers))
        )
        try:
            return tuple(parse(part) for parse, part in zip(parsers, parts, strict=True))
        except ValueError:
            raise foreign_cursor(after) from None

    def page(
        self, rows: Sequence[R], limit: int, after: str | None, node: Callable[[R], N]
    ) -> tuple[list[Edge[N]], PageInfo]:
        """The edges of a page and its info, from the `limit + 1` rows a keyset query read
        (the extra row only tells that a next page exists); `node` makes a row's node."""
        edges = [Edge(cursor=self.cursor(row), node=node(row)) for row in rows[:limit]]
        info = PageInfo.of([e.cursor for e in edges], has_next_page=len(rows) > limit, after=after)
        return edges, info


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
