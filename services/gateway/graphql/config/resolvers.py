"""`tenantConfig` and the mutations that write a new configuration version (SPEC 4, 7, 8)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import asyncpg
import strawberry
from aiokafka.errors import KafkaError
from graphql import GraphQLError

from services.gateway.graphql.config.inputs import (
    AttributionModelInput,
    IcpInput,
    ScoringModelInput,
    SlaRulesInput,
    attribution_input_errors,
    input_errors,
    to_document,
)
from services.gateway.graphql.config.types import TenantConfig
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.permissions import admin_mutation, read_field
from shared.config_store import save_config
from shared.domain.config import DEFAULT_CONFIG, ConfigError
from shared.domain.config import TenantConfig as DomainConfig

log = logging.getLogger("tandem.gateway.graphql")


async def read_config(
    conn: asyncpg.Connection, tenant_id: str, version: int | None = None
) -> TenantConfig:
    """The given version, or the current one."""
    row = await conn.fetchrow(
        "SELECT version, config, author, created_at FROM tenant_config_versions"
        " WHERE tenant_id = $1 AND ($2::integer IS NULL OR version = $2)"
        " ORDER BY version DESC LIMIT 1",
        tenant_id,
        version,
    )
    if row is None:
        return TenantConfig.from_domain(DEFAULT_CONFIG, 0, None, None)
    return TenantConfig.from_domain(
        DomainConfig.from_dict(row["config"]), row["version"], row["created_at"], row["author"]
    )


def invalid_config(what: str, fields: list[tuple[str, str]]) -> GraphQLError:
    """The error of a refused configuration: every field's problem, by its input path."""
    listed = "; ".join(f"{path}: {message}" for path, message in fields)
    return bad_input(f"invalid {what}: {listed}", fields)


async def write_config(
    info: Info,
    section: str,
    what: str,
    patch: dict[str, Any],
    prefix: str = "",
    to_input: Callable[[ConfigError], list[tuple[str, str]]] | None = None,
) -> TenantConfig:
    """Stores `patch` as a new version; ConfigError paths become input paths through
    `to_input`, or input_errors with `prefix`."""
    if not patch:
        raise bad_input(f"nothing to change: give at least one field of the {what} input")
    ctx = info.context
    assert ctx.principal is not None
    version: int | None = None
    try:
        version, _ = await save_config(
            ctx.pool,
            ctx.tenant_id,
            section,
            patch,
            ctx.principal.subject,
            ctx.gateway.producer,
        )
    except ConfigError as exc:
        fields = to_input(exc) if to_input is not None else input_errors(exc, prefix)
        raise invalid_config(what, fields) from None
    except KafkaError as exc:
        # The version is stored before the note is sent; workers also poll for versions.
        log.warning(
            "config saved but its note to the workers failed; they will find it by polling",
            extra={"tenant_id": ctx.tenant_id, "error": repr(exc)},
        )
    return await ctx.scope.run(read_config, version)


@strawberry.type
class ConfigQueries:
    @read_field()
    async def tenant_config(self, info: Info) -> TenantConfig:
        return await info.context.scope.run(read_config)


def parts_mutation(section: str, what: str, input_type: type[Any], description: str) -> Any:
    """A mutation that stores the given parts of an `input_type` (whose fields are keys at
    the top of the configuration document) as the new version of `section`."""

    async def resolve(info: Info, input: Any) -> TenantConfig:
        return await write_config(info, section, what, to_document(input))

    # Built for each section, so the schema's input type comes from the arguments.
    resolve.__annotations__ = {"info": Info, "input": input_type, "return": TenantConfig}
    return admin_mutation(description)(resolve)


@strawberry.type
class ConfigMutations:
    update_icp = parts_mutation(
        "icp",
        "ICP",
        IcpInput,
        "Replace the given parts of the ICP: fitRules, disqualifiers, gradeThresholds. "
        "Leads are re-scored within 60 s.",
    )
    update_scoring_model = parts_mutation(
        "scoring_model",
        "scoring model",
        ScoringModelInput,
        "Replace the given parts of the scoring model: engagementRules, windowDays, mql. "
        "Leads are re-scored within 60 s.",
    )

    @admin_mutation("Change the SLA rules")
    async def update_sla_rules(self, info: Info, input: SlaRulesInput) -> TenantConfig:
        patch = to_document(input)
        return await write_config(info, "sla", "SLA rules", {"sla": patch} if patch else {}, "sla.")

    @admin_mutation(
        "Replace the tenant's custom attribution models with the given list "
        "(an empty list removes them). The workers then credit every lead under them."
    )
    async def update_attribution_models(
        self, info: Info, input: list[AttributionModelInput]
    ) -> TenantConfig:
        patch = {"attribution_models": to_document(input)}
        return await write_config(
            info,
            "attribution",
            "attribution models",
            patch,
            to_input=attribution_input_errors,
        )
