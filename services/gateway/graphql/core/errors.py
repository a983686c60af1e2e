"""Errors with `extensions.code` (SPEC 10): the codes clients branch on, and the extension
that gives every error one, so no client has to parse a message to know what went wrong."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
# The limits of SPEC 10 besides bad input: each refusal says which limit and how to comply.
QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
RATE_LIMITED = "RATE_LIMITED"
STATEMENT_TIMEOUT = "STATEMENT_TIMEOUT"
TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL = "INTERNAL_SERVER_ERROR"


def coded(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def bad_input(message: str, fields: Sequence[tuple[str, str]] = ()) -> GraphQLError:
    """`fields` lists (input path, problem) pairs for forms that show errors per field."""
    if not fields:
        return coded(message, BAD_USER_INPUT)
    listed = [{"path": path, "message": problem} for path, problem in fields]
    return coded(message, BAD_USER_INPUT, fields=listed)


def not_found(what: str, item_id: str) -> GraphQLError:
    # Worded the same whether the id is unknown or another tenant's (SPEC 10).
    return coded(f"no {what} with id {item_id!r}", NOT_FOUND)


def is_internal(error: GraphQLError) -> bool:
    """A failure of ours rather than of the request: raised while a field ran, uncoded.
    Errors raised before any field ran come from syntax, validation (depth, aliases,
    tokens, unknown fields) or variables that do not fit their types."""
    return (
        error.path is not None
        and not (error.extensions and "code" in error.extensions)
        and not _unstorable_text(error)
        and not _timed_out(error)
    )


def _timed_out(error: GraphQLError) -> bool:
    """A statement cancelled by the request's statement timeout (SQLSTATE 57014)."""
    return isinstance(error.original_error, asyncpg.QueryCanceledError)


def _unstorable_text(error: GraphQLError) -> bool:
    """PostgreSQL text cannot hold U+0000: an argument with one is refused by the database
    as it is bound, which is the request's fault (no id or name can contain it)."""
    return isinstance(
        error.original_error,
        asyncpg.CharacterNotInRepertoireError | asyncpg.UntranslatableCharacterError,
    )


def with_code(error: GraphQLError) -> GraphQLError:
    """The error as the client sees it: its own code, or one derived from where it arose."""
    if error.extensions and "code" in error.extensions:
        return error
    if is_internal(error):
        code, message, original = INTERNAL, "internal error; it has been logged", None
    elif _unstorable_text(error):
        code, original = BAD_USER_INPUT, None
        message = "an argument holds a character that is never stored (U+0000)"
    elif _timed_out(error):
        code, original = STATEMENT_TIMEOUT, None
        message = (
            "a database statement of this field ran over the request's statement timeout; "
            "ask for a shorter period or a smaller page"
        )
    else:
        code, message, original = BAD_USER_INPUT, error.message, error.original_error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions={**(error.extensions or {}), "code": code},
    )


class ErrorCodes(SchemaExtension):
    """Gives every error of a result an `extensions.code`, hiding internal details."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if isinstance(result, GraphQLExecutionResult | ExecutionResult):
            _recode(result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        _recode(result)
        yield None


def _recode(result: Any) -> None:
    errors = getattr(result, "errors", None)
    if errors:
        result.errors = [with_code(error) for error in errors]
