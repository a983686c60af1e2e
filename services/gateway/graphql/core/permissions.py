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


# What a share link may read: the root fields its pages' views query (web/src/pages), and
# the fields that describe the link itself and carry the live updates.
SHARED_ALWAYS = frozenset({"viewer", "sharedView", "leadChanges"})
SHARED_FIELDS: dict[str, frozenset[str]] = {
    "OVERVIEW": frozenset({"metrics", "pipeline", "sourceQuality", "attribution"}),
    "PIPELINE": frozenset({"pipeline", "leads", "lead", "leadTouches", "dealPostMortem"}),
    "ACCOUNTS": frozenset({"accounts", "account"}),
    "ATTRIBUTION": frozenset({"attributionComparison"}),
    "SLA": frozenset({"slaReport", "openBreaches"}),
    "REVIEW": frozenset({"weeklyReview", "weeklyReviewMarkdown", "actionItems"}),
    "CONTENT": frozenset({"messages", "contentItems"}),
}


def shared_may_read(pages: frozenset[str], info: Any) -> bool:
    """Whether a share link of `pages` may read this field: nested fields follow their
    root; a root field must be one its pages use."""
    if info.path.prev is not None:
        return True
    name = info.field_name
    return name in SHARED_ALWAYS or any(name in SHARED_FIELDS.get(p, ()) for p in pages)


class RoleIn(BasePermission):
    """Allows the credentials whose role is one of `roles`; `message` says which
    credential the caller needs instead. Made by `allowing`, one per rule below."""

    roles: ClassVar[frozenset[str]] = frozenset()
    error_extensions = {"code": FORBIDDEN}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal is None or str(principal.role) not in self.roles:
            return False
        if principal.pages is not None and not shared_may_read(principal.pages, info):
            self.message = "this share link does not show that page"
            return False
        return True

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
