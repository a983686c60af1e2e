"""The locks agree with pyproject.toml: every declared dependency is locked at a version it
allows (else: `make lock`), the runtime lock is the same versions as the dev lock, and every
locked package carries hashes (pip installs it with --require-hashes)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

LOCK = REPO / "requirements.lock"
DEV_LOCK = REPO / "requirements-dev.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
# What the locks are resolved for (`make lock`); markers are judged for this interpreter.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
          "platform_system": "Linux", "implementation_name": "cpython"}  # fmt: skip


def locked(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    blocks = path.read_text().split("\n")
    for index, line in enumerate(blocks):
        match = _PIN.match(line)
        if match:
            assert "--hash=sha256:" in blocks[index + 1], f"{path.name}: {match[1]} has no hash"
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def declared(pyproject: Path, extras: tuple[str, ...] = ()) -> list[Requirement]:
    project = tomllib.loads(pyproject.read_text())["project"]
    texts = list(project.get("dependencies", []))
    for extra in extras:
        texts += project.get("optional-dependencies", {}).get(extra, [])
    return [Requirement(text) for text in texts]


def _mismatches(requirements: list[Requirement], pins: dict[str, str]) -> list[str]:
    problems = []
    for requirement in requirements:
        if requirement.marker and not requirement.marker.evaluate(TARGET):
            continue
        version = pins.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement} is not locked")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement} but {version} is locked")
    return problems


def test_the_runtime_lock_holds_every_runtime_dependency() -> None:
    problems = _mismatches(declared(REPO / "pyproject.toml"), locked(LOCK))
    assert not problems, f"run `make lock`: {problems}"


def test_the_dev_lock_holds_every_dependency_of_the_project_and_its_client() -> None:
    requirements = declared(REPO / "pyproject.toml", ("dev",))
    requirements += declared(REPO / "clients" / "python" / "pyproject.toml")
    problems = _mismatches(requirements, locked(DEV_LOCK))
    assert not problems, f"run `make lock`: {problems}"


def test_the_image_gets_the_versions_the_tests_ran_with() -> None:
    runtime, dev = locked(LOCK), locked(DEV_LOCK)
    assert {name: dev.get(name) for name in runtime} == runtime
