"""Who may call what (SPEC 10): every role but `ingest` reads; configuration needs `admin`;
the library is written by marketing, action items by sales or marketing."""

from __future__ import annotations

from typing import Any, ClassVar

import strawberry
from strawberry.permission import BasePermission

from services.gateway.graphql.core.errors import FORBIDDEN

READ_ROLES = frozenset({"admin", "marketing", "sales", "viewer"})
ANY_ROLE = READ_ROLES | {"ingest"}
LIBRARY_WRITERS = frozenset({"admin", "marketing"})
ACTION_ITEM_WRITERS = frozenset({"admin", "marketing", "sales"})


class RoleIn(BasePermission):
    """Allows the credentials whose role is one of `roles`; `message` says which
    credential the caller needs instead. Made by `allowing`, one per rule below."""

    roles: ClassVar[frozenset[str]] = frozenset()
    error_extensions = {"code": FORBIDDEN}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = info.context.principal
        return principal is not None and str(principal.role) in self.roles

    @classmethod
    def allowing(cls, roles: frozenset[str], message: str) -> type[RoleIn]:
        name = f"RoleIn({', '.join(sorted(roles))})"
        return type(name, (cls,), {"roles": roles, "message": message})


# Any valid credential: only for the fields that describe the credential itself.
IsAuthenticated = RoleIn.allowing(ANY_ROLE, "a valid API key or JWT is required")
CanRead = RoleIn.allowing(READ_ROLES, "the ingest role only sends events; it may not read")
IsAdmin = RoleIn.allowing(frozenset({"admin"}), "this needs an admin credential")
CanWriteLibrary = RoleIn.allowing(
    LIBRARY_WRITERS,
    "messages and content are written by marketing: use a marketing or admin credential",
)
CanWriteActionItems = RoleIn.allowing(
    ACTION_ITEM_WRITERS, "action items are written by sales or marketing (or admin)"
)


# The decorators of the fields most rules guard, so a field names its rule where it is
# declared (strawberry.field and strawberry.mutation with that rule's permission).
def read_field(description: str | None = None) -> Any:
    return strawberry.field(permission_classes=[CanRead], description=description)


def admin_field(description: str | None = None) -> Any:
    return strawberry.field(permission_classes=[IsAdmin], description=description)


def admin_mutation(description: str | None = None) -> Any:
    return strawberry.mutation(permission_classes=[IsAdmin], description=description)


def library_mutation(description: str | None = None) -> Any:
    return strawberry.mutation(permission_classes=[CanWriteLibrary], description=description)


def action_item_mutation(description: str | None = None) -> Any:
    return strawberry.mutation(permission_classes=[CanWriteActionItems], description=description)
