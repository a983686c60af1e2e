"""Folded lead states kept between batches, so a lead's next events are applied to its
state instead of refolding its whole history from the event log.

The cache is only ever a shortcut: an entry is used when its `last_seq` equals the one
stored with the lead's row, so a write by another worker (after a rebalance, or a
re-score) sends the lead back to the event log. An entry is replaced only after the
transaction that wrote the same state has committed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

from services.workers.observability import CACHE

T = TypeVar("T")


class LeadCache(Generic[T]):
    """Entries of type T (the projector keeps a lead's state with what its rows hold)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], tuple[T, int]] = OrderedDict()

    def take(self, tenant_id: str, lead_id: str, last_seq: int) -> T | None:
        """The cached state if it is current, removed from the cache: the caller mutates it
        and puts it back once its write has committed."""
        entry = self._entries.pop((tenant_id, lead_id), None)
        if entry is None or entry[1] != last_seq:
            CACHE.labels("miss").inc()
            return None
        CACHE.labels("hit").inc()
        return entry[0]

    def put(self, tenant_id: str, states: Iterable[tuple[str, T, int]]) -> None:
        for lead_id, state, last_seq in states:
            key = (tenant_id, lead_id)
            self._entries[key] = (state, last_seq)
            self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
