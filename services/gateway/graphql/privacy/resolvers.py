"""`eraseLead(id)` for admins: the lead's events, identities, traits and derived rows go,
and its ids are suppressed so that no replay or late event brings it back. The work is
shared/erasure.py's, shared with `tandem erase`."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.permissions import admin_mutation
from shared.erasure import erase


@strawberry.type(description="What an erasure removed")
class ErasedLead:
    lead_id: str
    rows_removed: int = strawberry.field(
        description="rows of the lead removed from the read model (0 if it had none yet; "
        "its later events are dropped all the same)"
    )


@strawberry.type
class PrivacyMutations:
    @admin_mutation(
        "Erase one person: the lead's events, linked anonymous ids, traits and "
        "every derived row; metrics and attribution no longer count it, and later events "
        "naming it are dropped."
    )
    async def erase_lead(self, info: Info, id: strawberry.ID) -> ErasedLead:
        lead_id = str(id)
        if not 1 <= len(lead_id) <= 128:
            raise bad_input("id must be a lead id of 1 to 128 characters", [("id", "length")])
        removed = await erase(info.context.tx, info.context.tenant_id, lead_id)
        return ErasedLead(lead_id=lead_id, rows_removed=sum(removed.values()))
