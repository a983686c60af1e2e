"""Who may call what (SPEC 10): every role but `ingest` reads; configuration needs `admin`."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from services.gateway.graphql.errors import FORBIDDEN

READ_ROLES = frozenset({"admin", "marketing", "sales", "viewer"})


def _role(info: Any) -> str | None:
    principal = info.context.principal
    return None if principal is None else str(principal.role)


class CanRead(BasePermission):
    message = "this credential may not read: the ingest role only sends events"
    error_extensions = {"code": FORBIDDEN}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return _role(info) in READ_ROLES


class IsAdmin(BasePermission):
    message = "changing the tenant configuration needs an admin credential"
    error_extensions = {"code": FORBIDDEN}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return _role(info) == "admin"
