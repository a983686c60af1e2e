"""Trace propagation in-process, with an in-memory exporter: the request's context goes into
Kafka headers, the consuming batch continues it and links the other records' traces, and a
PostgreSQL statement run inside the batch is the batch's child."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # This process's own provider, not the global one other tests would share.
    monkeypatch.setattr(tracing, "_enabled", True)
    monkeypatch.setattr(tracing, "tracer", lambda: provider.get_tracer("tandem"))
    return exporter


def test_off_means_no_headers_and_no_spans() -> None:
    assert not tracing.enabled()
    assert tracing.kafka_headers() == []
    with tracing.consume_span("touchpoints.v1", [[("traceparent", b"00-x")]]) as span:
        assert span is None


def test_one_events_spans_from_request_to_statement(exported: InMemorySpanExporter) -> None:
    with tracing.server_span("POST", "/v1/events", {}):
        headers = tracing.kafka_headers()
    with tracing.server_span("POST", "/v1/events", {}):
        other_headers = tracing.kafka_headers()
    assert [name for name, _ in headers] == ["traceparent"]

    with tracing.consume_span("touchpoints.v1", [headers, None, other_headers]):
        tracing.record_query(SimpleNamespace(query="SELECT 1", elapsed=0.002, exception=None))

    first, second, statement, batch = exported.get_finished_spans()
    assert batch.name == "touchpoints.v1 process"
    assert batch.parent is not None and batch.parent.span_id == first.context.span_id
    assert batch.context.trace_id == first.context.trace_id
    assert [link.context.span_id for link in batch.links] == [second.context.span_id]
    assert statement.parent is not None and statement.parent.span_id == batch.context.span_id
    assert statement.attributes is not None
    assert statement.attributes["db.statement"] == "SELECT 1"


def test_a_callers_traceparent_is_continued(exported: InMemorySpanExporter) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    caller = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    with tracing.server_span("GET", "/graphql", caller):
        pass
    [span] = exported.get_finished_spans()
    assert f"{span.context.trace_id:032x}" == trace_id
