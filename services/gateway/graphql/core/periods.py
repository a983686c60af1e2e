"""Reporting periods: [from, to) in UTC, at most MAX_PERIOD_DAYS long (SPEC 10: a period
bounds the rows a request scans)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import strawberry

from services.gateway.graphql.core.errors import bad_input

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
