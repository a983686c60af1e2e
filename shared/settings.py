"""Runtime settings, read once from the environment (SPEC 13)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Settings:
    database_url: str
    database_admin_url: str
    kafka_bootstrap: str
    http_port: int
    # None unless set: the gateway refuses to start without a JWT key (no built-in default).
    jwt_secret: str | None
    # Further keys by `kid` for rotation: TANDEM_JWT_SECRETS="2026-11=...,2026-12=...".
    jwt_secrets: tuple[tuple[str, str], ...]
    jwt_audience: str | None
    jwt_issuer: str | None
    # Bearer token that may read /metrics besides an admin credential; None: admins only.
    metrics_token: str | None
    # Addresses (or networks) of the proxies whose X-Forwarded-For/-Proto the gateway
    # believes: behind TLS termination, HubSpot's signed https:// URI is rebuilt from them.
    trusted_proxies: str
    # OTLP/HTTP traces endpoint (e.g. http://collector:4318); None: tracing off.
    otlp_endpoint: str | None
    # Tests replay the worked example with the clock pinned; production leaves it unset.
    fixed_now: datetime | None
    dlq_max_ratio: float
    dlq_min_window: int
    sweep_interval_s: float
    config_poll_interval_s: float
    sla_sweep_interval_s: float
    lead_cache_size: int
    # Batches a worker applies at once (services/workers/inflight.py).
    batches_in_flight: int
    # A worker's static consumer-group member id (Kafka's group.instance.id); None: a
    # dynamic member. Stable per worker slot, never shared by two live workers.
    worker_instance: str | None

    def now(self) -> datetime:
        return self.fixed_now or datetime.now(UTC)


def load_settings() -> Settings:
    env = os.environ
    database_url = env.get(
        "TANDEM_DATABASE_URL", "postgresql://tandem_app:tandem_app@127.0.0.1:55432/tandem"
    )
    fixed = env.get("TANDEM_FIXED_NOW")
    return Settings(
        database_url=database_url,
        database_admin_url=env.get("TANDEM_DATABASE_ADMIN_URL", database_url),
        kafka_bootstrap=env.get("TANDEM_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
        http_port=int(env.get("TANDEM_HTTP_PORT", "8000")),
        jwt_secret=env.get("TANDEM_JWT_SECRET") or None,
        jwt_secrets=_pairs(env.get("TANDEM_JWT_SECRETS", "")),
        jwt_audience=env.get("TANDEM_JWT_AUDIENCE") or None,
        jwt_issuer=env.get("TANDEM_JWT_ISSUER") or None,
        metrics_token=env.get("TANDEM_METRICS_TOKEN") or None,
        trusted_proxies=env.get("TANDEM_TRUSTED_PROXIES", "127.0.0.1"),
        otlp_endpoint=env.get("TANDEM_OTLP_ENDPOINT") or None,
        fixed_now=datetime.fromisoformat(fixed.replace("Z", "+00:00")) if fixed else None,
        dlq_max_ratio=float(env.get("TANDEM_DLQ_MAX_RATIO", "0.5")),
        dlq_min_window=int(env.get("TANDEM_DLQ_MIN_WINDOW", "1000")),
        sweep_interval_s=float(env.get("TANDEM_SWEEP_INTERVAL_S", "30")),
        config_poll_interval_s=float(env.get("TANDEM_CONFIG_POLL_INTERVAL_S", "5")),
        sla_sweep_interval_s=float(env.get("TANDEM_SLA_SWEEP_INTERVAL_S", "10")),
        lead_cache_size=int(env.get("TANDEM_LEAD_CACHE_SIZE", "20000")),
        batches_in_flight=max(1, int(env.get("TANDEM_BATCHES_IN_FLIGHT", "2"))),
        worker_instance=env.get("TANDEM_WORKER_INSTANCE") or None,
    )


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """`a=1,b=2` as (("a", "1"), ("b", "2")). The error names no value: they are secrets."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if not name.strip() or not value.strip():
            raise ValueError("TANDEM_JWT_SECRETS holds an item that is not kid=secret")
        pairs.append((name.strip(), value.strip()))
    return tuple(pairs)
