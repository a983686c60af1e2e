"""Every connector endpoint, for the gateway app."""

from __future__ import annotations

from starlette.routing import Route

from services.gateway.connectors import segment
from services.gateway.connectors.hubspot import post_hubspot
from services.gateway.connectors.monday import post_monday
from services.gateway.connectors.salesforce import post_salesforce


def routes() -> list[Route]:
    return [
        *(Route(path, endpoint, methods=["POST"]) for path, endpoint in segment.ROUTES),
        Route("/v1/connectors/hubspot/{tenant}", post_hubspot, methods=["POST"]),
        Route("/v1/connectors/salesforce/{tenant}", post_salesforce, methods=["POST"]),
        Route("/v1/connectors/monday/{tenant}", post_monday, methods=["POST"]),
    ]
