"""The life cycle of messages and content items (SPEC 8): drafted and edited by marketing,
approved for sales to use, retired when no longer current."""

from __future__ import annotations

DRAFT = "DRAFT"
APPROVED = "APPROVED"
RETIRED = "RETIRED"


class TransitionError(ValueError):
    """An action the item's current status does not allow."""


def after_update(status: str) -> str:
    """Editing an approved text puts it back to draft: sales must only see approved words."""
    if status == RETIRED:
        raise TransitionError("a retired item cannot be edited; create a new one")
    return DRAFT


def after_approve(status: str) -> str:
    if status != DRAFT:
        raise TransitionError(f"only a DRAFT can be approved; this one is {status}")
    return APPROVED


def after_retire(status: str) -> str:
    if status == RETIRED:
        raise TransitionError("already retired")
    return RETIRED
