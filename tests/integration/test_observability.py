"""/metrics is for the operator's scrape token only and lists the gateway's metrics; one
event's trace goes from the gateway's HTTP span through Kafka into the worker's batch and
its PostgreSQL statements, as a local OTLP collector started here receives it."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import REPO, RUN_ID
from tests.integration.conftest import Platform, Process, _free_port
from tests.integration.test_admin_cli import demo_request

TANDEM = str(Path(sys.executable).with_name("tandem"))


async def test_metrics_are_for_the_operator_and_list_the_gateway_metrics(
    platform: Platform,
) -> None:
    tenant, admin = await platform.create_tenant("metrics")
    viewer = await platform.api_key(tenant, "viewer")
    await platform.post_events(admin, [demo_request("m-1")])
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        await client.post(
            "/graphql", json={"query": "{ pipeline { total } }"}, headers={"X-API-Key": viewer}
        )
        await client.post("/v1/events", content=b"[]", headers={"X-API-Key": admin})
        await client.post("/v1/events", content=b"[]", headers={"X-API-Key": "tdm_nope_nope"})

        anonymous = await client.get("/metrics")
        assert anonymous.status_code == 401
        assert "tandem_" not in anonymous.text and tenant not in anonymous.text
        assert (await client.get("/metrics", headers={"X-API-Key": viewer})).status_code == 403
        # a tenant's admin is no operator: the platform's metrics are not its to read
        assert (await client.get("/metrics", headers={"X-API-Key": admin})).status_code == 403
        token = {"Authorization": f"Bearer {os.environ['TANDEM_METRICS_TOKEN']}"}
        scraped = await client.get("/metrics", headers=token)
    assert scraped.status_code == 200
    text = scraped.text
    for expected in [
        'tandem_http_request_duration_seconds_count{method="POST",route="/v1/events",status="200"}',
        'tandem_graphql_operation_duration_seconds_count{field="pipeline",operation="query"}',
        "tandem_events_accepted_total ",
        'tandem_ingest_requests_refused_total{code="EMPTY_BATCH"}',
        'tandem_auth_failures_total{reason="unauthenticated"}',
    ]:
        assert expected in text, expected
    # No tenant is named, to the operator either: tenant labels are not bounded.
    assert tenant not in text


class Collector:
    """An OTLP/HTTP trace receiver: what the processes export, decoded."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                request = ExportTraceServiceRequest.FromString(body)
                with collector.lock:
                    for resource_spans in request.resource_spans:
                        service = next(
                            a.value.string_value
                            for a in resource_spans.resource.attributes
                            if a.key == "service.name"
                        )
                        for scope in resource_spans.scope_spans:
                            for span in scope.spans:
                                collector.spans.append(
                                    {
                                        "service": service,
                                        "name": span.name,
                                        "trace_id": span.trace_id.hex(),
                                        "span_id": span.span_id.hex(),
                                        "parent": span.parent_span_id.hex(),
                                    }
                                )
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.spans if s["trace_id"] == trace_id]


@pytest.fixture
def traced(platform: Platform, logs_dir: Path) -> Iterator[tuple[Collector, str, dict[str, str]]]:
    """A gateway and a worker of their own, exporting to a collector, on topics of their own."""
    collector = Collector()
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "TANDEM_DATABASE_ADMIN_URL"},
        "TANDEM_TOPIC_PREFIX": f"test-{RUN_ID}-traced.",
        "TANDEM_WORKER_GROUP": f"test-{RUN_ID}-traced",
        "TANDEM_WORKER_DATADIR": str(logs_dir / "faust-traced"),
        "TANDEM_HTTP_PORT": str(port),
        "TANDEM_OTLP_ENDPOINT": collector.url,
        "TANDEM_METRICS_TOKEN": secrets.token_hex(16),
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run([TANDEM, "topics"], env=env, cwd=REPO, check=True, capture_output=True)
    worker = Process("worker-traced", [TANDEM, "worker"], env, logs_dir / "worker-traced.log")
    gateway = Process(
        "gateway-traced", [TANDEM, "gateway", "--port", str(port)], env, logs_dir / "gw-traced.log"
    )
    worker.start()
    gateway.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, gateway.tail()
        time.sleep(0.2)
    try:
        yield collector, url, env
    finally:
        gateway.kill(signal.SIGTERM)
        worker.kill(signal.SIGTERM)
        collector.server.shutdown()


async def test_one_events_trace_goes_from_gateway_to_worker_and_postgres(
    platform: Platform, traced: tuple[Collector, str, dict[str, str]]
) -> None:
    collector, url, env = traced
    _, key = await platform.create_tenant("traced")
    trace_id = secrets.token_hex(16)
    # The caller's own trace: the gateway continues it, so this test knows its id.
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post(
            "/v1/events",
            content=orjson.dumps([demo_request("traced-lead")]),
            headers={"X-API-Key": key, "content-type": "application/json",
                     "traceparent": traceparent},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        token = env["TANDEM_METRICS_TOKEN"]
        scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scraped.status_code == 200 and "tandem_events_accepted_total" in scraped.text

    def worker_spans(name: str) -> list[dict[str, Any]]:
        spans = collector.of_trace(trace_id)
        return [s for s in spans if s["service"] == "tandem-worker" and s["name"] == name]

    batch_name = f"{env['TANDEM_TOPIC_PREFIX']}touchpoints.v1 process"
    deadline = time.monotonic() + 90
    while not (worker_spans(batch_name) and worker_spans("postgresql")):
        assert time.monotonic() < deadline, collector.of_trace(trace_id)
        await asyncio.sleep(0.2)
    server = next(s for s in collector.of_trace(trace_id) if s["name"] == "POST /v1/events")
    assert server["service"] == "tandem-gateway"
    # The worker's batch continues the request's trace (through the record's headers) ...
    [batch] = worker_spans(batch_name)
    assert batch["parent"] == server["span_id"]
    # ... and its PostgreSQL statements are the batch's children.
    assert all(s["parent"] == batch["span_id"] for s in worker_spans("postgresql"))
