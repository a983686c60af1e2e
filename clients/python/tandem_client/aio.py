"""The asyncio flavour: the same API as TandemClient with awaitables, flushed by a task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
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


class AsyncTandemClient:
    """Use inside a running event loop; `async with` closes it (sending what is queued)."""

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
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 1 <= batch_size <= MAX_EVENTS:
            raise ValueError(f"batch_size must be 1 to {MAX_EVENTS}")
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"), headers={"X-API-Key": api_key}, timeout=timeout
        )
        self._gzip = gzip
        self._max_retries = max_retries
        self._params = {"lane": lane} if lane else {}
        self._sleep = sleep
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._on_error = on_error
        self._on_result = on_result
        self._queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue(max_queue)
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def send(self, events: Sequence[Mapping[str, Any]]) -> BatchResult:
        result = BatchResult()
        for offset, chunk in split([encode_event(e) for e in events]):
            result.merge(await self._post_chunk(chunk), offset)
        return result

    async def _post_chunk(self, chunk: list[bytes]) -> BatchResult:
        content, headers = body(chunk, self._gzip)
        # Event ids make a resent batch idempotent, so a lost connection is retried too.
        response = await self._post(
            "/v1/events",
            retry_unreachable=True,
            content=content,
            headers=headers,
            params=self._params,
        )
        return read_answer(response.status_code, answer_json(response))

    async def _post(self, path: str, *, retry_unreachable: bool, **request: Any) -> httpx.Response:
        """POSTs until the answer stands, waiting between tries as the retry policy says."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.post(path, **request)
            except httpx.TransportError as exc:
                if not retry_unreachable:
                    raise
                await self._sleep(unreachable_wait(attempt, self._max_retries, exc))
                continue
            wait = busy_wait(attempt, self._max_retries, response)
            if wait is None:
                return response
            await self._sleep(wait)

    async def enqueue(self, event: Mapping[str, Any]) -> None:
        """Queues an event (waits while the queue is full); a task sends it within
        `flush_interval`, or as soon as `batch_size` are waiting."""
        if self._closed:
            raise TandemError("client is closed")
        await self._queue.put(event)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tandem-flush")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            batch = [first]
            deadline = loop.time() + self._flush_interval
            while len(batch) < self._batch_size:
                try:
                    batch.append(
                        await asyncio.wait_for(self._queue.get(), max(0, deadline - loop.time()))
                    )
                except TimeoutError:
                    break
            try:
                await self._deliver(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _deliver(self, batch: list[Mapping[str, Any]]) -> None:
        outcome: BatchResult | Exception
        try:
            outcome = await self.send(batch)
        except Exception as exc:  # the task must survive to send what follows
            outcome = exc
        report(batch, outcome, self._on_result, self._on_error)

    async def flush(self) -> None:
        """Waits until every queued event was sent (or refused)."""
        await self._queue.join()

    async def aclose(self) -> None:
        self._closed = True
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._http.aclose()

    async def __aenter__(self) -> AsyncTandemClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self._post(
            "/graphql",
            # A mutation that reached the gateway before the connection broke must not run twice.
            retry_unreachable=False,
            json={"query": query, "variables": dict(variables or {})},
        )
        return graphql_result(response.status_code, answer_json(response))
