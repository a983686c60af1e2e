"""The Monday.com board as Tandem keeps it: its groups, its columns (fixed ids, documented
in docs/monday.md) and the labels people see, shared by the delivery service that writes
the board and the gateway that reads its webhook."""

from __future__ import annotations

SHARED_NUMBERS = "Shared numbers"
ACTION_ITEMS = "Action items"
GROUPS = (SHARED_NUMBERS, ACTION_ITEMS)

# Tandem's columns on the board: id → (title, Monday.com column type). Documented in
# docs/monday.md; a board that has them already keeps them.
COLUMNS: dict[str, tuple[str, str]] = {
    "tandem_value": ("Value", "text"),
    "tandem_previous": ("Previous period", "text"),
    "tandem_change": ("Change", "text"),
    "tandem_updated": ("Updated at", "text"),
    "tandem_owner": ("Owner", "text"),
    "tandem_team": ("Team", "text"),
    "tandem_due": ("Due date", "date"),
    "tandem_status": ("Status", "status"),
}
STATUS_COLUMN = "tandem_status"

# Action item status ↔ the label people see on the board.
STATUS_LABELS = {
    "OPEN": "Open",
    "IN_PROGRESS": "In progress",
    "DONE": "Done",
    "DROPPED": "Dropped",
}
TEAM_LABELS = {"SALES": "Sales", "MARKETING": "Marketing", "BOTH": "Both"}
# Monday.com's own default labels mean the same to the people who pick them.
_LABEL_STATUSES = {label.lower(): status for status, label in STATUS_LABELS.items()} | {
    "working on it": "IN_PROGRESS",
    "stuck": "IN_PROGRESS",
}


def status_of_label(label: str) -> str | None:
    """The action item status a board label stands for; None for a label of no status."""
    return _LABEL_STATUSES.get(label.strip().lower())
