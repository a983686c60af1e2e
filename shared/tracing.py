"""OpenTelemetry traces from the HTTP request, through Kafka, to the worker and PostgreSQL.

Off by default: without TANDEM_OTLP_ENDPOINT no provider is installed and every call here
is a cheap no-op. With it, spans go by OTLP/HTTP to `<endpoint>/v1/traces`.

Propagation is W3C trace context (`traceparent`): the gateway puts its context into the
headers of the Kafka records it writes; a worker batch span continues the trace of its first
traced record and links to the others (one batch holds records of many requests), and the
PostgreSQL statements of the batch are its children.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import DefaultGetter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_GETTER: DefaultGetter = DefaultGetter()
_FIELDS = frozenset(_PROPAGATOR.fields)
# A statement's text is enough to find it; its arguments are tenants' data and stay out.
MAX_STATEMENT_CHARS = 2_000
_enabled = False

Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None


def tracer() -> trace.Tracer:
    return trace.get_tracer("tandem")


def setup_tracing(service: str, endpoint: str | None) -> bool:
    """Installs the provider once per process; True if traces are exported. The provider
    flushes what is buffered when the process exits."""
    global _enabled
    if _enabled or endpoint is None:
        return _enabled
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _enabled = True
    return True


def enabled() -> bool:
    return _enabled


def kafka_headers() -> list[tuple[str, bytes]]:
    """The current trace context as Kafka record headers (none outside a recording span)."""
    if not _enabled or not trace.get_current_span().is_recording():
        return []
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return [(k, v.encode()) for k, v in carrier.items()]


def context_from_headers(headers: Headers) -> otel_context.Context | None:
    """The remote context a record's headers carry, or None."""
    if not headers:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    carrier = {k.lower(): v.decode(errors="replace") for k, v in items if k.lower() in _FIELDS}
    if "traceparent" not in carrier:
        return None
    found = _PROPAGATOR.extract(carrier, getter=_GETTER)
    return found if trace.get_current_span(found).get_span_context().is_valid else None


@contextmanager
def consume_span(topic: str, records_headers: Iterable[Headers]) -> Iterator[Span | None]:
    """The span `<topic> process` of one batch of consumed records (see the module's
    docstring)."""
    if not _enabled:
        yield None
        return
    remotes = [c for c in map(context_from_headers, records_headers) if c is not None]
    links = [Link(trace.get_current_span(c).get_span_context()) for c in remotes[1:]]
    parent = remotes[0] if remotes else None
    with tracer().start_as_current_span(
        f"{topic} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.batch.message_count": len(remotes),
        },
    ) as span:
        yield span


@contextmanager
def server_span(method: str, route: str, headers: Mapping[str, str]) -> Iterator[Span | None]:
    """The span of one HTTP request, continuing a caller's trace when it sends one."""
    if not _enabled:
        yield None
        return
    parent = _PROPAGATOR.extract(headers) if "traceparent" in headers else None
    with tracer().start_as_current_span(
        f"{method} {route}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": route},
    ) as span:
        yield span


def record_query(record: Any) -> None:
    """asyncpg query logger: the statement as a child of the span that ran it.

    asyncpg calls loggers with call_soon, which keeps the caller's context, so the current
    span here is the one current when the statement ran."""
    parent = trace.get_current_span()
    if not parent.is_recording():
        return
    end = time.time_ns()
    span = tracer().start_span(
        "postgresql",
        kind=SpanKind.CLIENT,
        start_time=end - int(record.elapsed * 1e9),
        attributes={
            "db.system": "postgresql",
            "db.statement": str(record.query)[:MAX_STATEMENT_CHARS],
        },
    )
    if record.exception is not None:
        span.record_exception(record.exception)
        span.set_status(trace.Status(trace.StatusCode.ERROR))
    span.end(end_time=end)
