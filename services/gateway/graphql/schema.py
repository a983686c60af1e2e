"""The GraphQL schema: every domain's queries, mutations and subscriptions, with the limits
of SPEC 10 and the error codes clients rely on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from services.gateway.graphql.accounts.queries import AccountQueries
from services.gateway.graphql.attribution.queries import AttributionQueries
from services.gateway.graphql.config.history import ConfigHistoryMutations, ConfigHistoryQueries
from services.gateway.graphql.config.preview import ScoringPreviewQueries
from services.gateway.graphql.config.resolvers import ConfigMutations, ConfigQueries
from services.gateway.graphql.connectors.resolvers import ConnectorMutations, ConnectorQueries
from services.gateway.graphql.content.resolvers import ContentMutations, ContentQueries
from services.gateway.graphql.core.errors import ErrorCodes, bad_input, is_internal
from services.gateway.graphql.core.limits import OperationLimits
from services.gateway.graphql.core.scalars import SCALAR_OVERRIDES
from services.gateway.graphql.datadriven.queries import DataDrivenMutations, DataDrivenQueries
from services.gateway.graphql.feedback.queries import FeedbackQueries
from services.gateway.graphql.leads.queries import LeadQueries
from services.gateway.graphql.messaging.resolvers import MessagingMutations, MessagingQueries
from services.gateway.graphql.metrics.funnel import FunnelQueries
from services.gateway.graphql.metrics.queries import MetricsQueries
from services.gateway.graphql.pipeline.queries import PipelineQueries
from services.gateway.graphql.postmortems.queries import PostMortemQueries
from services.gateway.graphql.privacy.resolvers import PrivacyMutations
from services.gateway.graphql.review.action_items import ActionItemMutations, ActionItemQueries
from services.gateway.graphql.review.queries import ReviewQueries
from services.gateway.graphql.sla.queries import SlaQueries
from services.gateway.graphql.subscriptions.resolvers import LeadSubscriptions
from services.gateway.graphql.viewer.queries import ViewerQueries
from services.gateway.graphql.webhooks.resolvers import WebhookMutations, WebhookQueries
from services.gateway.metrics import OperationMetrics

log = logging.getLogger("tandem.gateway.graphql")

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2_000

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "schemas" / "graphql" / "schema.graphql"

Query = merge_types(
    "Query",
    (
        LeadQueries,
        AccountQueries,
        PipelineQueries,
        MetricsQueries,
        FunnelQueries,
        AttributionQueries,
        DataDrivenQueries,
        SlaQueries,
        ConfigQueries,
        ConfigHistoryQueries,
        ScoringPreviewQueries,
        MessagingQueries,
        ContentQueries,
        FeedbackQueries,
        ActionItemQueries,
        ReviewQueries,
        PostMortemQueries,
        ViewerQueries,
        WebhookQueries,
        ConnectorQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        ConfigMutations,
        ConfigHistoryMutations,
        MessagingMutations,
        ContentMutations,
        ActionItemMutations,
        DataDrivenMutations,
        WebhookMutations,
        ConnectorMutations,
        PrivacyMutations,
    ),
)
Subscription = merge_types("Subscription", (LeadSubscriptions,))


class SubscriptionsOverWebSocket(SchemaExtension):
    """A subscription posted as a plain HTTP request (a starlette `Request`; a WebSocket is
    not one) would run like a query and fail inside the executor (an internal error); it is
    the client's mistake: SPEC 9.1 serves subscriptions over WebSocket only."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        request = getattr(ctx.context, "request", None)
        if ctx.operation_type is OperationType.SUBSCRIPTION and isinstance(request, Request):
            raise bad_input("subscriptions are served over WebSocket (graphql-transport-ws)")
        yield


class TandemSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # The client's own mistakes are answered, not logged; only our failures are.
        for error in errors:
            if is_internal(error):
                log.error(
                    "graphql resolver failed",
                    exc_info=error.original_error or error,
                    extra={"path": error.path},
                )


schema = TandemSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    scalar_overrides=SCALAR_OVERRIDES,
    extensions=[
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        SubscriptionsOverWebSocket,
        OperationLimits,
        OperationMetrics,
        ErrorCodes,
    ],
)


def export_schema() -> str:
    """The schema in SDL, as committed to schemas/graphql/schema.graphql."""
    return schema.as_str() + "\n"


def write_schema(path: Path = SCHEMA_FILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(export_schema())
    return path


if __name__ == "__main__":
    print(f"wrote {write_schema()}")
