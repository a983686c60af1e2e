"""Reporting periods: [from, to) in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from services.gateway.graphql.core.errors import bad_input

# The start argument of a period; `from` is a Python keyword, so resolvers name it `from_`.
From = Annotated[datetime, strawberry.argument(name="from")]


def check_period(start: datetime, end: datetime) -> None:
    if not start < end:
        raise bad_input(
            f"the period is empty: `from` ({start.isoformat()}) must be before `to` "
            f"({end.isoformat()}); periods are [from, to)",
            [("to", "must be after `from`")],
        )
