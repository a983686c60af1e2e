"""Share links' pure parts: the frame-ancestors policy and the check of an allowed site."""

from __future__ import annotations

import pytest

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
