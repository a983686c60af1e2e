"""Connector settings (SPEC 14), admin only: enable or disable a connector, override its
mappings (documented in docs/connectors.md), and set or rotate its secret. Secrets are
write-only: a generated one is shown once, and no query returns any."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

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

MAX_SECRET_LENGTH = 512


@strawberry.enum(description="A source of events that speaks its own format")
class Connector(Enum):
    SEGMENT = "segment"
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"


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
    return {c: _from_row(c, by_name.get(c.value)) for c in Connector}


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


def _from_row(connector: Connector, row: Any) -> ConnectorSettings:
    """The settings of `connector` from its row of _COLUMNS (None: never set)."""
    stored = _NEVER_SET if row is None else dict(row)
    return from_row(
        ConnectorSettings,
        {**stored, "connector": connector.value, "defaults": defaults(connector.value)},
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
        await _save(info, input.connector, enabled=input.enabled, mappings=mappings)
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


async def _save(info: Info, connector: Connector, **changes: Any) -> None:
    principal = info.context.principal
    assert principal is not None
    await info.context.scope.run(
        save_settings, connector.value, author=principal.subject, **changes
    )
