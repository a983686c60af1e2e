"""Share links' pure parts: the frame-ancestors policy and the check of an allowed site."""

from __future__ import annotations

import pytest

from services.gateway.graphql.core.permissions import shared_may_read
from services.gateway.graphql.sharing.resolvers import origin_problem
from services.gateway.web import frame_ancestors


def test_no_allowed_site_means_no_frame_at_all() -> None:
    assert frame_ancestors(None) == "frame-ancestors 'none'"
    assert frame_ancestors([]) == "frame-ancestors 'none'"
    assert frame_ancestors(["https://wiki.example.com", "'self'"]) == (
        "frame-ancestors https://wiki.example.com 'self'"
    )


@pytest.mark.parametrize(
    "origin",
    ["https://wiki.example.com", "http://localhost:8080", "https://*.monday.com", "'self'"],
)
def test_an_origin_is_allowed(origin: str) -> None:
    assert origin_problem(origin) is None


@pytest.mark.parametrize(
    "origin",
    ["*", "javascript:1", "https://a.example.com/path", "https://a.example.com; script-src *", ""],
)
def test_anything_else_is_refused(origin: str) -> None:
    assert origin_problem(origin) is not None


class _Path:
    def __init__(self, prev: object) -> None:
        self.prev = prev


class _Info:
    def __init__(self, field_name: str, nested: bool = False) -> None:
        self.field_name = field_name
        self.path = _Path(object() if nested else None)


def test_a_share_link_reads_the_root_fields_of_its_pages_alone() -> None:
    overview = frozenset({"OVERVIEW"})
    assert shared_may_read(overview, _Info("metrics"))
    assert shared_may_read(overview, _Info("viewer"))
    assert shared_may_read(overview, _Info("leadChanges"))
    assert not shared_may_read(overview, _Info("lead"))
    assert not shared_may_read(overview, _Info("shareLinks"))
    assert shared_may_read(overview | {"PIPELINE"}, _Info("lead"))
    assert shared_may_read(overview, _Info("traits", nested=True))  # follows its root
