"""Reporting periods: [from, to) in UTC, at most MAX_PERIOD_DAYS long (SPEC 10: a period
bounds the rows a request scans)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

import strawberry

from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.permissions import read_field

MAX_PERIOD_DAYS = 400

# The start argument of a period; `from` is a Python keyword, so resolvers name it `from_`.
From = Annotated[datetime, strawberry.argument(name="from")]


def check_period(start: datetime, end: datetime) -> None:
    if not start < end:
        raise bad_input(
            f"the period is empty: `from` ({start.isoformat()}) must be before `to` "
            f"({end.isoformat()}); periods are [from, to)",
            [("to", "must be after `from`")],
        )
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        raise bad_input(
            f"the period from {start.isoformat()} to {end.isoformat()} is longer than "
            f"{MAX_PERIOD_DAYS} days, the longest a request may span; split it into shorter "
            "periods",
            [("to", f"must be at most {MAX_PERIOD_DAYS} days after `from`")],
        )


def period_query(description: str) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    """The decorator of a query over [from, to) (its arguments `from_: From` and `to`), for
    every role that reads: the period is checked before the resolver runs, so none can
    forget to and none scans an empty or an over-long period."""

    def field(resolver: Callable[..., Awaitable[Any]]) -> Any:
        # The schema reads the arguments from `resolver`'s signature (wraps keeps it).
        @functools.wraps(resolver)
        async def checked(*args: Any, **kwargs: Any) -> Any:
            check_period(kwargs["from_"], kwargs["to"])
            return await resolver(*args, **kwargs)

        return read_field(description)(checked)

    return field
