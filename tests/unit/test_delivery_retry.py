"""When the delivery service tries a webhook again (services/delivery/retry.py)."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.delivery.retry import backoff_s, next_attempt_at
from tests.unit.delivery_samples import AT


@given(st.integers(1, 60), st.integers(0, 2**32))
def test_backoff_grows_exponentially_within_jitter_and_cap(attempt: int, seed: int) -> None:
    wait = backoff_s(attempt, 10, 3600, random.Random(seed))
    ceiling = min(3600, 10 * 2 ** (attempt - 1))
    assert ceiling / 2 <= wait <= ceiling


def test_retries_stop_after_the_window() -> None:
    rand = random.Random(1)
    created = AT
    assert next_attempt_at(1, created, AT, base_s=10, max_s=3600, window_s=86400, rand=rand)
    late = created + timedelta(hours=23, minutes=59)
    assert (
        next_attempt_at(30, created, late, base_s=10, max_s=3600, window_s=86400, rand=rand) is None
    )
