"""The delivery service's own settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.egress import EgressPolicy


@dataclass(frozen=True)
class DeliverySettings:
    group_id: str
    http_port: int
    public_url: str
    url_policy: EgressPolicy
    timeout_s: float
    retry_base_s: float
    retry_max_s: float
    retry_for_s: float
    per_endpoint_concurrency: int
    poll_interval_s: float
    sweep_interval_s: float
    crm_interval_s: float
    hubspot_base_url: str
    salesforce_base_url: str
    # Finished deliveries (and their attempts) older than this are purged.
    retention_days: float
    monday_base_url: str
    # How often boards are checked for changes, and the least time between two rounds of
    # changes sent to one board.
    monday_interval_s: float
    monday_min_interval_s: float


def load_delivery_settings() -> DeliverySettings:
    env = os.environ
    gateway_port = env.get("TANDEM_HTTP_PORT", "8000")
    return DeliverySettings(
        group_id=env.get("TANDEM_DELIVERY_GROUP", "tandem-delivery"),
        http_port=int(env.get("TANDEM_DELIVERY_HTTP_PORT", "8001")),
        public_url=env.get("TANDEM_PUBLIC_URL", f"http://127.0.0.1:{gateway_port}").rstrip("/"),
        url_policy=EgressPolicy.from_env(),
        timeout_s=float(env.get("TANDEM_WEBHOOK_TIMEOUT_S", "10")),
        retry_base_s=float(env.get("TANDEM_WEBHOOK_RETRY_BASE_S", "10")),
        retry_max_s=float(env.get("TANDEM_WEBHOOK_RETRY_MAX_S", "3600")),
        retry_for_s=float(env.get("TANDEM_WEBHOOK_RETRY_FOR_S", str(24 * 3600))),
        per_endpoint_concurrency=int(env.get("TANDEM_WEBHOOK_CONCURRENCY", "16")),
        poll_interval_s=float(env.get("TANDEM_DELIVERY_POLL_INTERVAL_S", "1")),
        sweep_interval_s=float(env.get("TANDEM_DELIVERY_SWEEP_INTERVAL_S", "60")),
        crm_interval_s=float(env.get("TANDEM_CRM_SYNC_INTERVAL_S", "5")),
        hubspot_base_url=env.get("TANDEM_HUBSPOT_BASE_URL", "https://api.hubapi.com").rstrip("/"),
        salesforce_base_url=env.get("TANDEM_SALESFORCE_BASE_URL", "").rstrip("/"),
        retention_days=float(env.get("TANDEM_DELIVERY_RETENTION_DAYS", "30")),
        monday_base_url=env.get("TANDEM_MONDAY_BASE_URL", "https://api.monday.com").rstrip("/"),
        monday_interval_s=float(env.get("TANDEM_MONDAY_SYNC_INTERVAL_S", "5")),
        monday_min_interval_s=float(env.get("TANDEM_MONDAY_MIN_INTERVAL_S", "60")),
    )
