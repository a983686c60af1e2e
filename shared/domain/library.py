"""The life cycle of messages and content items (SPEC 8): drafted and edited by marketing,
approved for sales to use, retired when no longer current."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "DRAFT"
    APPROVED = "APPROVED"
    RETIRED = "RETIRED"


class TransitionError(ValueError):
    """An action the item's current status does not allow."""


def after_update(status: str) -> Status:
    """Editing an approved text puts it back to draft: sales must only see approved words."""
    if status == Status.RETIRED:
        raise TransitionError("a retired item cannot be edited; create a new one")
    return Status.DRAFT


def after_approve(status: str) -> Status:
    if status != Status.DRAFT:
        raise TransitionError(f"only a DRAFT can be approved; this one is {status}")
    return Status.APPROVED


def after_retire(status: str) -> Status:
    if status == Status.RETIRED:
        raise TransitionError("already retired")
    return Status.RETIRED
