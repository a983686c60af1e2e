"""Reporting periods: [from, to) in UTC."""

from __future__ import annotations

from datetime import datetime

from services.gateway.graphql.errors import bad_input


def check_period(start: datetime, end: datetime) -> None:
    if not start < end:
        raise bad_input(
            f"the period is empty: `from` ({start.isoformat()}) must be before `to` "
            f"({end.isoformat()}); periods are [from, to)",
            [("to", "must be after `from`")],
        )
