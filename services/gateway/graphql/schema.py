"""The GraphQL schema: every domain's queries, mutations and subscriptions, with the limits
of SPEC 10 and the error codes clients rely on."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule
from starlette.requests import Request
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from services.gateway.graphql.accounts.resolvers import AccountQueries
from services.gateway.graphql.attribution.resolvers import AttributionQueries
from services.gateway.graphql.config.history import ConfigHistoryMutations, ConfigHistoryQueries
from services.gateway.graphql.config.preview import ScoringPreviewQueries
from services.gateway.graphql.config.resolvers import ConfigMutations, ConfigQueries
from services.gateway.graphql.connectors.resolvers import ConnectorMutations, ConnectorQueries
from services.gateway.graphql.content.resolvers import ContentMutations, ContentQueries
from services.gateway.graphql.core.answer_cache import ForgetOnMutation, SharedAnswers
from services.gateway.graphql.core.errors import ErrorCodes, bad_input, is_internal
from services.gateway.graphql.core.limits import OperationLimits
from services.gateway.graphql.core.scalars import SCALAR_OVERRIDES
from services.gateway.graphql.datadriven.resolvers import DataDrivenMutations, DataDrivenQueries
from services.gateway.graphql.feedback.resolvers import FeedbackQueries
from services.gateway.graphql.leads.resolvers import LeadQueries
from services.gateway.graphql.messaging.resolvers import MessagingMutations, MessagingQueries
from services.gateway.graphql.metrics.funnel import FunnelQueries
from services.gateway.graphql.metrics.resolvers import MetricsQueries
from services.gateway.graphql.pipeline.resolvers import PipelineQueries
from services.gateway.graphql.postmortems.resolvers import PostMortemQueries
from services.gateway.graphql.predictions.resolvers import PredictionMutations, PredictionQueries
from services.gateway.graphql.privacy.resolvers import PrivacyMutations, PrivacyQueries
from services.gateway.graphql.review.action_items import ActionItemMutations, ActionItemQueries
from services.gateway.graphql.review.resolvers import ReviewQueries
from services.gateway.graphql.sharing.resolvers import ShareMutations, ShareQueries
from services.gateway.graphql.sla.resolvers import SlaQueries
from services.gateway.graphql.subscriptions.resolvers import LeadSubscriptions
from services.gateway.graphql.viewer.resolvers import ViewerQueries
from services.gateway.graphql.webhooks.resolvers import WebhookMutations, WebhookQueries
from services.gateway.metrics import OperationMetrics

log = logging.getLogger("tandem.gateway.graphql")

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2_000
# A dashboard sends a few dozen query texts over and over; parsing and validating each
# once (per process, least recently used first out) keeps the overview's shared answers
# cheap to serve. The validation cache is keyed by the rules too, so the depth and alias
# rules (QueryDepthLimiter's and MaxAliasesLimiter's own) are made once, not per request.
QUERY_TEXTS_CACHED = 256
LIMIT_RULES: list[type[ASTValidationRule]] = [
    max_depth_rule(MAX_DEPTH, None, None),
    max_aliases_rule(MAX_ALIASES),
]

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
        PredictionQueries,
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
        PrivacyQueries,
        ShareQueries,
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
        PredictionMutations,
        WebhookMutations,
        ConnectorMutations,
        PrivacyMutations,
        ShareMutations,
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


class CachedParse(ParserCache):
    """Strawberry's ParserCache, except that a text it cannot parse (a syntax error, over
    MAX_TOKENS) is left to the schema's own parse, which answers it as it always has
    (`BAD_USER_INPUT`); ParserCache would raise it from inside the extension."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.cached_parse_document(
                    context.query, **context.parse_options
                )
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
        lambda: CachedParse(maxsize=QUERY_TEXTS_CACHED),
        lambda: ValidationCache(maxsize=QUERY_TEXTS_CACHED),
        lambda: AddValidationRules(LIMIT_RULES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        SubscriptionsOverWebSocket,
        OperationLimits,
        SharedAnswers,
        OperationMetrics,
        ForgetOnMutation,
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
