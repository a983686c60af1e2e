"""`eraseLead(id)` for admins: the lead's events, identities, traits and derived rows go,
and its ids are suppressed so that no replay or late event brings it back; an id the tenant
does not have is NOT_FOUND, so a typo suppresses nobody. `liftSuppression(id)` undoes the
suppression of a mistaken erasure. The work is shared/erasure.py's, shared with `tandem erase`
and `tandem suppressions lift`."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime
from enum import Enum

import asyncpg
import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import bad_input, not_found
from services.gateway.graphql.core.permissions import admin_field, admin_mutation
from services.gateway.graphql.core.relay import Connection, Edge, Keyset, page_size
from shared.erasure import erase, erased_at, lead_known, suppressed_hashes
from shared.erasure import lift_suppression as lift


@strawberry.type(description="What an erasure removed")
class ErasedLead:
    lead_id: str
    rows_removed: int = strawberry.field(
        description="rows of the lead removed from the read model (0 if it had none yet; "
        "its later events are dropped all the same)"
    )


@strawberry.enum(description="What a suppressed id named")
class SuppressedKind(Enum):
    LEAD = "lead"
    ANONYMOUS = "anonymous"


@strawberry.type(
    description="An erased id whose later events are dropped; only its SHA-256 is kept, so "
    "the list names nobody"
)
class Suppression:
    kind: SuppressedKind
    id_hash: str = strawberry.field(description="SHA-256 of the id, hex")
    lead_hash: str | None = strawberry.field(
        description="SHA-256 of the lead it was erased with (null: erased before this was kept)"
    )
    erased_at: datetime

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> Suppression:
        return cls(
            kind=SuppressedKind(row["kind"]),
            id_hash=row["id_hash"],
            lead_hash=row["lead_hash"],
            erased_at=row["erased_at"],
        )


@strawberry.type
class SuppressionConnection(Connection[Edge[Suppression]]):
    pass


_CURSORS = Keyset("suppression", {"erased_at": datetime.fromisoformat, "kind": str, "id_hash": str})


@strawberry.type
class PrivacyQueries:
    @admin_field(
        "Erased ids whose later events are dropped, oldest first; with `id`, those of that "
        "lead (and the anonymous ids erased with it) or anonymous id"
    )
    async def suppressions(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> SuppressionConnection:
        limit = page_size(first)
        position = _CURSORS.position(after) or (None, None, None)
        hashes = None if id is None else await info.context.scope.run(suppressed_hashes, str(id))
        rows = await info.context.scope.fetch(
            "SELECT kind, encode(subject_hash, 'hex') AS id_hash,"
            " encode(lead_hash, 'hex') AS lead_hash, erased_at FROM erased_subjects"
            " WHERE tenant_id = $1 AND ($2::bytea[] IS NULL OR subject_hash = ANY($2)"
            " OR lead_hash = ANY($2)) AND ($3::timestamptz IS NULL"
            " OR (erased_at, kind, encode(subject_hash, 'hex')) > ($3, $4, $5))"
            " ORDER BY erased_at, kind, encode(subject_hash, 'hex') LIMIT $6",
            hashes,
            *position,
            limit + 1,
        )
        edges, page = _CURSORS.page(rows, limit, after, Suppression.from_record)
        return SuppressionConnection(edges=edges, page_info=page)


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
