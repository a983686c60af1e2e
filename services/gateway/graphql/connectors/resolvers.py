"""Connector settings (SPEC 14), admin only: enable or disable a connector, override its
mappings (documented in docs/connectors.md), and set or rotate its secret. Secrets are
write-only: a generated one is shown once, and no query returns any."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from services.gateway.auth import Role, insert_key, key_id_of
from services.gateway.connectors.overrides import defaults, override_problems
from services.gateway.connectors.tenant_settings import (
    CLEAR_SECRETS,
    CONNECTORS,
    new_secret,
    save_settings,
)
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.permissions import admin_field, admin_mutation
from services.gateway.graphql.core.rows import from_row
from shared.secret_box import box, context_for

MAX_SECRET_LENGTH = 512


@strawberry.enum(description="A source of events that speaks its own format")
class Connector(Enum):
    SEGMENT = "segment"
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"
    MONDAY = "monday"


assert tuple(c.value for c in Connector) == CONNECTORS, "one list of connectors"


@strawberry.type(description="A connector's settings; its secret is never shown")
class ConnectorSettings:
    connector: Connector
    enabled: bool
    secret_set: bool = strawberry.field(description="whether a secret is stored")
    secret_rotated_at: datetime | None
    mappings: JSON = strawberry.field(description="the tenant's overrides")
    defaults: JSON = strawberry.field(description="the documented defaults they apply to")
    updated_at: datetime | None
    updated_by: str | None
    board_id: str | None = strawberry.field(
        default=None, description="Monday.com: the board kept in step"
    )
    signing_secret_set: bool = strawberry.field(
        default=False, description="Monday.com: whether the webhook signing secret is stored"
    )
    last_error: str | None = strawberry.field(
        default=None, description="Monday.com: why the last sync of the board failed, if it did"
    )


@strawberry.type(
    description="A new Segment write key, shown this once. It is public by nature (it goes "
    "in your web pages): it sends marketing touches and identity only"
)
class WriteKey:
    id: str = strawberry.field(
        description="the key's id, its visible prefix `tdm_<id>_`: list or revoke it by this"
    )
    key: str


@strawberry.type(description="Settings and the newly generated secret, shown this once")
class ConnectorSecret:
    settings: ConnectorSettings
    secret: str


@strawberry.input
class ConnectorInput:
    connector: Connector
    enabled: bool | None = None
    mappings: JSON | None = strawberry.field(
        default=None, description="replaces the overrides; null leaves them as they are"
    )
    token: str | None = strawberry.field(
        default=None, description="Monday.com: the API token (write-only; null keeps it)"
    )
    board_id: str | None = strawberry.field(
        default=None, description="Monday.com: the id of the board to keep in step"
    )
    signing_secret: str | None = strawberry.field(
        default=None,
        description="Monday.com: the signing secret its webhooks are signed with (write-only)",
    )


_COLUMNS = (
    "connector, enabled, (secret IS NOT NULL OR secret_hash IS NOT NULL) AS secret_set,"
    " secret_rotated_at, mappings, updated_at, updated_by"
)


async def _all_settings(info: Info) -> dict[Connector, ConnectorSettings]:
    """Every connector's settings, a default for each one no admin has set."""
    rows = await info.context.scope.fetch(
        f"SELECT {_COLUMNS} FROM connector_settings WHERE tenant_id = $1"
    )
    by_name = {row["connector"]: row for row in rows}
    board = await info.context.scope.fetchrow(
        "SELECT board_id, signing_secret IS NOT NULL AS signing_secret_set, last_error"
        " FROM monday_boards WHERE tenant_id = $1"
    )
    return {
        c: _from_row(c, by_name.get(c.value), board if c is Connector.MONDAY else None)
        for c in Connector
    }


async def _settings(info: Info, connector: Connector) -> ConnectorSettings:
    return (await _all_settings(info))[connector]


# What a connector no admin has set shows: enabled, without a secret or overrides (as the
# intake treats it, settings.default_settings).
_NEVER_SET: dict[str, Any] = {
    "enabled": True,
    "secret_set": False,
    "secret_rotated_at": None,
    "mappings": {},
    "updated_at": None,
    "updated_by": None,
}


_NO_BOARD: dict[str, Any] = {"board_id": None, "signing_secret_set": False, "last_error": None}


def _from_row(connector: Connector, row: Any, board: Any = None) -> ConnectorSettings:
    """The settings of `connector` from its row of _COLUMNS (None: never set), with the
    Monday.com board's row when there is one."""
    stored = _NEVER_SET if row is None else dict(row)
    return from_row(
        ConnectorSettings,
        {
            **stored,
            **(_NO_BOARD if board is None else dict(board)),
            "connector": connector.value,
            "defaults": defaults(connector.value),
        },
    )


@strawberry.type
class ConnectorQueries:
    @admin_field("Every connector's settings")
    async def connectors(self, info: Info) -> list[ConnectorSettings]:
        return list((await _all_settings(info)).values())


