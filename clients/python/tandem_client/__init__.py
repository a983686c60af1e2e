"""Typed Python client for Tandem.

    from tandem_client import TandemClient

    with TandemClient(API_KEY, "http://127.0.0.1:8000") as tandem:
        tandem.enqueue({"event_id": "e-1", "type": "page_view", "lead_id": "L-1",
                        "occurred_at": "2026-11-20T10:00:00Z"})   # sent by a thread
        result = tandem.send(events)                              # or a batch, now
        pipeline = tandem.graphql("{ pipeline { stages { stage count } } }")

`AsyncTandemClient` is the same with awaitables and an asyncio task.
"""

from tandem_client._wire import BatchResult, GraphQLError, Rejection, TandemError, retry_delay
from tandem_client.aio import AsyncTandemClient
from tandem_client.client import TandemClient

__all__ = [
    "AsyncTandemClient",
    "BatchResult",
    "GraphQLError",
    "Rejection",
    "TandemClient",
    "TandemError",
    "retry_delay",
]
