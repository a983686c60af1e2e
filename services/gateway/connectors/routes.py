"""Connectors in (SPEC 14): Segment-compatible intake, HubSpot and Salesforce webhooks."""

from __future__ import annotations

from starlette.routing import Route

from services.gateway.connectors import segment


def routes() -> list[Route]:
    return [Route(path, endpoint, methods=["POST"]) for path, endpoint in segment.ROUTES]
