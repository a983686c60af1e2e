"""Every connector endpoint, for the gateway app."""

from __future__ import annotations

from starlette.routing import Route

from services.gateway.connectors import segment


def routes() -> list[Route]:
    return [Route(path, endpoint, methods=["POST"]) for path, endpoint in segment.ROUTES]
