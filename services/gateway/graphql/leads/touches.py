"""A lead's marketing touches, the events behind its engagement score and attribution, as a
Relay connection in time order (keyset on occurred_at and the arrival sequence)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime

import asyncpg
import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.relay import Connection, Edge, Keyset, page_size
from shared.domain.events import MARKETING_TOUCHES

_KEYSET = Keyset("touch", {"occurred_at": datetime.fromisoformat, "seq": int})
_TOUCH_TYPES = sorted(MARKETING_TOUCHES)


@strawberry.type(description="A marketing touch of a lead")
class LeadTouch:
    event_id: str
    type: str
    occurred_at: datetime
    channel: str | None = strawberry.field(
        description="null: the touch named none (`(none)` in attribution)"
    )
    campaign_id: str | None
    content_id: str | None
    message_id: str | None
    stitched: bool = strawberry.field(
        description="sent anonymously and linked to the lead by a later identify"
    )


@strawberry.type(description="A lead's touches, oldest first (by time, then arrival)")
class LeadTouchConnection(Connection[Edge[LeadTouch]]):
    @strawberry.field(description="how many touches the lead has, over every page")
    async def total_count(self, info: Info) -> int:
        count = await info.context.scope.fetchval(
            "SELECT count(*) FROM events WHERE tenant_id = $1 AND lead_id = $2"
            " AND type = ANY($3::text[])",
            self.lead_id,
            _TOUCH_TYPES,
        )
        return int(count)

    lead_id: strawberry.Private[str]


def _touch(row: asyncpg.Record) -> LeadTouch:
    fields = dict(row)
    del fields["seq"]
    return LeadTouch(**fields)


async def lead_touches(
    info: Info, lead_id: str, first: int | None, after: str | None
) -> LeadTouchConnection:
    limit = page_size(first)
    args: list[object] = [info.context.tenant_id, lead_id, _TOUCH_TYPES]
    keyset = ""
    position = _KEYSET.position(after)
    if position is not None:
        args.extend(position)
        keyset = " AND (occurred_at, seq) > ($4, $5)"
    args.append(limit + 1)
    sql = (
        "SELECT event_id, seq, type, occurred_at, channel, campaign_id, content_id, message_id,"
        " stitched FROM events WHERE tenant_id = $1 AND lead_id = $2 AND type = ANY($3::text[])"
        f"{keyset} ORDER BY occurred_at, seq LIMIT ${len(args)}"
    )
    async with info.context.tx() as conn:
        rows = await conn.fetch(sql, *args)
    edges, page_info = _KEYSET.page(rows, limit, after, _touch)
    return LeadTouchConnection(edges=edges, page_info=page_info, lead_id=lead_id)
