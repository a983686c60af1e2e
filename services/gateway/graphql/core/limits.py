"""Limits every operation passes before it executes (SPEC 10), over HTTP and WebSocket alike:
the tenant and credential's rate limit, the operation's cost, and the number of
subscriptions one connection runs. Depth, aliases and tokens are bounded in `schema`.

The cost of an operation counts the objects it may return: a field returning an object
costs 1 plus what is selected in it; scalars and enums cost nothing; a list multiplies what
is selected in each item by the number of items it may hold: the `first` of its connection
or list (100 when not given, at most 500), for a list without paging its largest possible
length (LIST_BOUNDS), or LIST_SIZE for the small ones a tenant's configuration bounds. A page of 500
leads with their transitions and opportunities costs 1,502; the same with each
opportunity's lead and its opportunities 11,502, refused."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import asyncpg
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as StrawberryOperationType

from services.gateway.graphql.core.context import RequestContext
from services.gateway.graphql.core.errors import (
    QUERY_TOO_COSTLY,
    RATE_LIMITED,
    SERVICE_UNAVAILABLE,
    TOO_MANY_SUBSCRIPTIONS,
    coded,
)
from services.gateway.graphql.core.relay import DEFAULT_PAGE, MAX_PAGE
from shared.webhooks import MAX_WEBHOOKS

log = logging.getLogger("tandem.gateway.graphql")

MAX_COST = 10_000
LIST_SIZE = 10
# Opportunities a Lead answers (far above any real lead's): each holds a Lead again, so the
# cost limit weighs the list by this bound.
MAX_LEAD_OPPORTUNITIES = 50
# Touches times opportunities credited by one Account.attribution: a few milliseconds of
# Python, whatever the size of the account.
MAX_CREDIT_WORK = 100_000
# The largest length of the lists without paging whose items hold objects (what a list of
# leaves holds costs nothing): weighed by how long they can be, never by a typical length.
# Lists bounded by a tenant's configuration (rules, models) keep LIST_SIZE.
LIST_BOUNDS: dict[tuple[str, str], int] = {
    ("Lead", "opportunities"): MAX_LEAD_OPPORTUNITIES,
    ("Query", "webhooks"): MAX_WEBHOOKS,
    # rows by channel, campaign or content: the widest grouping a page of rows
    ("Query", "attributionComparison"): MAX_PAGE,
    ("Query", "feedback"): MAX_PAGE,
}
# Fields computed in Python per request, weighed by the objects their work amounts to: an
# account's attribution credits up to MAX_CREDIT_WORK touch-opportunity pairs.
FIELD_WEIGHTS: dict[tuple[str, str], int] = {
    ("Account", "attribution"): MAX_CREDIT_WORK // 1_000,
}
MAX_SUBSCRIPTIONS_PER_CONNECTION = 10


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """The cost of the operation `operation_name` of a validated `document`."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = _root_type(schema, operation)
    if root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walker = _CostWalker(schema, fragments, dict(variables or {}))
    return walker.selections(operation.selection_set, root, page=None)


def _root_type(schema: GraphQLSchema, operation: OperationDefinitionNode) -> Any:
    return {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]


