"""The Python client's batching and retry policy, and its retries against a local stand-in
gateway that answers 503/429 with Retry-After before it accepts."""

from __future__ import annotations

import gzip
import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tandem_client import BatchResult, TandemClient, TandemError, retry_delay
from tandem_client._wire import MAX_BODY_BYTES, MAX_EVENTS, split


def test_retry_after_seconds_or_date_wins_over_backoff() -> None:
    assert retry_delay(3, "7") == 7.0
    now = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
    assert retry_delay(1, "Fri, 20 Nov 2026 10:00:12 GMT", now=now) == 12.0
    rng = random.Random(1)
    for attempt in range(1, 12):
        assert 0 <= retry_delay(attempt, None, rng=rng) <= min(30.0, 0.5 * 2 ** (attempt - 1))


@given(st.lists(st.integers(1, 300_000), max_size=60))
def test_split_keeps_order_and_the_gateway_limits(sizes: list[int]) -> None:
    encoded = [b"x" * n for n in sizes]
    chunks = list(split(encoded))
    assert [item for _, chunk in chunks for item in chunk] == encoded
    for offset, chunk in chunks:
        assert encoded[offset : offset + len(chunk)] == chunk
        assert len(chunk) <= MAX_EVENTS
        assert 2 + sum(len(i) + 1 for i in chunk) - 1 <= MAX_BODY_BYTES


def test_split_refuses_an_event_over_the_body_limit() -> None:
    with pytest.raises(TandemError):
        list(split([b"x" * MAX_BODY_BYTES]))


class _StandIn(BaseHTTPRequestHandler):
    """Answers each POST with the next scripted status; records what it received."""

    script: list[tuple[int, dict[str, str]]] = []
    received: list[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["content-length"]))
        if self.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        status, headers = self.script.pop(0) if self.script else (200, {})
        events = json.loads(raw)
        self.received.append(events)
        body = (
            json.dumps({"accepted": len(events), "rejected": []})
            if status == 200
            else json.dumps({"error": {"code": "KAFKA_UNAVAILABLE", "message": "retry"}})
        ).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def stand_in() -> Iterator[str]:
    _StandIn.script, _StandIn.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_client_retries_503_and_429_honouring_retry_after(stand_in: str) -> None:
    _StandIn.script = [(503, {"Retry-After": "2"}), (429, {"Retry-After": "1"})]
    waits: list[float] = []
    with TandemClient("key", stand_in, sleep=waits.append) as client:
        result = client.send([{"event_id": "e-1"}, {"event_id": "e-2"}])
    assert result.accepted == 2
    assert waits == [2.0, 1.0]
    assert len(_StandIn.received) == 3  # the same batch, three times


def test_client_gives_up_after_max_retries(stand_in: str) -> None:
    _StandIn.script = [(503, {"Retry-After": "0"})] * 3
    client = TandemClient("key", stand_in, max_retries=2, sleep=lambda s: None)
    with client, pytest.raises(TandemError) as err:
        client.send([{"event_id": "e-1"}])
    assert err.value.status == 503


def test_background_thread_flushes_in_batches(stand_in: str) -> None:
    results: list[BatchResult] = []
    with TandemClient(
        "key", stand_in, batch_size=10, flush_interval=60, on_result=results.append
    ) as client:
        for i in range(25):
            client.enqueue({"event_id": f"e-{i}"})
        assert client.flush(timeout=30)
    assert sum(r.accepted for r in results) == 25
    sent = [e["event_id"] for batch in _StandIn.received for e in batch]
    assert sent == [f"e-{i}" for i in range(25)]
    assert max(len(batch) for batch in _StandIn.received) == 10
