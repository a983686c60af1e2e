"""The user-facing Markdown is true to the repository: every code block is run by
tests/integration/test_docs_snippets.py or marked `text`; no outside contract is cited; every
event type is documented; the README names every service package and every CLI command
(read from the filesystem and from the CLI's parser), and ARCHITECTURE.md every package;
relative links lead to files that exist."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from services.admin.cli import build_parser
from tests.conftest import REPO
from tests.snippets import NOT_RUN, RUN, documents, snippets

README = (REPO / "README.md").read_text()


def test_every_code_block_is_run_or_marked_as_not_runnable() -> None:
    unmarked = [str(s) for s in snippets() if s.tag not in RUN + NOT_RUN]
    assert unmarked == [], f"tag these {' or '.join(RUN)} (run by the tests) or text"


def test_the_snippet_parser_finds_tags_lines_and_indented_blocks(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("# t\n\n```bash\necho 1\n```\n\n- item:\n\n  ```\n  x = 1\n  ```\n")
    found = snippets([doc])
    assert [(s.line, s.tag, s.body) for s in found] == [(3, "bash", "echo 1\n"), (9, "", "x = 1\n")]


# What users read besides the Markdown: the schema GraphiQL documents, the client's code.
USER_FACING = [
    REPO / "schemas/graphql/schema.graphql",
    *sorted((REPO / "clients").rglob("*.py")),
]


@pytest.mark.parametrize("path", documents() + USER_FACING, ids=lambda p: str(p.relative_to(REPO)))
def test_the_docs_cite_no_outside_contract(path: Path) -> None:
    cited = [
        f"{n}: {line.strip()}"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bSPEC\b", line)
    ]
    assert cited == []


def test_every_event_type_is_documented() -> None:
    events = (REPO / "docs" / "events.md").read_text()
    types = sorted(
        p.name.removesuffix(".schema.json") for p in (REPO / "schemas/events/types").iterdir()
    )
    assert types and [t for t in types if f"`{t}`" not in events] == []


def service_packages() -> list[str]:
    return sorted(
        f"services/{p.name}/"
        for p in (REPO / "services").iterdir()
        if (p / "__init__.py").is_file()
    )


def test_the_readme_names_every_service_package() -> None:
    packages = service_packages()
    assert "services/admin/" in packages
    assert [p for p in packages if p not in README] == []


def test_the_architecture_names_every_service_package() -> None:
    architecture = (REPO / "ARCHITECTURE.md").read_text()
    assert [p for p in service_packages() if p not in architecture] == []


def cli_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every runnable command of the parser: `tenant create`, `migrate`, ..."""
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += cli_commands(sub, (*prefix, name))
    return found or [" ".join(prefix)]


def listed_commands(text: str) -> set[str]:
    """The commands of the README's `.venv/bin/tandem ...` lines; `a | b` lists b too, with
    the words of a before the differing one (`tandem migrate | topics`)."""
    listed: set[str] = set()
    for line in text.splitlines():
        if ".venv/bin/tandem " not in line:
            continue
        line = line.split(".venv/bin/tandem ", 1)[1].split("#", 1)[0]
        for alternative in line.split(" | "):
            words = re.findall(r"^(?:[a-z][a-z-]*(?: |$))+", alternative.strip() + " ")
            command = words[0].split() if words else []
            for n in range(1, len(command) + 1):
                listed.add(" ".join(command[:n]))
    return listed


def test_the_readme_lists_every_cli_command() -> None:
    commands = cli_commands(build_parser())
    assert {"tenant create", "erase", "suppressions lift", "crm disable"} <= set(commands)
    listed = listed_commands(README)
    assert [c for c in commands if c not in listed] == []


def test_listed_commands_reads_alternatives() -> None:
    text = ".venv/bin/tandem crm set acme hubspot --token x | crm disable acme  # sync\n"
    text += ".venv/bin/tandem gateway | worker\n"
    assert {"crm set", "crm disable", "gateway", "worker"} <= listed_commands(text)


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_lead_to_files(path: Path) -> None:
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text())
    local = [link for link in links if "://" not in link and not link.startswith("mailto:")]
    assert [link for link in local if not (path.parent / link).exists()] == []
