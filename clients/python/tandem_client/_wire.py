"""What both client flavours share: batching by the gateway's limits, the body encoding,
the retry policy, the reading of answers and the reporting of a flushed batch. No I/O here."""

from __future__ import annotations

import gzip
import json
import logging
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

# The gateway's limits for POST /v1/events (docs/api.md).
MAX_EVENTS = 1_000
MAX_BODY_BYTES = 1_048_576
# Statuses after which the same request may succeed: rate limited, or the event log (Kafka)
# briefly unavailable; the gateway accepted nothing of such a request.
RETRY_STATUSES = frozenset({429, 502, 503, 504})

log = logging.getLogger("tandem_client")

ErrorHandler = Callable[[Exception, Sequence[Mapping[str, Any]]], None]
ResultHandler = Callable[["BatchResult"], None]


class TandemError(Exception):
    """A request the gateway refused for good (bad key, malformed body) or gave up on."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class GraphQLError(TandemError):
    """A GraphQL answer with errors; `errors` as sent, each with `extensions.code`."""

    def __init__(self, errors: list[dict[str, Any]], data: Any = None) -> None:
        codes = ", ".join(str(e.get("extensions", {}).get("code")) for e in errors)
        super().__init__(f"{errors[0].get('message')} ({codes})", body=errors)
        self.errors = errors
        self.data = data


@dataclass(frozen=True)
class Rejection:
    index: int
    event_id: str | None
    errors: list[dict[str, str]]


@dataclass
class BatchResult:
    """What the gateway answered for a batch: events accepted (acknowledged by Kafka) and
    each rejected event with its fields."""

    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def merge(self, other: BatchResult, offset: int) -> None:
        self.accepted += other.accepted
        self.rejected.extend(
            Rejection(r.index + offset, r.event_id, r.errors) for r in other.rejected
        )


def encode_event(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=_default).encode()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def split(encoded: Sequence[bytes]) -> Iterator[tuple[int, list[bytes]]]:
    """(offset, chunk) of encoded events, each chunk within the gateway's count and size."""
    start, size = 0, 2
    chunk: list[bytes] = []
    for index, item in enumerate(encoded):
        if len(item) + 2 > MAX_BODY_BYTES:
            raise TandemError(f"event {index} alone exceeds {MAX_BODY_BYTES} bytes")
        if chunk and (len(chunk) == MAX_EVENTS or size + len(item) + 1 > MAX_BODY_BYTES):
            yield start, chunk
            start, chunk, size = index, [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        yield start, chunk


def body(chunk: Sequence[bytes], compress: bool) -> tuple[bytes, dict[str, str]]:
    raw = b"[" + b",".join(chunk) + b"]"
    headers = {"content-type": "application/json"}
    if not compress:
        return raw, headers
    return gzip.compress(raw, compresslevel=5), {**headers, "content-encoding": "gzip"}


def retry_delay(
    attempt: int,
    retry_after: str | None,
    *,
    base: float = 0.5,
    cap: float = 30.0,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number `attempt` (1-based): the server's Retry-After
    (seconds or an HTTP date) when given, else exponential backoff with full jitter."""
    if retry_after:
        text = retry_after.strip()
        if text.isdigit():
            return float(text)
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return (rng or random).uniform(0, ceiling)


def unreachable_wait(attempt: int, max_retries: int, exc: Exception) -> float:
    """Seconds to wait before trying again after try `attempt` could not reach the gateway;
    TandemError once `max_retries` retries are spent."""
    if attempt > max_retries:
        raise TandemError(f"gateway unreachable after {attempt} tries: {exc}") from exc
    return retry_delay(attempt, None)


def busy_wait(attempt: int, max_retries: int, response: httpx.Response) -> float | None:
    """Seconds to wait before sending the same request again after this answer, or None when
    the answer stands (a success, a refusal, or retries spent)."""
    if response.status_code in RETRY_STATUSES and attempt <= max_retries:
        return retry_delay(attempt, response.headers.get("retry-after"))
    return None


def report(
    batch: Sequence[Mapping[str, Any]],
    outcome: BatchResult | Exception,
    on_result: ResultHandler | None,
    on_error: ErrorHandler | None,
) -> None:
    """Logs and hands on what became of a batch the background flusher sent."""
    if isinstance(outcome, Exception):
        log.error("tandem batch not delivered", extra={"events": len(batch)}, exc_info=outcome)
        if on_error:
            on_error(outcome, batch)
        return
    if outcome.rejected:
        log.warning(
            "tandem events rejected",
            extra={"rejected": [(r.event_id, r.errors) for r in outcome.rejected]},
        )
    if on_result:
        on_result(outcome)


def read_answer(status: int, payload: Any) -> BatchResult:
    """The BatchResult of a 200 answer, or TandemError for a refusal that retrying won't fix."""
    if status != 200:
        message = payload.get("error", {}).get("message") if isinstance(payload, dict) else None
        raise TandemError(f"gateway answered {status}: {message or payload}", status, payload)
    return BatchResult(
        accepted=int(payload["accepted"]),
        rejected=[
            Rejection(int(r["index"]), r.get("event_id"), list(r["errors"]))
            for r in payload["rejected"]
        ],
    )


def graphql_result(status: int, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise TandemError(f"GraphQL answered {status} without a JSON object", status, payload)
    if payload.get("errors"):
        raise GraphQLError(payload["errors"], payload.get("data"))
    if status != 200:
        raise TandemError(f"GraphQL answered {status}", status, payload)
    data: dict[str, Any] = payload["data"]
    return data


def answer_json(response: httpx.Response) -> Any:
    """The answer's JSON, or its text when it is not JSON (a proxy's error page)."""
    try:
        return response.json()
    except ValueError:
        return response.text
