"""The GraphQL schema: the committed SDL, the names SPEC 9.2 fixes, and who may call what."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLObjectType

from services.gateway.graphql.attribution.resolvers import GROUP_COLUMNS, AttributionGroup
from services.gateway.graphql.core.permissions import (
    CanRead,
    CanWriteActionItems,
    CanWriteLibrary,
    IsAdmin,
    IsAuthenticated,
)
from services.gateway.graphql.schema import (
    SCHEMA_FILE,
    Mutation,
    Query,
    Subscription,
    export_schema,
    schema,
)
from shared.domain.attribution import BUILTIN_NAMES, DATA_DRIVEN, GROUP_BYS
from shared.domain.journey import OpportunityStatus, Stage

REGENERATE = ".venv/bin/python -m services.gateway.graphql.schema"


def test_the_committed_schema_file_is_the_schema_of_the_code() -> None:
    committed = SCHEMA_FILE.read_text() if SCHEMA_FILE.exists() else ""
    assert committed == export_schema(), (
        f"{SCHEMA_FILE.name} differs from the schema the code builds; regenerate it with "
        f"`{REGENERATE}` and commit the result"
    )


def _fields(type_name: str) -> dict[str, object]:
    found = schema._schema.type_map[type_name]
    assert isinstance(found, GraphQLObjectType)
    return dict(found.fields)


def _values(enum_name: str) -> list[str]:
    found = schema._schema.type_map[enum_name]
    assert isinstance(found, GraphQLEnumType)
    return list(found.values)


def test_the_names_clients_rely_on_are_served() -> None:
    query = _fields("Query")
    for name in (
        "lead",
        "leads",
        "pipeline",
        "metrics",
        "sourceQuality",
        "attribution",
        "tenantConfig",
    ):
        assert name in query, name
    assert set(_fields("Mutation")) >= {"updateIcp", "updateScoringModel", "updateSlaRules"}
    assert set(_fields("Subscription")) == {"leadChanges"}
    lead = _fields("Lead")
    assert set(lead) >= {
        "id", "stage", "highestStage", "fitScore", "fitGrade", "disqualified",
        "engagementScore", "score", "matrix", "createdAt", "engagedAt", "mqlAt", "sqlAt",
        "opportunityAt", "customerAt", "accountId", "firstTouchChannel", "transitions",
        "opportunities", "fitEvidence", "engagementEvidence",
    }  # fmt: skip
    assert set(_fields("StageTransition")) == {"fromStage", "toStage", "at", "eventId", "reason"}
    assert set(_fields("Opportunity")) >= {"id", "amount", "status", "createdAt", "closedAt"}
    assert set(_fields("LeadConnection")) == {"edges", "pageInfo", "totalCount"}
    assert set(_fields("AttributionRow")) == {"key", "credit", "amount"}
    assert set(_fields("PipelineStage")) == {"stage", "count"}
    leads_args = set(schema._schema.query_type.fields["leads"].args)  # type: ignore[union-attr]
    # SPEC's arguments, and the search and order the dashboard adds.
    assert leads_args == {"stage", "fitGrade", "first", "after", "search", "orderBy"}
    assert "PREDICTED_DESC" in _values("LeadOrder")
    assert set(_fields("LeadPrediction")) >= {"probability", "percentile", "tier", "factors"}
    assert "prediction" in lead


def test_enums_carry_the_domain_values() -> None:
    assert _values("Stage") == [s.value for s in Stage]
    assert _values("OpportunityStatus") == [s.value for s in OpportunityStatus]
    assert _values("FitGrade") == ["A", "B", "C", "D"]
    assert set(_values("AttributionModel")) == set(BUILTIN_NAMES) | {DATA_DRIVEN}
    assert _values("AttributionKind") == ["PIPELINE", "REVENUE"]
    assert _values("AttributionGroup") == list(GROUP_BYS)
    assert set(GROUP_COLUMNS) == set(AttributionGroup)


def test_every_entry_point_states_who_may_call_it() -> None:
    # SPEC 10: admin writes config, marketing the library, sales and marketing action items.
    writers = {IsAdmin, CanWriteLibrary, CanWriteActionItems}
    # Queries of secrets and delivery logs (webhooks, connectors) are for admins alone.
    readers = {CanRead, IsAdmin}
    for root, allowed in ((Query, readers), (Subscription, {CanRead}), (Mutation, writers)):
        for field in root.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            classes = set(field.permission_classes)
            if (root, field.python_name) == (Query, "viewer"):
                # Describes the credential itself, so every role (ingest too) may ask.
                assert classes == {IsAuthenticated}
                continue
            assert allowed & classes, f"{root.__name__}.{field.python_name} lacks {allowed}"
