"""CRM sync (SPEC 15): a lead's stage, fit score and grade, engagement score, matrix and MQL
time written to HubSpot contact properties and Salesforce Lead/Contact fields.

- Work list: `crm_pending`, filled from lead-state.v1 when the topic's deliveries are
  recorded; a lead leaves it only once the CRM acknowledged its values (or has no record
  id to write to), so a restart resumes where the sync stopped. Rows are taken in
  (queued_at, lead_id) order, a batch at a time.
- Idempotent: `crm_synced` holds what the CRM was last sent per lead; only changed values
  are sent, and a lead with none changed costs no request.
- Batched: HubSpot's batch update takes at most 100 inputs, Salesforce's composite sObject
  update at most 200 records.
- Rate-limit aware: a 429 (and Salesforce's REQUEST_LIMIT_EXCEEDED) waits `Retry-After`
  (or HubSpot's 10-second window) before the same batch is sent again; HubSpot's
  `X-HubSpot-RateLimit-Remaining: 0` waits out the window before the next request. Each
  (tenant, CRM) syncs in its own task, so one tenant's limit never holds up another.
- Mapping: `crm_connections.field_map` maps Tandem fields to CRM property names per tenant;
  `id_trait` names the lead trait holding the CRM record id (`email` for HubSpot writes by
  email through `idProperty`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from services.delivery import metrics
from services.delivery.settings import DeliverySettings
from shared.db import as_columns, tenant_tx
from shared.egress import UrlRefused, pinned_client
from shared.secret_box import box, context_for

log = logging.getLogger("tandem.delivery.crm")

TANDEM_FIELDS = ("stage", "fit_score", "fit_grade", "engagement_score", "matrix", "mql_at")
DEFAULT_FIELD_MAPS: dict[str, dict[str, str]] = {
    "hubspot": {f: f"tandem_{f}" for f in TANDEM_FIELDS},
    "salesforce": {
        "stage": "Tandem_Stage__c",
        "fit_score": "Tandem_Fit_Score__c",
        "fit_grade": "Tandem_Fit_Grade__c",
        "engagement_score": "Tandem_Engagement_Score__c",
        "matrix": "Tandem_Matrix__c",
        "mql_at": "Tandem_MQL_Time__c",
    },
}
BATCH_LIMITS = {"hubspot": 100, "salesforce": 200}
HUBSPOT_WINDOW_S = 10.0
MAX_WAIT_S = 60.0
TIMEOUT_S = 30.0
SYNC_SLOTS = 3


class Throttled(Exception):
    def __init__(self, wait_s: float) -> None:
        super().__init__(f"rate limited; retry in {wait_s:g} s")
        self.wait_s = wait_s


@dataclass(frozen=True)
class Connection:
    tenant_id: str
    provider: str
    base_url: str
    token: str
    object_type: str
    id_trait: str
    field_map: dict[str, str]
    api_version: str


@dataclass(frozen=True)
class Update:
    lead_id: str
    record_id: str
    queued_at: datetime
    fields: dict[str, Any]  # CRM property → value, the changed ones only
    values: dict[str, Any]  # every mapped property's current value (what the CRM will hold)


def values_of(
    lead: Mapping[str, Any], field_map: Mapping[str, str], provider: str
) -> dict[str, Any]:
    """The CRM property values of a lead. HubSpot properties are strings; Salesforce takes
    JSON numbers and strings; times are ISO 8601 in UTC."""
    out: dict[str, Any] = {}
    for field, prop in field_map.items():
        value = lead[field]
        if isinstance(value, datetime):
            value = value.isoformat().replace("+00:00", "Z")
        if provider == "hubspot":
            value = "" if value is None else str(value)
        out[prop] = value
    return out


def changed(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> dict[str, Any]:
    previous = previous or {}
    return {k: v for k, v in current.items() if k not in previous or previous[k] != v}


def retry_after_s(response: httpx.Response, default: float) -> float:
    try:
        return min(MAX_WAIT_S, max(0.0, float(response.headers["retry-after"])))
    except (KeyError, ValueError):
        return default


class HubSpot:
    """POST /crm/v3/objects/contacts/batch/update, Bearer auth, at most 100 inputs."""

    def __init__(self, client: httpx.AsyncClient, conn: Connection) -> None:
        self._client, self._conn = client, conn

    async def send(self, updates: list[Update]) -> set[str]:
        by_email = self._conn.id_trait == "email"
        inputs = [
            {
                "id": u.record_id,
                "properties": u.fields,
                **({"idProperty": "email"} if by_email else {}),
            }
            for u in updates
        ]
        response = await self._client.post(
            f"{self._conn.base_url}/crm/v3/objects/{self._conn.object_type}/batch/update",
            json={"inputs": inputs},
            headers={"authorization": f"Bearer {self._conn.token}"},
        )
        if response.status_code == 429:
            raise Throttled(retry_after_s(response, HUBSPOT_WINDOW_S))
        if response.status_code not in (200, 207):
            raise httpx.HTTPStatusError(
                f"HubSpot answered {response.status_code}: {response.text[:300]}",
                request=response.request,
                response=response,
            )
        failed: set[str] = set()
        for error in response.json().get("errors", []) if response.status_code == 207 else []:
            failed.update(str(i) for i in (error.get("context") or {}).get("ids", []))
        if response.headers.get("x-hubspot-ratelimit-remaining") == "0":
            # The window is spent: wait it out rather than earn a 429.
            window = float(
                response.headers.get("x-hubspot-ratelimit-interval-milliseconds", 10_000)
            )
            await asyncio.sleep(window / 1000)
        return {u.lead_id for u in updates if u.record_id not in failed}


class Salesforce:
    """PATCH /services/data/vXX.X/composite/sobjects, Bearer auth, at most 200 records,
    allOrNone false so one bad record does not hold the others back."""

    def __init__(self, client: httpx.AsyncClient, conn: Connection) -> None:
        self._client, self._conn = client, conn

    async def send(self, updates: list[Update]) -> set[str]:
        records = [
            {"attributes": {"type": self._conn.object_type}, "id": u.record_id, **u.fields}
            for u in updates
        ]
        response = await self._client.patch(
            f"{self._conn.base_url}/services/data/{self._conn.api_version}/composite/sobjects",
            json={"allOrNone": False, "records": records},
            headers={"authorization": f"Bearer {self._conn.token}"},
        )
        if response.status_code == 429 or (
            response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text
        ):
            raise Throttled(retry_after_s(response, 5.0))
        if response.status_code != 200:
            raise httpx.HTTPStatusError(
                f"Salesforce answered {response.status_code}: {response.text[:300]}",
                request=response.request,
                response=response,
            )
        results = response.json()
        ok: set[str] = set()
        for update, result in zip(updates, results, strict=False):
            if result.get("success"):
                ok.add(update.lead_id)
            else:
                log.warning(
                    "salesforce refused a record",
                    extra={
                        "tenant_id": self._conn.tenant_id,
                        "lead_id": update.lead_id,
                        "errors": result.get("errors"),
                    },
                )
        return ok


class CrmSync:
    def __init__(self, pool: asyncpg.Pool, settings: DeliverySettings) -> None:
        self._pool = pool
        self._settings = settings
        # A tenant's CRM base URL is an address it chose: the webhooks' egress policy holds.
        self._client = pinned_client(settings.url_policy, timeout=TIMEOUT_S, follow_redirects=False)
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}
        # Each running sync holds a pooled connection (its lock): leave the rest to webhooks.
        self._slots = asyncio.Semaphore(SYNC_SLOTS)

    async def run_once(self) -> None:
        """Starts a sync task for every (tenant, CRM) with pending leads and none running."""
        rows = await self._pool.fetch("SELECT * FROM tandem_crm_pending()")
        for row in rows:
            key = (row["tenant_id"], row["provider"])
            task = self._running.get(key)
            if task is None or task.done():
                self._running[key] = asyncio.create_task(self._sync(*key))

    async def close(self) -> None:
        for task in self._running.values():
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        await self._client.aclose()

    async def _sync(self, tenant_id: str, provider: str) -> None:
        try:
            async with self._slots, self._pool.acquire() as lock_conn:
                await self._sync_locked(lock_conn, tenant_id, provider)
        except UrlRefused as exc:
            log.warning(
                "crm base URL refused by the egress policy; not syncing",
                extra={"tenant_id": tenant_id, "provider": provider, "error": str(exc)},
            )
        except (httpx.HTTPError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning(
                "crm sync failed; retrying at the next tick",
                extra={"tenant_id": tenant_id, "provider": provider, "error": repr(exc)},
            )

    async def _sync_locked(
        self, lock_conn: asyncpg.Connection, tenant_id: str, provider: str
    ) -> None:
        # One writer per (tenant, CRM) across every delivery process: two would share the
        # CRM's rate limit blindly and could send one lead's values twice. The session lock
        # lives on a connection held for the sync; a dead process's lock goes with it.
        key = f"crm\x1f{tenant_id}\x1f{provider}"
        if not await lock_conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
            return  # another process is syncing this tenant's CRM
        try:
            while await self._batch(tenant_id, provider):
                pass
        finally:
            await lock_conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)

    def _connection(self, row: asyncpg.Record) -> Connection:
        provider = row["provider"]
        default = (
            self._settings.hubspot_base_url
            if provider == "hubspot"
            else self._settings.salesforce_base_url
        )
        return Connection(
            tenant_id=row["tenant_id"],
            provider=provider,
            base_url=(row["base_url"] or default).rstrip("/"),
            token=box().open(
                row["token"], context_for("crm_connections", "token", row["tenant_id"])
            ),
            object_type=row["object_type"],
            id_trait=row["id_trait"],
            field_map=dict(row["field_map"]) or DEFAULT_FIELD_MAPS[provider],
            api_version=row["api_version"],
        )

    async def _batch(self, tenant_id: str, provider: str) -> bool:
        """Syncs the next batch; False when nothing is pending."""
        async with tenant_tx(self._pool, tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT * FROM crm_connections WHERE tenant_id = $1 AND provider = $2 AND enabled",
                tenant_id,
                provider,
            )
            if row is None:
                return False
            connection = self._connection(row)
            pending = await conn.fetch(
                "SELECT p.lead_id, p.queued_at, l.traits ->> $3 AS record_id,"
                " l.stage, l.fit_score, l.fit_grade, l.engagement_score, l.matrix, l.mql_at,"
                " s.fields AS synced"
                " FROM crm_pending p"
                " LEFT JOIN leads l ON l.tenant_id = p.tenant_id AND l.lead_id = p.lead_id"
                " LEFT JOIN crm_synced s ON s.tenant_id = p.tenant_id"
                "  AND s.provider = p.provider AND s.lead_id = p.lead_id"
                " WHERE p.tenant_id = $1 AND p.provider = $2"
                " ORDER BY p.queued_at, p.lead_id LIMIT $4",
                tenant_id,
                provider,
                connection.id_trait,
                BATCH_LIMITS[provider],
            )
        if not pending:
            return False
        updates: list[Update] = []
        settled: list[tuple[str, datetime]] = []  # nothing to send: off the list
        for p in pending:
            if p["record_id"] is None or p["stage"] is None:
                settled.append((p["lead_id"], p["queued_at"]))
                continue
            values = values_of(p, connection.field_map, provider)
            delta = changed(p["synced"], values)
            if not delta:
                settled.append((p["lead_id"], p["queued_at"]))
                continue
            updates.append(Update(p["lead_id"], p["record_id"], p["queued_at"], delta, values))
        accepted: set[str] = set()
        if updates:
            api = HubSpot if provider == "hubspot" else Salesforce
            try:
                accepted = await api(self._client, connection).send(updates)
            except Throttled as exc:
                metrics.CRM_THROTTLED.labels(provider).inc()
                await asyncio.sleep(exc.wait_s)
                return True  # the same batch again, after the wait
            metrics.CRM_RECORDS.labels(provider).inc(len(accepted))
        await self._settle(tenant_id, provider, updates, accepted, settled)
        log.info(
            "crm batch synced",
            extra={
                "tenant_id": tenant_id,
                "provider": provider,
                "records": len(accepted),
                "refused": len(updates) - len(accepted),
                "unchanged": len(settled),
            },
        )
        return True

    async def _settle(
        self,
        tenant_id: str,
        provider: str,
        updates: list[Update],
        accepted: set[str],
        settled: list[tuple[str, datetime]],
    ) -> None:
        done = [u for u in updates if u.lead_id in accepted]
        # A refused record leaves the list too (logged): it would be refused again until
        # its data changes, which queues it anew.
        gone = settled + [(u.lead_id, u.queued_at) for u in updates]
        async with tenant_tx(self._pool, tenant_id) as conn:
            if done:
                await conn.execute(
                    "INSERT INTO crm_synced (tenant_id, provider, lead_id, record_id, fields,"
                    " synced_at) SELECT $1, $2, l, r, f, now()"
                    " FROM unnest($3::text[], $4::text[], $5::jsonb[]) AS u(l, r, f)"
                    " ON CONFLICT (tenant_id, provider, lead_id) DO UPDATE"
                    " SET record_id = EXCLUDED.record_id, fields = EXCLUDED.fields,"
                    " synced_at = EXCLUDED.synced_at",
                    tenant_id,
                    provider,
                    [u.lead_id for u in done],
                    [u.record_id for u in done],
                    [u.values for u in done],
                )
            # Only rows not queued again meanwhile: a newer change stays to be sent.
            await conn.execute(
                "DELETE FROM crm_pending p USING unnest($3::text[], $4::timestamptz[]) AS g(l, q)"
                " WHERE p.tenant_id = $1 AND p.provider = $2 AND p.lead_id = g.l"
                " AND p.queued_at = g.q",
                tenant_id,
                provider,
                *as_columns(gone, 2),
            )
