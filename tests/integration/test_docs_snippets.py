"""Every runnable code block of the README, docs/, clients/ and schemas/ runs against the
real platform as a reader would run it (tests/snippets.py says how each tag is run).

Each block gets a tenant of its own, named where the docs say `acme` (one not created yet
when the block creates it), the platform's gateway where they say
`http://127.0.0.1:8000`, and that tenant's admin key in `TANDEM_API_KEY` and `KEY`. A bash
block runs with `set -euo pipefail` in a directory that looks like a checkout (`.venv`,
`schemas`); a `# {...}` comment line after a command is the JSON it must print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import OperationDefinitionNode, parse, print_ast

from tests.conftest import REPO
from tests.integration.conftest import Platform
from tests.snippets import RUN, Snippet, snippets

DOCS_URL = "http://127.0.0.1:8000"
_VARIABLES = re.compile(r"^#\s*variables:\s*(\{.*\})\s*$", re.MULTILINE)
_EXPECTED = re.compile(r"^#\s*([\[{].*)$", re.MULTILINE)

RUNNABLE = [s for s in snippets() if s.tag in RUN]


async def _tenant_for(platform: Platform, snippet: Snippet) -> tuple[str, str, str]:
    """(slug the block's `acme` becomes, its admin key, the block with names replaced)."""
    slug, key = await platform.create_tenant("docs")
    named = slug
    if re.search(r"tenant create acme\b", snippet.body):
        named = f"docs-new-{uuid.uuid4().hex[:10]}"
    body = re.sub(r"\bacme\b", named, snippet.body).replace(DOCS_URL, platform.gateway_url)
    return named, key, body


def _env(platform: Platform, key: str) -> dict[str, str]:
    return {
        **os.environ,
        "TANDEM_API_KEY": key,
        "KEY": key,
        "TANDEM_HTTP_PORT": platform.gateway_url.rsplit(":", 1)[1],
        "PYTHONPATH": str(REPO),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }


def _checkout(tmp_path: Path) -> Path:
    for name in (".venv", "schemas"):
        (tmp_path / name).symlink_to(REPO / name)
    return tmp_path


def _run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


async def _post(platform: Platform, key: str, path: str, body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        return await client.post(path, json=body, headers={"X-API-Key": key})


@pytest.mark.parametrize("snippet", RUNNABLE, ids=str)
async def test_the_snippet_runs(platform: Platform, snippet: Snippet, tmp_path: Path) -> None:
    _, key, body = await _tenant_for(platform, snippet)
    cwd = _checkout(tmp_path)
    if snippet.tag == "bash":
        out = _run(["bash", "-euo", "pipefail", "-c", body], _env(platform, key), cwd)
        printed = []
        for line in out.splitlines():
            try:
                printed.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        for expected in _EXPECTED.findall(body):
            assert orjson.loads(expected) in printed, (expected, out)
    elif snippet.tag == "python":
        script = cwd / "snippet.py"
        script.write_text(body)
        _run([sys.executable, str(script)], _env(platform, key), cwd)
    elif snippet.tag == "graphql":
        found = _VARIABLES.search(body)
        variables = orjson.loads(found[1]) if found else {}
        operations = [d for d in parse(body).definitions if isinstance(d, OperationDefinitionNode)]
        assert operations, "a graphql block holds at least one operation"
        for operation in operations:
            query = print_ast(operation)
            response = await _post(
                platform, key, "/graphql", {"query": query, "variables": variables}
            )
            answer = response.json()
            assert response.status_code == 200 and "errors" not in answer, (query, answer)
    else:
        value = orjson.loads(body)
        if isinstance(value, list) and value and all("event_id" in e for e in value):
            response = await _post(platform, key, "/v1/events", value)
            assert response.status_code == 200, response.text
            assert response.json() == {"accepted": len(value), "rejected": []}


def test_the_runner_sees_the_documented_examples() -> None:
    """The parametrisation above is not empty by accident (a broken parser would pass)."""
    tags = {s.tag for s in RUNNABLE}
    assert {"bash", "python", "graphql", "json"} <= tags
    assert any(s.path.name == "README.md" and s.path.parent == REPO for s in RUNNABLE)
