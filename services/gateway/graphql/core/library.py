"""What the alignment packages share: who may write, item ids, keyset cursors, the
library status enum, and the version history of library items (messages, content)."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import asyncpg
import strawberry
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.permission import BasePermission

from services.gateway.graphql.errors import FORBIDDEN, bad_input, coded
from shared.db import tenant_tx
from shared.domain import library

V = TypeVar("V")

NOT_FOUND = "NOT_FOUND"
LIBRARY_WRITERS = frozenset({"admin", "marketing"})
ACTION_ITEM_WRITERS = frozenset({"admin", "marketing", "sales"})


@strawberry.enum(description="DRAFT until approved; sales use APPROVED items; RETIRED is final")
class LibraryStatus(Enum):
    DRAFT = "DRAFT"
    APPROVED = "APPROVED"
    RETIRED = "RETIRED"


def _role(info: Any) -> str | None:
    principal = info.context.principal
    return None if principal is None else str(principal.role)


class CanWriteLibrary(BasePermission):
    message = "messages and content are written by marketing: use a marketing or admin credential"
    error_extensions = {"code": FORBIDDEN}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return _role(info) in LIBRARY_WRITERS


class CanWriteActionItems(BasePermission):
    message = "action items are written by sales or marketing (or admin)"
    error_extensions = {"code": FORBIDDEN}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return _role(info) in ACTION_ITEM_WRITERS


def not_found(what: str, item_id: str) -> GraphQLError:
    # Worded the same whether the id is unknown or another tenant's (SPEC 10).
    return coded(f"no {what} with id {item_id!r}", NOT_FOUND)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def encode_cursor(prefix: str, item_id: str) -> str:
    return base64.urlsafe_b64encode(f"{prefix}:{item_id}".encode()).decode().rstrip("=")


def decode_cursor(prefix: str, cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(prefix + ":"):
        raise bad_input(
            f"`after` is not a cursor of this connection: {cursor!r}",
            [("after", "not a cursor of this connection")],
        )
    return text[len(prefix) + 1 :]


def required_text(value: str, field: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise bad_input(f"`{field}` must not be empty", [(field, "must not be empty")])
    return stripped


def tags(values: list[str] | None) -> list[str]:
    """Tags as given, without blanks or repeats, in their first order."""
    return list(dict.fromkeys(v.strip() for v in values or [] if v.strip()))


def transition(
    what: str,
    item_id: str,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    state: dict[str, Any],
) -> dict[str, Any]:
    """`change` applied to a library item's `state`; a refused status change is bad input."""
    try:
        return change(state)
    except library.TransitionError as exc:
        raise bad_input(f"{what} {item_id}: {exc}", [("id", str(exc))]) from None


async def next_version(
    conn: asyncpg.Connection,
    *,
    table: str,
    id_column: str,
    columns: str,
    tenant_id: str,
    item_id: str,
    what: str,
    change: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """The state of a library item after `change`, with its next version number.

    The row is locked until the transaction ends, so concurrent edits apply one after the
    other, none is lost, and they get consecutive versions rather than the same one."""
    current = await conn.fetchrow(
        f"SELECT {columns} FROM {table} WHERE tenant_id = $1 AND {id_column} = $2 FOR UPDATE",
        tenant_id,
        item_id,
    )
    if current is None:
        raise not_found(what, item_id)
    state = transition(what, item_id, change, dict(current))
    state["version"] = current["version"] + 1
    return state


async def append_version(
    conn: asyncpg.Connection,
    table: str,
    columns: Sequence[str],
    state: Mapping[str, Any],
    *,
    tenant_id: str,
    author: str,
    at: datetime,
) -> None:
    """Appends a library item as one write left it to its history `table`: the `columns` of
    `state` (its id, version and fields), with who wrote it and when. Call it in the write's
    transaction, so the history never misses or invents a write."""
    names = ["tenant_id", *columns, "author", "created_at"]
    values = [tenant_id, *(state[c] for c in columns), author, at]
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    await conn.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})", *values)


def versions_loader(
    pool: asyncpg.Pool,
    tenant_id: str,
    table: str,
    id_column: str,
    from_row: Callable[[asyncpg.Record], V],
) -> DataLoader[str, list[V]]:
    """Batches the version histories a page of library items asks for: one query per request
    for every item's versions, oldest first."""

    async def load(ids: Sequence[str]) -> list[list[V]]:
        async with tenant_tx(pool, tenant_id) as conn:
            rows = await conn.fetch(
                f"SELECT * FROM {table} WHERE tenant_id = $1 AND {id_column} = ANY($2::text[])"
                f" ORDER BY {id_column}, version",
                tenant_id,
                list(ids),
            )
        by_id: dict[str, list[V]] = {i: [] for i in ids}
        for row in rows:
            by_id[row[id_column]].append(from_row(row))
        return [by_id[i] for i in ids]

    return DataLoader(load_fn=load)
