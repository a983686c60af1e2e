"""`viewer`: who is asking. The dashboard shows and enables what the role may do (SPEC 16);
the permissions on each field stay the authority."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry

from services.gateway.auth import Role
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import UNAUTHENTICATED, coded
from services.gateway.graphql.core.permissions import IsAuthenticated

strawberry.enum(Role, description="What a credential may do")


@strawberry.type(description="The credential of this request")
class Viewer:
    tenant: str
    role: Role
    subject: str = strawberry.field(description="the API key id (`key:…`) or the JWT subject")


@strawberry.type
class ViewerQueries:
    @strawberry.field(
        description="The tenant and role of this request's credential; answered for every "
        "role, so a frontend can tell an ingest-only key from a reading one",
        permission_classes=[IsAuthenticated],
    )
    def viewer(self, info: Info) -> Viewer:
        principal = info.context.principal
        if principal is None:
            raise coded("no credential", UNAUTHENTICATED)
        return Viewer(
            tenant=principal.tenant_id, role=Role(principal.role), subject=principal.subject
        )
