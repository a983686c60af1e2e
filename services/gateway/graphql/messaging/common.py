"""What the alignment packages share: who may write, item ids, keyset cursors, and the
library status enum."""

from __future__ import annotations

import base64
import binascii
import secrets
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.permission import BasePermission

from services.gateway.graphql.errors import FORBIDDEN, bad_input, coded

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
