"""`eraseLead(id)` for admins: the lead's events, identities, traits and derived rows go,
and its ids are suppressed so that no replay or late event brings it back; an id the tenant
does not have is NOT_FOUND, so a typo suppresses nobody. `liftSuppression(id)` undoes the
suppression of a mistaken erasure. The work is services/admin/privacy.py's, shared with
`tandem erase` and `tandem suppressions lift`."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry

from services.admin.privacy import erase, erased_at, lead_known
from services.admin.privacy import lift_suppression as lift
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import bad_input, not_found
from services.gateway.graphql.core.permissions import admin_mutation


@strawberry.type(description="What an erasure removed")
class ErasedLead:
    lead_id: str
    rows_removed: int = strawberry.field(
        description="rows of the lead removed from the read model (0 if it had none yet; "
        "its later events are dropped all the same)"
    )


@strawberry.type(description="A suppression lifted")
class LiftedSuppression:
    id: strawberry.ID
    ids_lifted: int = strawberry.field(
        description="suppressed ids lifted: the lead and the anonymous ids erased with it"
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
        tenant_id = info.context.tenant_id
        async with info.context.tx() as conn:
            known = await lead_known(conn, tenant_id, lead_id)
            # Erasing again (a retried request) is answered, not refused.
            if not known and await erased_at(conn, tenant_id, lead_id) is None:
                raise not_found("lead", lead_id)
        if not known:
            return ErasedLead(lead_id=lead_id, rows_removed=0)
        removed = await erase(info.context.tx, tenant_id, lead_id)
        return ErasedLead(lead_id=lead_id, rows_removed=sum(removed.values()))

    @admin_mutation(
        "Lift the suppression of an erased lead (with the anonymous ids erased with it) or "
        "of one anonymous id: its later events are applied again. What was erased, and what "
        "arrived while it was suppressed, stays gone."
    )
    async def lift_suppression(self, info: Info, id: strawberry.ID) -> LiftedSuppression:
        subject_id = str(id)
        async with info.context.tx() as conn:
            lifted = await lift(conn, info.context.tenant_id, subject_id)
        if not lifted:
            raise not_found("suppression", subject_id)
        return LiftedSuppression(id=id, ids_lifted=lifted)
