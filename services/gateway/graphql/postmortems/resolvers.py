"""Deal post-mortems (SPEC 17): one closed deal's three questions with evidence, and a
period's won deals beside its lost ones."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import not_found
from services.gateway.graphql.core.periods import From, period_query
from services.gateway.graphql.core.permissions import read_field
from services.gateway.graphql.nodes.postmortem import DealPostMortem, PostMortemComparison
from shared.postmortem_store import closed_in, post_mortems_of


@strawberry.type
class PostMortemQueries:
    @read_field(
        "Was the lead qualified, engaged with content, and answered with the "
        "right messages? For any opportunity; the evidence runs up to its close"
    )
    async def deal_post_mortem(self, info: Info, opportunity_id: strawberry.ID) -> DealPostMortem:
        ctx = info.context
        found = await ctx.scope.run(post_mortems_of, [str(opportunity_id)], ctx.now())
        if not found:
            raise not_found("opportunity", str(opportunity_id))
        return DealPostMortem.of(found[0])

    @period_query("The post-mortems of the deals won and lost in [from, to), side by side")
    async def post_mortems(self, info: Info, from_: From, to: datetime) -> PostMortemComparison:
        ctx = info.context
        async with ctx.tx() as conn:
            ids = await closed_in(conn, ctx.tenant_id, from_, to)
            found = await post_mortems_of(conn, ctx.tenant_id, ids, ctx.now())
        return PostMortemComparison.of(found)
