"""Fitting a tenant's data-driven attribution models (SPEC 17), as a pure fold over its
leads' marketing touches.

A lead's conversion times are its first opportunity's creation (PIPELINE) and its first win
(REVENUE); its path is its touches, stitched ones included, in (occurred_at, arrival)
order as SPEC 5 sorts them. Touches arrive lead by lead, so a tenant of any size needs
memory for one lead's path and the transition counts only (shared/data_driven.py streams
them from the read model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

from shared.domain.attribution import PIPELINE, REVENUE, Kind
from shared.domain.markov import MarkovModel, PathCounts, fit_counts, lead_path

KINDS: Final[tuple[Kind, ...]] = (PIPELINE, REVENUE)

# A lead's (first opportunity created, first won) times; a lead without is absent.
Cutoffs = Mapping[str, tuple[datetime | None, datetime | None]]


class TenantFit:
    """Both kinds' path counts of one tenant, fed its touches lead by lead."""

    def __init__(self, cutoffs: Cutoffs) -> None:
        self._cutoffs = cutoffs
        self._counts: dict[Kind, PathCounts] = {kind: PathCounts() for kind in KINDS}
        self._lead: str | None = None
        self._touches: list[tuple[datetime, str | None]] = []

    def add(self, lead_id: str, occurred_at: datetime, channel: str | None) -> None:
        """One touch; a lead's touches come together, in (occurred_at, arrival) order."""
        if lead_id != self._lead:
            self._close_lead()
            self._lead = lead_id
        self._touches.append((occurred_at, channel))

    def models(self) -> dict[Kind, MarkovModel]:
        self._close_lead()
        return {kind: fit_counts(c) for kind, c in self._counts.items()}

    def _close_lead(self) -> None:
        if self._lead is not None:
            for kind, at in zip(KINDS, self._cutoffs.get(self._lead, (None, None)), strict=True):
                path = lead_path(self._touches, at)
                if path is not None:
                    self._counts[kind].add(*path)
        self._lead, self._touches = None, []


def fit_tenant(
    touches: Iterable[tuple[str, datetime, str | None]], cutoffs: Cutoffs
) -> dict[Kind, MarkovModel]:
    """Both kinds' chains over (lead id, occurred_at, channel) touches, lead by lead."""
    fit = TenantFit(cutoffs)
    for lead_id, occurred_at, channel in touches:
        fit.add(lead_id, occurred_at, channel)
    return fit.models()
