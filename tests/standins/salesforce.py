"""Salesforce's composite sObject collection update, as documented, for tests:
`PATCH /services/data/vXX.X/composite/sobjects`, `Authorization: Bearer <token>`, a JSON
body `{"allOrNone": bool, "records": [...]}` with 1 to 200 records, each with
`attributes.type` and an 15- or 18-character `id`; an answer of 200 with one result per
record (`{"id", "success", "errors"}`), fields the object does not have refused per record,
allOrNone rolling every record back on any failure; and 429 with `Retry-After` beyond the
request limit. A request that comes back before its Retry-After is counted in `early`."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.standins.http import Answer, RecordsRefusals, Request, Server

PATH = re.compile(r"^/services/data/v\d+\.\d/composite/sobjects$")
ID = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")
MAX_RECORDS = 200


def _errors(status: int, code: str, message: str) -> Answer:
    return Answer.of_json(status, [{"errorCode": code, "message": message}])


@dataclass
class SalesforceStandIn(RecordsRefusals):
    token: str
    object_type: str
    records: dict[str, dict[str, Any]]  # record id → fields
    fields: frozenset[str]  # the fields the object has (custom fields included)
    max_requests: int = 1_000
    retry_after_s: int = 1
    throttle_first: bool = False
    batches: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    throttled: int = 0
    early: int = 0
    _served: int = 0
    _blocked_until: float = 0.0
    server: Server | None = None

    def _throttle(self, now: float) -> Answer:
        self.throttled += 1
        self._blocked_until = now + self.retry_after_s
        answer = _errors(429, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        answer.headers = {**(answer.headers or {}), "Retry-After": str(self.retry_after_s)}
        return answer

    def _answer(self, request: Request) -> Answer:
        if request.method != "PATCH" or not PATH.match(request.path):
            return _errors(
                404, "NOT_FOUND", f"The requested resource does not exist: {request.path}"
            )
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if "application/json" not in request.headers.get("content-type", ""):
            return _errors(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
        now = time.monotonic()
        if now < self._blocked_until:
            self.early += 1
            return self._throttle(now)
        if (self.throttle_first and not self.throttled) or self._served >= self.max_requests:
            return self._throttle(now)
        self._served += 1
        try:
            body = request.json()
            records, all_or_none = body["records"], body["allOrNone"]
        except (ValueError, KeyError, TypeError):
            return _errors(400, "JSON_PARSER_ERROR", "body must be {allOrNone, records}")
        if not isinstance(all_or_none, bool) or set(body) - {"allOrNone", "records"}:
            return _errors(400, "JSON_PARSER_ERROR", "unexpected body members")
        if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS:
            return _errors(400, "EXCEEDED_ID_LIMIT", f"records must hold 1 to {MAX_RECORDS}")
        results = []
        staged: dict[str, dict[str, Any]] = {}
        for record in records:
            rid = record.get("id") if isinstance(record, dict) else None
            kind = (
                (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
            )
            if not isinstance(rid, str) or not ID.match(rid):
                return _errors(400, "MALFORMED_ID", f"bad id in {record!r}")
            if kind != self.object_type:
                return _errors(400, "INVALID_TYPE", f"attributes.type must be {self.object_type}")
            values = {k: v for k, v in record.items() if k not in ("id", "attributes")}
            unknown = sorted(set(values) - self.fields)
            if rid not in self.records:
                results.append(
                    {
                        "id": rid,
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "INVALID_CROSS_REFERENCE_KEY",
                                "message": "invalid id",
                                "fields": [],
                            }
                        ],
                    }
                )
            elif unknown:
                results.append(
                    {
                        "id": rid,
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "INVALID_FIELD",
                                "message": f"No such column {unknown[0]}",
                                "fields": unknown,
                            }
                        ],
                    }
                )
            else:
                staged[rid] = values
                results.append({"id": rid, "success": True, "errors": []})
        if all_or_none and any(not r["success"] for r in results):
            results = [
                r
                if not r["success"]
                else {
                    "id": r["id"],
                    "success": False,
                    "errors": [
                        {
                            "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                            "message": "Record rolled back because not all records were valid",
                            "fields": [],
                        }
                    ],
                }
                for r in results
            ]
            staged = {}
        for rid, values in staged.items():
            self.records[rid].update(values)
        self.batches.append(body)
        return Answer.of_json(200, results)
