"""Action items of the weekly review (SPEC 8), written by sales and marketing."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import asyncpg
import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import bad_input, not_found
from services.gateway.graphql.core.inputs import (
    Reader,
    as_given,
    enum_value,
    new_id,
    patch_input,
    read_input,
    required_text,
)
from services.gateway.graphql.core.permissions import (
    action_item_mutation,
    read_field,
)
from services.gateway.graphql.core.rows import from_row


@strawberry.enum
class Team(Enum):
    SALES = "SALES"
    MARKETING = "MARKETING"
    BOTH = "BOTH"


@strawberry.enum
class ActionItemStatus(Enum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    DROPPED = "DROPPED"


ACTION_ITEM_COLUMNS = (
    "action_item_id, title, owner, team, due_date, status, week_start, author,"
    " created_at, updated_at"
)


@strawberry.type(description="A commitment of the weekly review")
class ActionItem:
    id: strawberry.ID
    title: str
    owner: str
    team: Team
    due_date: date | None
    status: ActionItemStatus
    week_start: date = strawberry.field(description="the Monday of the review that agreed it")
    author: str = strawberry.field(description="who last wrote it")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> ActionItem:
        return from_row(cls, row, id_column="action_item_id")


@strawberry.input
class ActionItemInput:
    title: str
    owner: str
    team: Team
    week_start: date = strawberry.field(description="a Monday")
    due_date: date | None = None
    status: ActionItemStatus = ActionItemStatus.OPEN


def check_monday(day: date, path: str) -> date:
    if day.isoweekday() != 1:
        raise bad_input(
            f"{path} must be a Monday; {day.isoformat()} is a {day.strftime('%A')}",
            [(path, "must be a Monday")],
        )
    return day


async def items_of_week(
    conn: asyncpg.Connection, tenant_id: str, week_start: date, status: str | None = None
) -> list[ActionItem]:
    rows = await conn.fetch(
        f"SELECT {ACTION_ITEM_COLUMNS} FROM action_items WHERE tenant_id = $1"
        " AND week_start = $2 AND ($3::text IS NULL OR status = $3)"
        " ORDER BY created_at, action_item_id",
        tenant_id,
        week_start,
        status,
    )
    return [ActionItem.from_row(r) for r in rows]


# Still to do: the statuses an item carries forward from an earlier review.
_UNFINISHED = ("OPEN", "IN_PROGRESS")


async def items_carried_over(
    conn: asyncpg.Connection, tenant_id: str, week_start: date
) -> list[ActionItem]:
    """The items agreed at earlier reviews and not done or dropped yet, oldest first."""
    rows = await conn.fetch(
        f"SELECT {ACTION_ITEM_COLUMNS} FROM action_items WHERE tenant_id = $1"
        " AND week_start < $2 AND status = ANY($3::text[])"
        " ORDER BY week_start, created_at, action_item_id",
        tenant_id,
        week_start,
        list(_UNFINISHED),
    )
    return [ActionItem.from_row(r) for r in rows]


async def _store(conn: asyncpg.Connection, info: Info, state: dict[str, Any]) -> ActionItem:
    ctx = info.context
    assert ctx.principal is not None
    row = await conn.fetchrow(
        "INSERT INTO action_items (tenant_id, action_item_id, title, owner, team, due_date,"
        " status, week_start, author, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)"
        " ON CONFLICT (tenant_id, action_item_id) DO UPDATE SET title = EXCLUDED.title,"
        " owner = EXCLUDED.owner, team = EXCLUDED.team, due_date = EXCLUDED.due_date,"
        " status = EXCLUDED.status, week_start = EXCLUDED.week_start,"
        f" author = EXCLUDED.author, updated_at = EXCLUDED.updated_at"
        f" RETURNING {ACTION_ITEM_COLUMNS}",
        ctx.tenant_id,
        state["action_item_id"],
        state["title"],
        state["owner"],
        state["team"],
        state["due_date"],
        state["status"],
        state["week_start"],
        ctx.principal.subject,
        ctx.now(),
    )
    return ActionItem.from_row(row)


@strawberry.type
class ActionItemQueries:
    @read_field("The action items agreed in the review of a week, oldest first")
    async def action_items(
        self, info: Info, week_start: date, status: ActionItemStatus | None = None
    ) -> list[ActionItem]:
        check_monday(week_start, "weekStart")
        return await info.context.scope.run(
            items_of_week, week_start, None if status is None else status.value
        )


# How the create and update inputs' fields are read.
_READERS: dict[str, Reader] = {
    "title": required_text,
    "owner": required_text,
    "team": enum_value,
    "due_date": as_given,
    "status": enum_value,
    "week_start": check_monday,
}


async def _update_action_item(info: Info, id: strawberry.ID, input: Any) -> ActionItem:
    async with info.context.tx() as conn:
        current = await conn.fetchrow(
            f"SELECT {ACTION_ITEM_COLUMNS} FROM action_items WHERE tenant_id = $1"
            " AND action_item_id = $2 FOR UPDATE",
            info.context.tenant_id,
            str(id),
        )
        if current is None:
            raise not_found("action item", str(id))
        state = {**current, **read_input(input, _READERS, given_only=True)}
        return await _store(conn, info, state)


# The update input is the create input with every field optional.
_update_action_item.__annotations__["input"] = patch_input(ActionItemInput)


@strawberry.type
class ActionItemMutations:
    @action_item_mutation()
    async def create_action_item(self, info: Info, input: ActionItemInput) -> ActionItem:
        state = {"action_item_id": new_id("act"), **read_input(input, _READERS)}
        async with info.context.tx() as conn:
            return await _store(conn, info, state)

    update_action_item = action_item_mutation()(_update_action_item)
