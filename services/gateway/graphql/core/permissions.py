"""Who may call what (SPEC 10): every role but `ingest` reads; configuration needs `admin`;
the library is written by marketing, action items by sales or marketing."""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission

from services.gateway.graphql.core.errors import FORBIDDEN

READ_ROLES = frozenset({"admin", "marketing", "sales", "viewer"})
ANY_ROLE = READ_ROLES | {"ingest"}
LIBRARY_WRITERS = frozenset({"admin", "marketing"})
ACTION_ITEM_WRITERS = frozenset({"admin", "marketing", "sales"})


class RoleIn(BasePermission):
    """Allows the credentials whose role is one of `roles`; subclasses name the roles and
    say, in `message`, which credential the caller needs instead."""

    roles: ClassVar[frozenset[str]] = frozenset()
    error_extensions = {"code": FORBIDDEN}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = info.context.principal
        return principal is not None and str(principal.role) in self.roles


class IsAuthenticated(RoleIn):
    """Any valid credential: only for fields that describe the credential itself."""

    roles = ANY_ROLE
    message = "a valid API key or JWT is required"


class CanRead(RoleIn):
    roles = READ_ROLES
    message = "this credential may not read: the ingest role only sends events"


class IsAdmin(RoleIn):
    roles = frozenset({"admin"})
    message = "changing the tenant configuration needs an admin credential"


class CanWriteLibrary(RoleIn):
    roles = LIBRARY_WRITERS
    message = "messages and content are written by marketing: use a marketing or admin credential"


class CanWriteActionItems(RoleIn):
    roles = ACTION_ITEM_WRITERS
    message = "action items are written by sales or marketing (or admin)"
