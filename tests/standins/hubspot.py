"""HubSpot's CRM v3 batch update of contacts, as documented, for tests: the path,
`Authorization: Bearer <token>`, a JSON body `{"inputs": [{"id", "properties",
"idProperty"?}]}` with 1 to 100 inputs and no repeated id, string property values, answers
200 (all updated) or 207 (some ids unknown), and the per-10-second rolling limit: beyond
it, 429 with `Retry-After` and the X-HubSpot-RateLimit-* headers. A request that comes back
before the Retry-After it was given is counted in `early` (and refused again)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.standins.http import Answer, RecordsRefusals, Request, Server

PATH = "/crm/v3/objects/contacts/batch/update"
MAX_INPUTS = 100


def _error(status: int, category: str, message: str, **extra: Any) -> Answer:
    return Answer.of_json(
        status, {"status": "error", "category": category, "message": message, **extra}
    )


@dataclass
class HubSpotStandIn(RecordsRefusals):
    token: str
    contacts: dict[str, dict[str, str]]  # contact id → properties
    max_per_window: int = 100
    window_s: float = 10.0
    retry_after_s: int = 1
    # Answer the first request with a 429, as when other apps of the portal used the window.
    throttle_first: bool = False
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    throttled: int = 0
    early: int = 0
    _hits: list[float] = field(default_factory=list)
    _blocked_until: float = 0.0
    server: Server | None = None

    def _limit_headers(self, remaining: int) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Max": str(self.max_per_window),
            "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window_s * 1000)),
        }

    def _throttle(self, now: float) -> Answer:
        self.throttled += 1
        self._blocked_until = now + self.retry_after_s
        return Answer.of_json(
            429,
            {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "category": "RATE_LIMITS",
                "policyName": "TEN_SECONDLY_ROLLING",
            },
            {"Retry-After": str(self.retry_after_s), **self._limit_headers(0)},
        )

    def _answer(self, request: Request) -> Answer:
        if request.method != "POST" or request.path != PATH:
            return _error(404, "OBJECT_NOT_FOUND", f"no route {request.method} {request.path}")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
        if "application/json" not in request.headers.get("content-type", ""):
            return _error(415, "VALIDATION_ERROR", "Content-Type must be application/json")
        now = time.monotonic()
        if now < self._blocked_until:
            self.early += 1
            return self._throttle(now)
        self._hits = [t for t in self._hits if t > now - self.window_s]
        if self.throttle_first and not self.throttled:
            return self._throttle(now)
        if len(self._hits) >= self.max_per_window:
            return self._throttle(now)
        self._hits.append(now)
        try:
            inputs = request.json()["inputs"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "VALIDATION_ERROR", 'body must be {"inputs": [...]}')
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= MAX_INPUTS:
            return _error(400, "VALIDATION_ERROR", f"inputs must hold 1 to {MAX_INPUTS} items")
        ids = []
        for item in inputs:
            props = item.get("properties") if isinstance(item, dict) else None
            if (
                not isinstance(item.get("id"), str)
                or not isinstance(props, dict)
                or not all(isinstance(v, str) for v in props.values())
                or set(item) - {"id", "properties", "idProperty"}
            ):
                return _error(400, "VALIDATION_ERROR", f"invalid input {item!r}")
            ids.append(item["id"])
        if len(set(ids)) != len(ids):
            return _error(400, "VALIDATION_ERROR", "Duplicate IDs found in batch input")
        self.batches.append(inputs)
        unknown = [i for i in ids if i not in self.contacts]
        results = []
        for item in inputs:
            if item["id"] in self.contacts:
                self.contacts[item["id"]].update(item["properties"])
                results.append({"id": item["id"], "properties": self.contacts[item["id"]]})
        headers = self._limit_headers(self.max_per_window - len(self._hits))
        if unknown:
            errors = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some CONTACT objects",
                    "context": {"ids": unknown},
                }
            ]
            return Answer.of_json(
                207,
                {
                    "status": "COMPLETE",
                    "results": results,
                    "errors": errors,
                    "numErrors": len(unknown),
                },
                headers,
            )
        return Answer.of_json(200, {"status": "COMPLETE", "results": results}, headers)