@strawberry.type
class ConnectorMutations:
    @admin_mutation("Enable or disable a connector; its mappings")
    async def update_connector(self, info: Info, input: ConnectorInput) -> ConnectorSettings:
        mappings = input.mappings
        if mappings is not None:
            if not isinstance(mappings, dict):
                raise bad_input("mappings must be an object", [("input.mappings", "not an object")])
            problems = override_problems(input.connector.value, mappings)
            if problems:
                raise bad_input(
                    "mappings cannot be used",
                    [(f"input.mappings.{path}", problem) for path, problem in problems],
                )
        monday_fields = {
            "token": input.token,
            "boardId": input.board_id,
            "signingSecret": input.signing_secret,
        }
        if input.connector is not Connector.MONDAY:
            given = [name for name, value in monday_fields.items() if value is not None]
            if given:
                raise bad_input(
                    "only the Monday.com connector takes these settings",
                    [(f"input.{name}", "Monday.com only") for name in given],
                )
        else:
            problems = monday_problems(input.token, input.board_id, input.signing_secret)
            if problems:
                raise bad_input(
                    "the Monday.com settings cannot be used",
                    [(f"input.{name}", problem) for name, problem in problems],
                )
            if input.board_id is not None or input.signing_secret is not None:
                await info.context.scope.run(save_board, input.board_id, input.signing_secret)
        await _save(
            info, input.connector, enabled=input.enabled, mappings=mappings, secret=input.token
        )
        return await _settings(info, input.connector)

    @admin_mutation("Store a secret issued elsewhere (HubSpot's app client secret); write-only")
    async def set_connector_secret(
        self, info: Info, connector: Connector, secret: str
    ) -> ConnectorSettings:
        if connector is Connector.SEGMENT:
            raise bad_input("Segment intake uses API keys", [("connector", "has no secret")])
        if not 16 <= len(secret) <= MAX_SECRET_LENGTH or secret != secret.strip():
            raise bad_input(
                "the secret cannot be used",
                [("secret", f"16 to {MAX_SECRET_LENGTH} characters, no surrounding spaces")],
            )
        await _save(info, connector, secret=secret)
        return await _settings(info, connector)

    @admin_mutation("A new Segment write key (`tandem apikey create SLUG --role write_key`)")
    async def create_write_key(self, info: Info) -> WriteKey:
        async with info.context.tx() as conn:
            key = await insert_key(conn, info.context.tenant_id, Role.WRITE_KEY.value)
        return WriteKey(id=key_id_of(key), key=key)

    @admin_mutation("Generate a new secret (Salesforce relays), replacing the old one at once")
    async def rotate_connector_secret(self, info: Info, connector: Connector) -> ConnectorSecret:
        if connector.value in CLEAR_SECRETS or connector is Connector.SEGMENT:
            raise bad_input(
                "this connector's secret is issued by the other system: use setConnectorSecret",
                [("connector", "secret not generated by Tandem")],
            )
        secret = new_secret()
        await _save(info, connector, secret=secret)
        return ConnectorSecret(settings=await _settings(info, connector), secret=secret)


def _unusable_secret(secret: str | None) -> bool:
    return secret is not None and (
        not 16 <= len(secret) <= MAX_SECRET_LENGTH or secret != secret.strip()
    )


def monday_problems(
    token: str | None, board_id: str | None, signing_secret: str | None
) -> list[tuple[str, str]]:
    """(field, problem) for every Monday.com setting that cannot be used."""
    length = f"16 to {MAX_SECRET_LENGTH} characters, no surrounding spaces"
    problems = []
    if _unusable_secret(token):
        problems.append(("token", length))
    if board_id is not None and not re.fullmatch(r"[0-9]{1,20}", board_id):
        problems.append(("boardId", "a board id is the number in the board's address"))
    if _unusable_secret(signing_secret):
        problems.append(("signingSecret", length))
    return problems


async def save_board(
    conn: Any, tenant_id: str, board_id: str | None, signing_secret: str | None
) -> None:
    """The Monday.com board and signing secret; None keeps what is stored. A board is
    needed before the signing secret alone can be stored."""
    current = await conn.fetchrow(
        "SELECT board_id FROM monday_boards WHERE tenant_id = $1", tenant_id
    )
    if current is None and board_id is None:
        raise bad_input(
            "set the board first", [("input.boardId", "needed with the first Monday.com settings")]
        )
    await conn.execute(
        "INSERT INTO monday_boards (tenant_id, board_id, signing_secret) VALUES ($1, $2, $3)"
        " ON CONFLICT (tenant_id) DO UPDATE SET"
        " board_id = coalesce($2, monday_boards.board_id),"
        " signing_secret = coalesce($3, monday_boards.signing_secret), updated_at = now()",
        tenant_id,
        board_id,
        None
        if signing_secret is None
        else box().seal(signing_secret, context_for("monday_boards", "signing_secret", tenant_id)),
    )


async def _save(info: Info, connector: Connector, **changes: Any) -> None:
    principal = info.context.principal
    assert principal is not None
    await info.context.scope.run(
        save_settings, connector.value, author=principal.subject, **changes
    )
