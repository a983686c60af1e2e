"""The fenced code blocks of the user-facing Markdown (README, docs/, clients/, schemas/).

A block's language tag says how the tests run it: `bash` (a shell against the test
platform), `python`, `graphql` (each operation against the gateway) and `json` (parsed; an
array of events is sent and must be accepted whole). `text` marks a block that is not meant
to run (a listing, a sample of output, a diagram); any other tag, or none, is an error, so
a new example is either run or says it is not."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

RUN = ("bash", "python", "graphql", "json")
NOT_RUN = ("text",)
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<tag>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


def documents() -> list[Path]:
    return sorted(
        [
            REPO / "README.md",
            *(REPO / "docs").rglob("*.md"),
            *(REPO / "clients").rglob("*.md"),
            *(REPO / "schemas").rglob("README.md"),
        ]
    )


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int
    tag: str
    body: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}:{self.tag or 'untagged'}"


def snippets(paths: list[Path] | None = None) -> list[Snippet]:
    found = []
    for path in paths or documents():
        text = path.read_text()
        for match in _FENCE.finditer(text):
            indent = len(match["indent"])
            body = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
            line = text.count("\n", 0, match.start()) + 1
            found.append(Snippet(path, line, match["tag"].strip(), body))
    return found
