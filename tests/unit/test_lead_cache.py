from __future__ import annotations

from services.workers.lead_cache import LeadCache
from shared.domain.journey import LeadState


def test_a_current_entry_is_taken_out_until_put_back() -> None:
    cache = LeadCache(capacity=10)
    state = LeadState()
    cache.put("t", [("L-1", state, 7)])
    assert cache.take("t", "L-1", 7) is state
    assert cache.take("t", "L-1", 7) is None  # taken: a failed write leaves it out


def test_an_entry_behind_the_stored_row_is_not_used() -> None:
    cache = LeadCache(capacity=10)
    cache.put("t", [("L-1", LeadState(), 7)])
    assert cache.take("t", "L-1", 9) is None


def test_tenants_do_not_share_entries() -> None:
    cache = LeadCache(capacity=10)
    cache.put("a", [("L-1", LeadState(), 1)])
    assert cache.take("b", "L-1", 1) is None


def test_the_least_recently_written_entries_go_first() -> None:
    cache = LeadCache(capacity=2)
    cache.put("t", [("L-1", LeadState(), 1), ("L-2", LeadState(), 1)])
    cache.put("t", [("L-3", LeadState(), 1)])
    assert len(cache) == 2
    assert cache.take("t", "L-1", 1) is None
    assert cache.take("t", "L-3", 1) is not None
