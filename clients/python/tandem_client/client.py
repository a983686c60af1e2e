"""The thread flavour: `TandemClient.send` for batches you hold, `enqueue` for events a
background thread flushes by size and interval, `graphql` for queries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from tandem_client._wire import (
    MAX_EVENTS,
    BatchResult,
    ErrorHandler,
    ResultHandler,
    TandemError,
    answer_json,
    body,
    busy_wait,
    encode_event,
    graphql_result,
    read_answer,
    report,
    split,
    unreachable_wait,
)


class TandemClient:
    """Sends events to POST /v1/events and queries /graphql with one API key.

    `send` blocks until every event is acknowledged or refused, retrying 429/503 (honouring
    Retry-After) and connection failures up to `max_retries` times; the gateway accepts
    nothing of a request it answers that way, and event ids make a retry idempotent.
    """

    def __init__(
        self,
        api_key: str,
        url: str = "http://127.0.0.1:8000",
        *,
        gzip: bool = True,
        max_retries: int = 8,
        timeout: float = 30.0,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_queue: int = 100_000,
        lane: str | None = None,
        on_error: ErrorHandler | None = None,
        on_result: ResultHandler | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= batch_size <= MAX_EVENTS:
            raise ValueError(f"batch_size must be 1 to {MAX_EVENTS}")
        self._http = httpx.Client(
            base_url=url.rstrip("/"), headers={"X-API-Key": api_key}, timeout=timeout
        )
        self._gzip = gzip
        self._max_retries = max_retries
        self._params = {"lane": lane} if lane else {}
        self._sleep = sleep
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue = max_queue
        self._on_error = on_error
        self._on_result = on_result
        self._queue: list[Mapping[str, Any]] = []
        self._lock = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._flush_now = False
        self._thread: threading.Thread | None = None

    # -- batches you hold ------------------------------------------------------------

    def send(self, events: Sequence[Mapping[str, Any]]) -> BatchResult:
        """Sends the events (split to the gateway's limits); the merged answer."""
        result = BatchResult()
        for offset, chunk in split([encode_event(e) for e in events]):
            result.merge(self._post_chunk(chunk), offset)
        return result

    def _post_chunk(self, chunk: list[bytes]) -> BatchResult:
        content, headers = body(chunk, self._gzip)
        # Event ids make a resent batch idempotent, so a lost connection is retried too.
        response = self._post(
            "/v1/events",
            retry_unreachable=True,
            content=content,
            headers=headers,
            params=self._params,
        )
        return read_answer(response.status_code, answer_json(response))

    def _post(self, path: str, *, retry_unreachable: bool, **request: Any) -> httpx.Response:
        """POSTs until the answer stands, waiting between tries as the retry policy says."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.post(path, **request)
            except httpx.TransportError as exc:
                if not retry_unreachable:
                    raise
                self._sleep(unreachable_wait(attempt, self._max_retries, exc))
                continue
            wait = busy_wait(attempt, self._max_retries, response)
            if wait is None:
                return response
            self._sleep(wait)

    # -- background flushing -------------------------------------------------------------

    def enqueue(self, event: Mapping[str, Any]) -> None:
        """Queues an event; a background thread sends it within `flush_interval`, or as
        soon as `batch_size` are waiting. Blocks while the queue is full."""
        with self._lock:
            if self._closed:
                raise TandemError("client is closed")
            while len(self._queue) >= self._max_queue:
                self._lock.wait()
            self._queue.append(event)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tandem-flush", daemon=True)
                self._thread.start()
            if len(self._queue) >= self._batch_size:
                self._lock.notify_all()

    def _run(self) -> None:
        while True:
            with self._lock:
                deadline = time.monotonic() + self._flush_interval
                while (
                    not self._closed
                    and not self._flush_now
                    and len(self._queue) < self._batch_size
                    and time.monotonic() < deadline
                ):
                    self._lock.wait(max(0.0, deadline - time.monotonic()))
                batch = self._queue[: self._batch_size]
                del self._queue[: len(batch)]
                self._flush_now = bool(self._queue) and self._flush_now
                self._in_flight = len(batch)
                self._lock.notify_all()
                if not batch and self._closed:
                    return
            if batch:
                self._deliver(batch)
            with self._lock:
                self._in_flight = 0
                self._lock.notify_all()

    def _deliver(self, batch: list[Mapping[str, Any]]) -> None:
        outcome: BatchResult | Exception
        try:
            outcome = self.send(batch)
        except Exception as exc:  # the thread must survive to send what follows
            outcome = exc
        report(batch, outcome, self._on_result, self._on_error)

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every queued event was sent (or refused); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._flush_now = True
            self._lock.notify_all()
            while self._queue or self._in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._lock.wait(remaining if remaining is not None else 0.5)
        return True

    def close(self) -> None:
        """Sends what is queued, stops the thread, closes the connection pool."""
        self.flush()
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join()
        self._http.close()

    def __enter__(self) -> TandemClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- GraphQL ---------------------------------------------------------------------

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The query's `data`; GraphQLError (with each error's extensions.code) on errors."""
        response = self._post(
            "/graphql",
            # A mutation that reached the gateway before the connection broke must not run twice.
            retry_unreachable=False,
            json={"query": query, "variables": dict(variables or {})},
        )
        return graphql_result(response.status_code, answer_json(response))
