"""Progress of the admin CLI's long commands, on stderr so that stdout stays parseable."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

STDERR = Console(stderr=True)


def progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=STDERR,
        # A log file or a pipe gets the final state, not a stream of redraws.
        transient=False,
    )
