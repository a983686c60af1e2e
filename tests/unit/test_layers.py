"""The layers of ARCHITECTURE.md, read from the imports: every arrow points down.

shared/domain (pure) → shared (infrastructure) → services/{workers,gateway,delivery} →
simulation (simulated traffic) → services/admin (the composition root, the CLI) → bench.
A module may import its own layer's package and the layers below it, never a layer above
nor a sibling service; no GraphQL domain imports another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lower rank = lower layer. A module's layer is the longest prefix that names it.
LAYERS: dict[str, int] = {
    "shared.domain": 0,
    "shared": 1,
    "services.workers": 2,
    "services.gateway": 2,
    "services.delivery": 2,
    # The demo's and the tests' simulated traffic: used by the CLI and the bench only.
    "simulation": 3,
    "services.admin": 4,
    "bench": 5,
}
GRAPHQL = "services.gateway.graphql"
# What every GraphQL domain may import besides its own package; `schema` composes them.
GRAPHQL_SHARED = ("core", "nodes", "schema", "endpoint")


def layer_of(module: str) -> str | None:
    best = None
    for prefix in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best)
        ):
            best = prefix
    return best


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The absolute modules a file imports (`from a import b` counts as a and a.b)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def sources() -> list[Path]:
    roots = ("shared", "services", "simulation", "bench")
    return sorted(p for r in roots if (ROOT / r).is_dir() for p in (ROOT / r).rglob("*.py"))


def violations(module: str, imported: set[str]) -> list[str]:
    own = layer_of(module)
    if own is None:
        return []
    wrong = []
    for target in sorted(imported):
        theirs = layer_of(target)
        if theirs is None or theirs == own:
            continue
        if LAYERS[theirs] >= LAYERS[own]:
            wrong.append(f"{module} imports {target} ({theirs} is not below {own})")
    if module.startswith(GRAPHQL + "."):
        domain = module.split(".")[3]
        for target in sorted(imported):
            if target.startswith(GRAPHQL + "."):
                other = target.split(".")[3]
                if other != domain and other not in GRAPHQL_SHARED and domain not in GRAPHQL_SHARED:
                    wrong.append(f"{module} imports another GraphQL domain: {target}")
                if domain in ("core", "nodes") and other not in ("core", "nodes"):
                    wrong.append(f"{module} (shared GraphQL) imports a domain: {target}")
                if domain == "core" and other == "nodes":
                    wrong.append(f"{module} (core) imports the domain types: {target}")
    return wrong


def test_every_import_points_down_the_layers() -> None:
    wrong = [v for p in sources() for v in violations(module_name(p), imports_of(p))]
    assert wrong == []


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("services.gateway.graphql.privacy.resolvers", "services.admin.privacy"),
        ("services.gateway.app", "services.workers.store"),
        ("services.workers.app", "services.delivery.app"),
        ("shared.erasure", "services.workers.store"),
        ("shared.domain.journey", "shared.db"),
        ("services.admin.cli", "bench.run"),
        ("shared.kafka", "simulation.generator"),
        ("services.gateway.graphql.leads.resolvers", "services.gateway.graphql.accounts.resolvers"),
        ("services.gateway.graphql.core.relay", "services.gateway.graphql.leads.resolvers"),
        ("services.gateway.graphql.core.relay", "services.gateway.graphql.nodes.lead"),
        ("services.gateway.graphql.nodes.lead", "services.gateway.graphql.sla.resolvers"),
    ],
)
def test_an_arrow_up_or_sideways_is_caught(module: str, target: str) -> None:
    assert violations(module, {target}) != []


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("services.admin.privacy", "shared.erasure"),
        ("services.workers.project", "shared.domain.journey"),
        ("bench.run", "services.admin.cli"),
        ("services.gateway.graphql.leads.resolvers", "services.gateway.graphql.core.relay"),
        ("services.gateway.graphql.schema", "services.gateway.graphql.leads.resolvers"),
        ("services.gateway.graphql.sla.types", "services.gateway.graphql.nodes.lead"),
        ("services.gateway.graphql.nodes.lead", "services.gateway.graphql.core.batch"),
    ],
)
def test_an_arrow_down_is_allowed(module: str, target: str) -> None:
    assert violations(module, {target}) == []
