"""Prometheus metrics of the delivery service, served on TANDEM_DELIVERY_HTTP_PORT."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

ATTEMPTS = Counter(
    "tandem_webhook_attempts_total",
    "Webhook delivery attempts, by event type and outcome (DELIVERED, PENDING = will retry, "
    "FAILED = given up)",
    ["event_type", "outcome"],
)
DELIVERED = Counter(
    "tandem_webhook_deliveries_total", "Webhook deliveries completed with a 2xx", ["event_type"]
)
FAILED = Counter(
    "tandem_webhook_failures_total",
    "Webhook deliveries given up (retry window over, or address refused)",
    ["event_type"],
)
ATTEMPT_SECONDS = Histogram(
    "tandem_webhook_attempt_seconds",
    "Duration of one webhook attempt",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DELIVERY_SECONDS = Histogram(
    "tandem_webhook_delivery_seconds",
    "From a delivery being recorded to its 2xx",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 300, 3600, 86400),
)
RECORDED = Counter(
    "tandem_webhook_deliveries_recorded_total", "Deliveries recorded from the derived topics"
)
PENDING = Gauge("tandem_webhook_pending", "Deliveries not yet delivered nor given up")
RETRY_QUEUE = Gauge(
    "tandem_webhook_retry_queue_depth", "Pending deliveries that failed at least one attempt"
)
OLDEST_PENDING = Gauge(
    "tandem_webhook_oldest_pending_age_seconds", "Age of the oldest pending delivery (0: none)"
)
CRM_RECORDS = Counter("tandem_crm_records_synced_total", "Records written to a CRM", ["provider"])
CRM_THROTTLED = Counter(
    "tandem_crm_throttled_total", "CRM answers of 429 (rate limited)", ["provider"]
)


def observe_attempt(event_type: str, outcome: str, seconds: float, created_at: datetime) -> None:
    ATTEMPTS.labels(event_type, outcome).inc()
    ATTEMPT_SECONDS.observe(seconds)
    if outcome == "DELIVERED":
        DELIVERED.labels(event_type).inc()
        DELIVERY_SECONDS.observe((datetime.now(UTC) - created_at).total_seconds())
    elif outcome == "FAILED":
        FAILED.labels(event_type).inc()


def observe_backlog(pending: int, retrying: int, oldest: datetime | None) -> None:
    PENDING.set(pending)
    RETRY_QUEUE.set(retrying)
    OLDEST_PENDING.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)
