"""When a failed delivery is tried again: exponential backoff with full jitter, for a
bounded window (SPEC 15: 24 h), after which the delivery is given up as FAILED."""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def backoff_s(attempt: int, base_s: float, max_s: float, rand: random.Random) -> float:
    """The wait after failed attempt number `attempt` (1-based): uniform in [d/2, d] where
    d = base·2^(attempt-1) capped at max; the jitter spreads retries of many deliveries
    that failed together so a recovering receiver is not hit all at once."""
    ceiling = min(max_s, base_s * 2.0 ** min(attempt - 1, 40))
    return ceiling / 2 + rand.random() * ceiling / 2


def next_attempt_at(
    attempt: int,
    created_at: datetime,
    now: datetime,
    *,
    base_s: float,
    max_s: float,
    window_s: float,
    rand: random.Random,
) -> datetime | None:
    """The time of the next attempt, or None when it would fall outside the retry window."""
    at = now + timedelta(seconds=backoff_s(attempt, base_s, max_s, rand))
    if at > created_at + timedelta(seconds=window_s):
        return None
    return at