class _CostWalker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def selections(self, selections: SelectionSetNode | None, parent: Any, page: int | None) -> int:
        """What a selection set in an object of type `parent` costs; `page` is the page size
        when the object is a connection (its list fields hold a page of items)."""
        if selections is None:
            return 0
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                within = parent if condition is None else self.schema.get_type(condition.name.value)
                total += self.selections(selection.selection_set, within, page)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                within = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selections(fragment.selection_set, within, page)
        return total

    def field(self, node: FieldNode, parent: Any, page: int | None) -> int:
        fields = getattr(parent, "fields", None)
        definition: GraphQLField | None = None if fields is None else fields.get(node.name.value)
        if definition is None:  # __typename and introspection
            return 0
        named = get_named_type(definition.type)
        weight = FIELD_WEIGHTS.get((parent.name, node.name.value), 0)
        if is_leaf_type(named):
            return weight
        first = self.page_size(node, definition)
        if _is_list(definition.type):
            bound = LIST_BOUNDS.get((parent.name, node.name.value), LIST_SIZE)
            items = first if first is not None else (page if page is not None else bound)
            return 1 + weight + items * self.selections(node.selection_set, named, page=None)
        return 1 + weight + self.selections(node.selection_set, named, page=first)

    def page_size(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The page a field with a `first` argument asks for, within 0..MAX_PAGE (a larger
        one is refused by the field itself, with a clearer message); None without one."""
        argument = definition.args.get("first")
        if argument is None:
            return None
        given = next((a for a in node.arguments or () if a.name.value == "first"), None)
        if given is None:
            return DEFAULT_PAGE
        value = value_from_ast(given.value, argument.type, self.variables)
        if not isinstance(value, int):  # null, or a variable not given: the default page
            return DEFAULT_PAGE
        return max(0, min(MAX_PAGE, value))


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class OperationLimits(SchemaExtension):
    """Refuses, before it executes, an operation over its credential's rate limit, over
    MAX_COST, or a subscription beyond MAX_SUBSCRIPTIONS_PER_CONNECTION on its connection."""

    # The context whose subscription count this operation holds a place in, if any.
    _holding: RequestContext | None = None

    def on_operation(self) -> Iterator[None]:
        # A subscription's operation spans its whole stream: its place is given back when
        # the client completes it, the server ends it or the connection closes.
        try:
            yield
        finally:
            if self._holding is not None:
                self._holding.open_subscriptions -= 1

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        ctx = execution.context
        if isinstance(ctx, RequestContext):
            await _check_rate(ctx)
        document = execution.graphql_document
        if document is not None:
            schema = execution.schema._schema
            cost = operation_cost(schema, document, execution.operation_name, execution.variables)
            if cost > MAX_COST:
                raise coded(
                    f"this operation may cost {cost:,}, over the limit of {MAX_COST:,}: ask "
                    "for smaller pages (`first`) or fewer nested lists",
                    QUERY_TOO_COSTLY,
                    cost=cost,
                    maxCost=MAX_COST,
                )
        subscription = execution.operation_type is StrawberryOperationType.SUBSCRIPTION
        if subscription and isinstance(ctx, RequestContext):
            if ctx.open_subscriptions >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
                raise coded(
                    f"this connection already runs {MAX_SUBSCRIPTIONS_PER_CONNECTION} "
                    "subscriptions, the most one connection may; complete one first or open "
                    "another connection",
                    TOO_MANY_SUBSCRIPTIONS,
                    limit=MAX_SUBSCRIPTIONS_PER_CONNECTION,
                )
            ctx.open_subscriptions += 1
            self._holding = ctx
        yield


async def _check_rate(ctx: RequestContext) -> None:
    if ctx.rate_limiter is None or ctx.rate_key is None:
        return
    try:
        wait = await ctx.rate_limiter.acquire(ctx.tenant_id, ctx.rate_key)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # Without the shared count the limit cannot be kept: refuse rather than run unbounded.
        log.warning("rate limit store unavailable", extra={"error": repr(exc)})
        raise coded(
            "operations cannot be counted right now; try again in a few seconds",
            SERVICE_UNAVAILABLE,
        ) from exc
    if not wait:
        return
    retry_after = max(1, round(wait))
    if not ctx.is_websocket and ctx.response is not None:
        # Over HTTP the answer is also a 429 (SPEC 10), with when to try again.
        ctx.response.status_code = 429
        ctx.response.headers["Retry-After"] = str(retry_after)
    raise coded(
        f"too many operations for this credential: at most {ctx.limits.rate_limit} per "
        f"{ctx.limits.rate_window_s} s; try again in {retry_after} s",
        RATE_LIMITED,
        retryAfter=retry_after,
    )
