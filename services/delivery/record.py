"""Occurrences → deliveries: for one tenant, in one transaction, address every occurrence
to the enabled webhooks subscribed to its type, build each body once (the bytes every
attempt of it sends), and record the deliveries; leads whose state changed also go on
the CRM work list."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.delivery import payloads, store
from services.delivery.events import EventType, Occurrence, delivery_id, score_change
from shared.db import as_columns, tenant_fetch, tenant_tx

log = logging.getLogger("tandem.delivery")

COMMIT_WAIT_S = 3.0
COMMIT_POLL_S = 0.05
_DEAL_STATUS = {EventType.DEAL_WON: "WON", EventType.DEAL_LOST: "LOST"}


def _needs_read_model(event: Occurrence) -> bool:
    """A deal's opportunity is only in the read model; so is the lead of a message that
    does not carry it (an alert)."""
    return event.type in _DEAL_STATUS or (event.lead_id is not None and event.lead is None)


async def await_commits(
    pool: asyncpg.Pool, tenant_id: str, occurrences: Sequence[Occurrence]
) -> None:
    """Polls (briefly, in small steps) until the worker's transactions that published these
    transitions have committed, so what is read for their bodies is what the transition
    produced. A transition that never shows (its transaction rolled back, to be replayed)
    goes out after COMMIT_WAIT_S with what the read model holds."""
    wanted = {(o.lead_id, *o.transition) for o in occurrences if o.transition is not None}
    deadline = time.monotonic() + COMMIT_WAIT_S
    while wanted:
        rows = await tenant_fetch(
            pool,
            tenant_id,
            "SELECT lead_id, ordinal, to_stage FROM stage_transitions"
            " WHERE tenant_id = $1 AND (lead_id, ordinal, to_stage) IN"
            " (SELECT * FROM unnest($2::text[], $3::int[], $4::text[]))",
            *as_columns(wanted, 3),
        )
        wanted -= {(r["lead_id"], r["ordinal"], r["to_stage"]) for r in rows}
        if not wanted or time.monotonic() > deadline:
            return
        await asyncio.sleep(COMMIT_POLL_S)


async def record_tenant(
    pool: asyncpg.Pool,
    tenant_id: str,
    occurrences: Sequence[Occurrence],
    *,
    public_url: str,
    now: datetime,
) -> int:
    """Records the tenant's deliveries for `occurrences`; returns how many were new."""
    async with tenant_tx(pool, tenant_id) as conn:
        # Every lead-state message is a change of stage or score: the CRM needs it.
        changed = {
            o.lead_id
            for o in occurrences
            if o.type is EventType.LEAD_SCORE_CHANGED and o.lead_id is not None
        }
        if changed:
            await store.queue_crm(conn, tenant_id, sorted(changed))
        webhooks = await store.enabled_webhooks(conn, tenant_id)
    wanted = {t for w in webhooks for t in w.event_types}
    relevant = [o for o in occurrences if o.type.value in wanted]
    if not relevant:
        return 0
    # Bodies come from the messages themselves; only what they do not carry is read.
    reads = [o for o in relevant if _needs_read_model(o)]
    await await_commits(pool, tenant_id, reads)
    read_ids = sorted({o.lead_id for o in reads if o.lead_id is not None})
    lead_ids = sorted({o.lead_id for o in relevant if o.lead_id is not None})
    async with tenant_tx(pool, tenant_id) as conn:
        leads = await store.leads_by_id(conn, tenant_id, read_ids) if read_ids else {}
        deals = (
            await store.closed_opportunities(conn, tenant_id, read_ids)
            if any(o.type in _DEAL_STATUS for o in reads)
            else {}
        )
        marks = (
            await store.score_marks(conn, tenant_id, lead_ids)
            if EventType.LEAD_SCORE_CHANGED.value in wanted
            else {}
        )
        changed_marks: dict[tuple[str, str], int] = {}
        rows: list[store.DeliveryRow] = []
        for event in relevant:
            lead = (
                payloads.lead_object(
                    event.lead_id, event.lead or leads.get(event.lead_id), public_url
                )
                if event.lead_id is not None
                else None
            )
            for hook in webhooks:
                if event.type.value not in hook.event_types or event.happened_at < hook.created_at:
                    continue
                extra: dict[str, Any] = {}
                if event.type is EventType.LEAD_SCORE_CHANGED:
                    assert event.lead_id is not None
                    key = (hook.webhook_id, event.lead_id)
                    previous = marks.get(key)
                    score = int(event.facts["score"])
                    if not score_change(previous, score, hook.score_threshold):
                        continue
                    marks[key] = changed_marks[key] = score
                    extra["previous_score"] = previous
                elif event.type in _DEAL_STATUS:
                    assert event.lead_id is not None
                    extra["opportunity"] = deals.get((event.lead_id, _DEAL_STATUS[event.type]))
                data = payloads.data_of(event, lead, **extra)
                body = (
                    payloads.slack_message(event, data)
                    if hook.slack_format
                    else payloads.envelope(event, data, now)
                )
                rows.append(
                    (
                        tenant_id,
                        delivery_id(tenant_id, hook.webhook_id, event.id),
                        hook.webhook_id,
                        event.id,
                        event.type.value,
                        body.decode(),
                    )
                )
        await store.save_score_marks(conn, tenant_id, changed_marks)
        inserted = await store.insert_deliveries(conn, rows)
    if inserted:
        log.info("deliveries recorded", extra={"tenant_id": tenant_id, "deliveries": inserted})
    return inserted
