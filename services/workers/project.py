"""Step 2 of the worker: apply a batch of validated events to the read model.

Per tenant, in ONE transaction (row-level security bound to that tenant), holding locks on
the anonymous identities and then the leads it touches (never the whole tenant):
  1. link identities named by `identify` events, route anonymous touches to their leads;
  2. append the events to the event log; the (tenant, event id) key drops redeliveries;
  3. move held anonymous touches to leads that were identified just now;
  4. refold every lead that gained an event, from its whole ordered history, with the
     pure domain rules; replace its rows (lead, transitions, opportunities, credits),
     then its account and its prediction under the tenant's current model;
  5. hand the changes to the caller, which publishes them to the derived topics before the
     transaction commits (a crash before the commit replays the batch; downstream readers
     key by lead and transition ordinal, so a repeated message is harmless).
Only after the commit does Faust acknowledge the records, so the Kafka offset never runs
ahead of the read model.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from services.workers import store
from services.workers.configs import TenantConfigs
from services.workers.lead_cache import LeadCache
from services.workers.predictions import Predictions
from services.workers.records import DeadLetter, Incoming
from shared import account_store, locks
from shared.db import tenant_tx
from shared.domain.attribution import Conversion, credit_lead, opportunity_conversions
from shared.domain.config import TenantConfig
from shared.domain.events import Event
from shared.domain.journey import LeadState, OpportunityStatus, engagement_at, fold_lead
from shared.domain.scoring import matrix
from shared.suppression import drop_suppressed
from shared.validation import to_domain_event


@dataclass(frozen=True, slots=True)
class LeadChange:
    tenant_id: str
    lead_id: str
    previous_stage: str | None
    stage: str
    fit_score: int
    engagement_score: int
    score: int
    matrix: str
    fit_grade: str
    mql_at: datetime | None
    at: datetime
    new_transitions: tuple[dict[str, Any], ...]


Publish = Callable[[list[LeadChange]], Awaitable[None]]


class LeadProjector:
    def __init__(
        self,
        pool: asyncpg.Pool,
        configs: TenantConfigs,
        now: Callable[[], datetime],
        cache: LeadCache,
    ):
        self._pool = pool
        self._configs = configs
        self._now = now
        self._cache = cache
        self._predictions = Predictions()

    async def project(self, incoming: Sequence[Incoming], publish: Publish) -> list[DeadLetter]:
        """Applies the events; returns dead letters for those of unknown tenants."""
        by_tenant: dict[str, list[Incoming]] = defaultdict(list)
        for item in incoming:
            by_tenant[item.event["tenant_id"]].append(item)
        dead: list[DeadLetter] = []
        for tenant_id, items in by_tenant.items():
            if not await self._configs.is_known(tenant_id):
                error = f"no tenant {tenant_id!r}"
                dead.extend(
                    DeadLetter(i.source, "unknown_tenant", error, orjson.dumps(i.event), tenant_id)
                    for i in items
                )
                continue
            await self.project_tenant(tenant_id, [i.event for i in items], publish)
        return dead

    async def project_tenant(
        self, tenant_id: str, raw: Sequence[dict[str, Any]], publish: Publish
    ) -> None:
        version = await self._configs.current(tenant_id)
        events = [to_domain_event(e, seq=0, config_version=version) for e in raw]
        # Events of erased people are dropped, so a replay or a late event cannot bring
        # them back (SPEC 10).
        events = await drop_suppressed(self._pool, tenant_id, events)
        spend = [e for e in events if e.type == "campaign_spend"]
        lead_events = [e for e in events if e.type != "campaign_spend"]
        links = [
            (e.anonymous_id, e.lead_id, e.occurred_at)
            for e in lead_events
            if e.type == "identify" and e.anonymous_id and e.lead_id
        ]
        anonymous = {e.anonymous_id for e in lead_events if e.lead_id is None and e.anonymous_id}
        linking = {a for a, _, _ in links}
        async with tenant_tx(self._pool, tenant_id) as conn:
            # An identity is locked while it is linked, resolved and its held touches are
            # stitched, so a touch is never held behind a link another worker just made.
            await locks.lock(conn, tenant_id, "anon", anonymous | linking)
            await store.link_identities(conn, tenant_id, links)
            linked = await store.resolve_anonymous(conn, tenant_id, anonymous | linking)
            lead_events = [_route(e, linked) for e in lead_events]
            await locks.lock(
                conn,
                tenant_id,
                "lead",
                {e.lead_id for e in lead_events if e.lead_id is not None}
                | {linked[a] for a in linking if a in linked},
            )
            await store.insert_spend(conn, tenant_id, spend)
            seqs = await store.insert_events(conn, tenant_id, lead_events)
            new_by_lead: dict[str, list[Event]] = defaultdict(list)
            for e in lead_events:
                # A repeat inside the batch is the same id: only its first copy (the stored
                # one, held anonymous touch or not) is new.
                if seqs.get(e.event_id, -1) > 0:
                    if e.lead_id is not None:
                        new_by_lead[e.lead_id].append(with_seq(e, seqs[e.event_id]))
                    seqs[e.event_id] = -1
            stitched = await store.stitch_held_touches(conn, tenant_id, [a for a, _, _ in links])
            if not new_by_lead and not stitched:
                return
            # States taken from the cache are out of it until the commit below succeeds.
            states = await self._advance(conn, tenant_id, new_by_lead, stitched)
            changes = await self._write(conn, tenant_id, states)
            if changes:
                await publish(changes)
        self._cache.put(tenant_id, ((lead, s, seq) for lead, (s, seq) in states.items()))

    async def _advance(
        self,
        conn: asyncpg.Connection,
        tenant_id: str,
        new_by_lead: dict[str, list[Event]],
        stitched: set[str],
    ) -> dict[str, tuple[LeadState, int]]:
        """Each touched lead's state and last seq: a new lead folds from this batch alone, a
        cached current lead applies its new events in order, any other (late events,
        stitched touches, not cached) refolds from the event log."""
        versions = await self._configs.versions(tenant_id)
        touched = sorted(set(new_by_lead) | stitched)
        applied = await store.applied_seqs(conn, tenant_id, touched)
        states: dict[str, tuple[LeadState, int]] = {}
        reload: list[str] = []
        for lead_id in touched:
            new = sorted(new_by_lead.get(lead_id, ()), key=_fold_order)
            if lead_id in stitched:
                reload.append(lead_id)
            elif lead_id not in applied:
                states[lead_id] = (fold_lead(new, versions), max(e.seq for e in new))
            elif (state := self._cache.take(tenant_id, lead_id, applied[lead_id])) is not None:
                if any(state.is_late(e) for e in new):
                    reload.append(lead_id)
                    continue
                for e in new:
                    state.apply(e, versions[e.config_version])
                states[lead_id] = (state, max(applied[lead_id], *(e.seq for e in new)))
            else:
                reload.append(lead_id)
        if reload:
            history = await store.load_lead_events(conn, tenant_id, reload)
            for lead_id, events in history.items():
                states[lead_id] = (fold_lead(events, versions), max(e.seq for e in events))
        return states

    async def refold(
        self, conn: asyncpg.Connection, tenant_id: str, lead_ids: Sequence[str]
    ) -> list[LeadChange]:
        """Recomputes the given leads from their full histories and replaces their rows."""
        versions = await self._configs.versions(tenant_id)
        history = await store.load_lead_events(conn, tenant_id, lead_ids)
        states = {
            lead: (fold_lead(events, versions), max(e.seq for e in events))
            for lead, events in history.items()
        }
        return await self._write(conn, tenant_id, states)

    async def _write(
        self, conn: asyncpg.Connection, tenant_id: str, states: dict[str, tuple[LeadState, int]]
    ) -> list[LeadChange]:
        versions = await self._configs.versions(tenant_id)
        current = versions[max(versions)]
        now = self._now()
        rows = _Rows(tenant_id)
        for lead_id, (state, last_seq) in states.items():
            rows.add(lead_id, state, last_seq, current, now)
        previous = await store.replace_lead_rows(
            conn,
            tenant_id,
            list(states),
            rows.leads,
            rows.transitions,
            rows.opportunities,
            rows.credits,
        )
        await account_store.update_accounts(conn, tenant_id, list(states), current)
        # After the accounts: a lead's prediction reads its account's members.
        await self._predictions.write(
            conn, tenant_id, {lead: state for lead, (state, _) in states.items()}, now
        )
        return rows.changes(previous, now)


def _fold_order(event: Event) -> tuple[datetime, int]:
    return event.order_key


def with_seq(e: Event, seq: int) -> Event:
    """`e` with the seq the log gave it: every event of a batch is copied so, and the
    positional constructor costs a third of `dataclasses.replace`."""
    return Event(
        e.event_id,
        e.type,
        e.occurred_at,
        seq,
        e.lead_id,
        e.anonymous_id,
        e.account_id,
        e.channel,
        e.campaign_id,
        e.content_id,
        e.message_id,
        e.properties,
        e.stitched,
        e.config_version,
    )


def _route(event: Event, linked: dict[str, str]) -> Event:
    if event.lead_id is None and event.anonymous_id in linked:
        return dataclasses.replace(event, lead_id=linked[event.anonymous_id], stitched=True)
    return event


class _Rows:
    """The read-model rows of a set of refolded leads."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.leads: list[tuple[Any, ...]] = []
        self.transitions: list[tuple[Any, ...]] = []
        self.opportunities: list[tuple[Any, ...]] = []
        self.credits: list[tuple[Any, ...]] = []
        self._summaries: list[tuple[str, LeadState, int, str]] = []

    def add(
        self, lead_id: str, state: LeadState, last_seq: int, config: TenantConfig, now: datetime
    ) -> None:
        t = self.tenant_id
        if state.created_at is None or state.last_event_at is None:
            return  # only held or rescore events so far: not a lead yet
        # Displayed engagement decays with the clock (SPEC 4): evaluate it at the later of
        # the wall clock and the lead's latest event, as the decay sweep does.
        scored_at = max(now, state.last_event_at)
        engagement = engagement_at(state, config, scored_at)
        shown_matrix = matrix(state.fit_grade, engagement.score)
        self.leads.append(
            store.LEADS.row(
                state,
                tenant_id=t,
                lead_id=lead_id,
                stage=str(state.stage),
                highest_stage=str(state.highest_stage),
                engagement_score=engagement.score,
                score=state.fit_score + engagement.score,
                matrix=shown_matrix,
                # orjson writes the evidence dataclasses as JSON objects as they are.
                engagement_evidence=engagement.evidence,
                scored_at=scored_at,
                sla_response_at=state.response_at,
                sla_response_type=state.response_type,
                sla_disposition_at=state.disposition_at,
                last_seq=last_seq,
            )
        )
        for ordinal, tr in enumerate(state.transitions):
            self.transitions.append(
                store.TRANSITIONS.row(
                    tr,
                    tenant_id=t,
                    lead_id=lead_id,
                    ordinal=ordinal,
                    from_stage=str(tr.from_stage) if tr.from_stage else None,
                    to_stage=str(tr.to_stage),
                )
            )
        conversions: list[Conversion] = []
        for opp in state.opportunities.values():
            self.opportunities.append(
                store.OPPORTUNITIES.row(opp, tenant_id=t, lead_id=lead_id, status=str(opp.status))
            )
            won = opp.status is OpportunityStatus.WON
            conversions.extend(
                opportunity_conversions(
                    opp.opportunity_id,
                    amount=opp.amount,
                    created_at=opp.created_at,
                    won_at=opp.closed_at if won else None,
                    won_amount=opp.won_amount,
                )
            )
        for c in credit_lead(state.touches, conversions, config.attribution_models):
            self.credits.append(
                store.CREDITS.row(c, tenant_id=t, lead_id=lead_id, touch_event_id=c.event_id)
            )
        self._summaries.append((lead_id, state, engagement.score, shown_matrix))

    def changes(self, previous: dict[str, tuple[str, int, int]], now: datetime) -> list[LeadChange]:
        out = []
        for lead_id, state, engagement, shown_matrix in self._summaries:
            before = previous.get(lead_id)
            score = state.fit_score + engagement
            if before is not None and before[0] == str(state.stage) and before[1] == score:
                continue
            seen = before[2] if before else 0
            out.append(
                LeadChange(
                    tenant_id=self.tenant_id,
                    lead_id=lead_id,
                    previous_stage=before[0] if before else None,
                    stage=str(state.stage),
                    fit_score=state.fit_score,
                    engagement_score=engagement,
                    score=score,
                    matrix=shown_matrix,
                    fit_grade=state.fit_grade,
                    mql_at=state.mql_at,
                    at=now,
                    new_transitions=tuple(
                        {
                            "ordinal": i,
                            "from_stage": str(tr.from_stage) if tr.from_stage else None,
                            "to_stage": str(tr.to_stage),
                            "at": tr.at.isoformat(),
                            "event_id": tr.event_id,
                            "reason": tr.reason,
                        }
                        for i, tr in enumerate(state.transitions)
                        if i >= seen
                    ),
                )
            )
        return out
