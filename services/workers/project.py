"""Step 2 of the worker: apply a batch of validated events to the read model.

The whole batch, whatever number of tenants it holds, in ONE transaction bound to its
tenants (row-level security checks every row against that set), with set-based statements
keyed by (tenant, id), holding locks on the leads it touches (never a whole tenant, nor
an anonymous id: see `_stitch_after_commit`):
  1. link identities named by `identify` events, route anonymous touches to their leads;
  2. append the events to the event log; the (tenant, event id) key drops redeliveries;
  3. move held anonymous touches to leads that were identified just now;
  4. advance every lead that gained an event (its cached state, or a fold of its whole
     ordered history) with the pure domain rules; write the rows that changed (lead,
     new transitions, opportunities, credits of the conversions whose touches changed),
     then its account and its prediction under the tenant's current model;
  5. hand the changes to the caller, which publishes them to the derived topics before the
     transaction commits (a crash before the commit replays the batch; downstream readers
     key by lead and transition ordinal, so a repeated message is harmless);
  6. after the commit, stitch again the anonymous ids the batch held or linked, in case
     another worker committed their other half meanwhile.
Only after the commit does Faust acknowledge the records, so the Kafka offset never runs
ahead of the read model.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple

import asyncpg
import orjson

from services.workers import checkpoint, store
from services.workers.configs import TenantConfigs
from services.workers.inflight import Turns
from services.workers.lead_cache import LeadCache
from services.workers.predictions import Predictions
from services.workers.records import DeadLetter, Incoming
from shared import account_store, locks
from shared.domain.accounts import OpenOpportunity, member_inputs, normalise_domain
from shared.domain.attribution import (
    AttributionModel,
    Conversion,
    credit_lead,
    opportunity_conversions,
)
from shared.domain.config import TenantConfig
from shared.domain.events import Event
from shared.domain.journey import LeadState, OpportunityStatus, engagement_at, fold_lead
from shared.domain.scoring import matrix
from shared.locks import Key
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
        cache: LeadCache[tuple[LeadState, Written]],
        committed: Callable[[Iterable[Key]], None] = lambda leads: None,
    ):
        self._pool = pool
        self._configs = configs
        self._now = now
        self._cache = cache
        # Told, once a transaction has committed, which leads it gave a new MQL instant or
        # answer (the SLA clock checks those at its next sweep).
        self._committed = committed
        self._predictions = Predictions()
        self._turns = Turns()

    async def project(self, incoming: Sequence[Incoming], publish: Publish) -> list[DeadLetter]:
        """Applies the events; returns dead letters for those of unknown tenants."""
        by_tenant: dict[str, list[Incoming]] = defaultdict(list)
        for item in incoming:
            by_tenant[item.event["tenant_id"]].append(item)
        dead: list[DeadLetter] = []
        known: list[tuple[str, dict[str, Any]]] = []
        for tenant_id, items in by_tenant.items():
            if not await self._configs.is_known(tenant_id):
                error = f"no tenant {tenant_id!r}"
                dead.extend(
                    DeadLetter(i.source, "unknown_tenant", error, orjson.dumps(i.event), tenant_id)
                    for i in items
                )
                continue
            known.extend((tenant_id, i.event) for i in items)
        await self.project_events(known, publish)
        return dead

    async def project_tenant(
        self, tenant_id: str, raw: Sequence[dict[str, Any]], publish: Publish
    ) -> None:
        await self.project_events([(tenant_id, e) for e in raw], publish)

    async def project_events(
        self, raw: Sequence[tuple[str, dict[str, Any]]], publish: Publish
    ) -> None:
        """Applies (tenant, validated event) pairs of any number of tenants in one
        transaction bound to those tenants, with the same statements for one tenant or
        five hundred: every statement is set-based over (tenant, id) keys."""
        if not raw:
            return
        tenants = sorted({t for t, _ in raw})
        events = [(t, to_domain_event(e, seq=0)) for t, e in raw]
        keys = {(t, "lead", e.lead_id) for t, e in events if e.lead_id is not None}
        keys.update((t, "anon", e.anonymous_id) for t, e in events if e.anonymous_id is not None)
        async with self._turns.turn(keys):
            await self._project(tenants, events, publish)

    async def _project(
        self, tenants: list[str], events: list[tuple[str, Event]], publish: Publish
    ) -> None:
        async with checkpoint.transaction(self._pool, tenants, publish) as tx:
            conn = tx.conn
            versions = await self._configs.hold(conn, tenants)
            # Each event is stamped with its tenant's version as the transaction holds it.
            current = {t: max(v) for t, v in versions.items()}
            for t, e in events:
                e.config_version = current[t]
            # Events of erased people are dropped, so a replay or a late event cannot bring
            # them back (SPEC 10).
            events = await drop_suppressed(conn, events)
            spend = [(t, e) for t, e in events if e.type == "campaign_spend"]
            lead_events = [(t, e) for t, e in events if e.type != "campaign_spend"]
            links = [
                (t, e.anonymous_id, e.lead_id, e.occurred_at)
                for t, e in lead_events
                if e.type == "identify" and e.anonymous_id and e.lead_id
            ]
            anonymous = {
                (t, e.anonymous_id) for t, e in lead_events if e.lead_id is None and e.anonymous_id
            }
            linking = {(t, a) for t, a, _, _ in links}
            await store.link_identities(conn, links)
            linked = await store.resolve_anonymous(conn, anonymous | linking)
            lead_events = [(t, _route(t, e, linked)) for t, e in lead_events]
            await locks.lock_keys(
                conn,
                "lead",
                {(t, e.lead_id) for t, e in lead_events if e.lead_id is not None}
                | {(k[0], linked[k]) for k in linking if k in linked},
            )
            await store.insert_spend(conn, spend)
            seqs = await store.insert_events(conn, lead_events)
            new_by_lead: dict[Key, list[Event]] = defaultdict(list)
            for t, e in lead_events:
                # A repeat inside the batch is the same id: only its first copy (the stored
                # one, held anonymous touch or not) is new.
                if seqs.get(key := (t, e.event_id), -1) > 0:
                    if e.lead_id is not None:
                        new_by_lead[(t, e.lead_id)].append(with_seq(e, seqs[key]))
                    seqs[key] = -1
            stitched = await store.stitch_held_touches(conn, linking)
            await self._apply(tx, versions, new_by_lead, stitched)
        await self._stitch_after_commit(anonymous | linking, publish)

    async def _apply(
        self,
        tx: checkpoint.Tx,
        versions: dict[str, dict[int, TenantConfig]],
        new_by_lead: dict[Key, list[Event]],
        stitched: set[Key],
    ) -> None:
        """Advances the leads and writes what changed; the changes go to the derived
        topics, and the states to the cache once the transaction has committed."""
        if not new_by_lead and not stitched:
            return
        # States taken from the cache are out of it until the commit succeeds.
        states, heads = await self._advance(tx.conn, versions, new_by_lead, stitched)
        changes, written, sla_leads = await self._write(tx.conn, states, heads)
        tx.emit(changes)

        def cache() -> None:
            for (tenant_id, lead_id), f in states.items():
                entry = (f.state, written[(tenant_id, lead_id)])
                self._cache.put(tenant_id, [(lead_id, entry, f.last_seq)])
            self._committed(sla_leads)

        tx.after_commit(cache)

    async def _stitch_after_commit(self, identities: set[Key], publish: Publish) -> None:
        """Stitches held touches of these anonymous ids to a link committed meanwhile.

        Anonymous ids are not locked: a worker holding a touch of an anonymous id (its
        partition is the anonymous id's) and one linking that id (its partition is the
        lead's) would otherwise wait for each other's whole batch on nearly every batch.
        Instead each, once committed, stitches again what its batch held or linked: of two
        such batches the later to look sees the other's commit, so no touch stays held
        behind a link. Nearly always this is one indexed read that finds nothing."""
        if not identities:
            return
        tenants = {t for t, _ in identities}
        async with checkpoint.transaction(self._pool, tenants, publish) as tx:
            leads = await store.held_behind_links(tx.conn, identities)
            if not leads:
                return
            await locks.lock_keys(tx.conn, "lead", leads)
            stitched = await store.stitch_held_touches(tx.conn, identities)
            versions = await self._configs.hold(tx.conn, {t for t, _ in stitched})
            await self._apply(tx, versions, {}, stitched)

    async def _advance(
        self,
        conn: asyncpg.Connection,
        versions: dict[str, dict[int, TenantConfig]],
        new_by_lead: dict[Key, list[Event]],
        stitched: set[Key],
    ) -> tuple[dict[Key, Folded], dict[Key, store.Head]]:
        """Each touched lead's state and last seq, and the head of its stored row: a new
        lead folds from this batch alone, a cached current lead applies its new events in
        order (and later writes only what they changed), any other (late events, stitched
        touches, not cached) refolds from the event log and has its rows rewritten."""
        touched = sorted(set(new_by_lead) | stitched)
        heads = await store.lead_heads(conn, touched)
        states: dict[Key, Folded] = {}
        reload: list[Key] = []
        for key in touched:
            tenant_configs = versions[key[0]]
            new = sorted(new_by_lead.get(key, ()), key=_fold_order)
            head = heads.get(key)
            if key in stitched:
                reload.append(key)
            elif head is None:
                states[key] = Folded(fold_lead(new, tenant_configs), _row_seq(head, new), None)
            elif (cached := self._cache.take(*key, head.last_seq)) is not None:
                state, written = cached
                if any(state.is_late(e) for e in new):
                    reload.append(key)
                    continue
                for e in new:
                    state.apply(e, tenant_configs[e.config_version])
                states[key] = Folded(state, _row_seq(head, new), written)
            else:
                reload.append(key)
        if reload:
            history = await store.load_lead_events(conn, reload)
            for key, events in history.items():
                states[key] = Folded(
                    fold_lead(events, versions[key[0]]), _row_seq(heads.get(key), events), None
                )
        return states, heads

    async def refold(
        self, conn: asyncpg.Connection, tenant_id: str, lead_ids: Sequence[str]
    ) -> list[LeadChange]:
        """Recomputes the given leads from their full histories and rewrites their rows."""
        versions = await self._configs.versions(tenant_id)
        keys = [(tenant_id, lead_id) for lead_id in lead_ids]
        heads = await store.lead_heads(conn, keys)
        history = await store.load_lead_events(conn, keys)
        states = {
            key: Folded(fold_lead(events, versions), _row_seq(heads.get(key), events), None)
            for key, events in history.items()
        }
        changes, _, _ = await self._write(conn, states, heads)
        return changes

    async def _write(
        self,
        conn: asyncpg.Connection,
        states: dict[Key, Folded],
        heads: dict[Key, store.Head],
    ) -> tuple[list[LeadChange], dict[Key, Written], list[Key]]:
        """Writes what the states changed; returns the changes to publish, what the read
        model now holds of each lead, and the leads whose SLA standing may have changed."""
        current: dict[str, TenantConfig] = {}
        for tenant_id in {t for t, _ in states}:
            versions = await self._configs.versions(tenant_id)
            current[tenant_id] = versions[max(versions)]
        now = self._now()
        rows = _Rows()
        written = {
            key: rows.add(key, folded, heads.get(key), current[key[0]], now)
            for key, folded in states.items()
        }
        replaced_transitions = await store.write_lead_rows(conn, rows.writes)
        await account_store.update_many(conn, rows.account_leads, current)
        # After the accounts: a lead's prediction reads its account's members.
        await self._predictions.write(conn, {key: f.state for key, f in states.items()}, now)
        return rows.changes(heads, replaced_transitions, now), written, rows.sla_leads


def _row_seq(head: store.Head | None, events: Sequence[Event]) -> int:
    """The `last_seq` a lead's row is written with: its latest event's seq, and always
    above what the row held. A stitched touch keeps its older seq, so without the second
    rule a stitch by another worker could leave the row's last_seq as it was, and a state
    cached before it would pass for current."""
    latest = max(e.seq for e in events) if events else 0
    return latest if head is None else max(latest, head.last_seq + 1)


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


def _route(tenant_id: str, event: Event, linked: dict[Key, str]) -> Event:
    if event.lead_id is None and event.anonymous_id is not None:
        lead_id = linked.get((tenant_id, event.anonymous_id))
        if lead_id is not None:
            return dataclasses.replace(event, lead_id=lead_id, stitched=True)
    return event


@dataclass(frozen=True, slots=True)
class Written:
    """What the read model holds of a lead, kept with its cached state: the next write
    compares the advanced state with it and writes only what changed."""

    transitions: int
    touches: int
    opportunities: dict[str, tuple[Any, ...]]
    conversions: dict[tuple[str, str], Conversion]
    models: tuple[AttributionModel, ...]
    # What the lead's account was last computed from (accounts.member_inputs), and under
    # which configuration; None before the lead has a row.
    account: tuple[Any, ...] | None
    config: TenantConfig
    # What the SLA clock reads of the lead: its MQL instant and the two answers.
    sla: tuple[datetime | None, datetime | None, datetime | None]


# The SLA columns of a lead without a row.
_NO_SLA: Final = (None, None, None)


class Folded(NamedTuple):
    state: LeadState
    last_seq: int
    # What the lead's rows hold when only new events in order were applied to its cached
    # state; None when its rows are rewritten whole (new, late, stitched or refolded).
    written: Written | None


class _Rows:
    """The read-model rows a set of advanced or refolded leads changed."""

    def __init__(self) -> None:
        self.writes = store.LeadWrites()
        # The leads whose account must be brought up to date.
        self.account_leads: list[Key] = []
        # The leads whose SLA standing may have changed (a new MQL instant or answer).
        self.sla_leads: list[Key] = []
        self._summaries: list[tuple[Key, LeadState, int, str, int | None]] = []

    def add(
        self,
        key: Key,
        folded: Folded,
        head: store.Head | None,
        config: TenantConfig,
        now: datetime,
    ) -> Written:
        t, lead_id = key
        state, prior = folded.state, folded.written
        w = self.writes
        if prior is None:
            w.replaced.append(key)
        models = config.attribution_models
        if state.created_at is None or state.last_event_at is None:
            # Only held or rescore events so far: not a lead yet, nothing stored.
            return Written(0, len(state.touches), {}, {}, models, None, config, _NO_SLA)
        # Displayed engagement decays with the clock (SPEC 4): evaluate it at the later of
        # the wall clock and the lead's latest event, as the decay sweep does.
        scored_at = max(now, state.last_event_at)
        engagement = engagement_at(state, config, scored_at)
        shown_matrix = matrix(state.fit_grade, engagement.score)
        w.leads.append(
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
                last_seq=folded.last_seq,
            )
        )
        # Transitions are only ever appended while events arrive in order.
        first_new = 0 if prior is None else prior.transitions
        for ordinal in range(first_new, len(state.transitions)):
            tr = state.transitions[ordinal]
            w.transitions.append(
                store.TRANSITIONS.row(
                    tr,
                    tenant_id=t,
                    lead_id=lead_id,
                    ordinal=ordinal,
                    from_stage=str(tr.from_stage) if tr.from_stage else None,
                    to_stage=str(tr.to_stage),
                )
            )
        opportunities: dict[str, tuple[Any, ...]] = {}
        conversions: dict[tuple[str, str], Conversion] = {}
        for opp in state.opportunities.values():
            row = store.OPPORTUNITIES.row(opp, tenant_id=t, lead_id=lead_id, status=str(opp.status))
            opportunities[opp.opportunity_id] = row
            if prior is None or prior.opportunities.get(opp.opportunity_id) != row:
                w.opportunities.append(row)
            won = opp.status is OpportunityStatus.WON
            for c in opportunity_conversions(
                opp.opportunity_id,
                amount=opp.amount,
                created_at=opp.created_at,
                won_at=opp.closed_at if won else None,
                won_amount=opp.won_amount,
            ):
                conversions[(c.opportunity_id, c.kind)] = c
        credited = _to_credit(prior, state, conversions, models)
        if prior is not None:
            w.credits_dropped.extend(
                (t, lead_id, opp_id, kind)
                for opp_id, kind in credited.keys() | (prior.conversions.keys() - conversions)
            )
        if credited:
            for credit in credit_lead(state.touches, credited.values(), models):
                w.credits.append(
                    store.CREDITS.row(
                        credit, tenant_id=t, lead_id=lead_id, touch_event_id=credit.event_id
                    )
                )
        self._summaries.append(
            (key, state, engagement.score, shown_matrix, None if prior is None else first_new)
        )
        account = member_inputs(
            state.account_id,
            str(state.stage),
            engagement.score,
            state.traits,
            (
                OpenOpportunity(o.opportunity_id, o.created_at)
                for o in state.opportunities.values()
                if o.status is OpportunityStatus.OPEN
            ),
        )
        if (
            prior is None
            or prior.account != account
            or prior.config is not config
            # Matched by domain only: another writer changing which account holds the
            # domain skips this lead while it is locked here, trusting this step to
            # re-resolve it (account_store.update_many).
            or (state.account_id is None and normalise_domain(state.traits.get("company_domain")))
        ):
            self.account_leads.append(key)
        sla = (state.mql_at, state.response_at, state.disposition_at)
        # Against what the row held: the cached state's, or the stored row's when the lead
        # was refolded (most leads of a busy tenant are not in the cache).
        held = prior.sla if prior is not None else _NO_SLA if head is None else head.sla
        if sla != held:
            self.sla_leads.append(key)
        return Written(
            len(state.transitions),
            len(state.touches),
            opportunities,
            conversions,
            models,
            account,
            config,
            sla,
        )

    def changes(
        self, heads: dict[Key, store.Head], replaced: dict[Key, int], now: datetime
    ) -> list[LeadChange]:
        out = []
        for key, state, engagement, shown_matrix, kept in self._summaries:
            before = heads.get(key)
            score = state.fit_score + engagement
            if before is not None and before.stage == str(state.stage) and before.score == score:
                continue
            seen = kept if kept is not None else replaced.get(key, 0)
            out.append(
                LeadChange(
                    tenant_id=key[0],
                    lead_id=key[1],
                    previous_stage=before.stage if before else None,
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
                        for i, tr in enumerate(state.transitions[seen:], start=seen)
                    ),
                )
            )
        return out


def _to_credit(
    prior: Written | None,
    state: LeadState,
    conversions: dict[tuple[str, str], Conversion],
    models: tuple[AttributionModel, ...],
) -> dict[tuple[str, str], Conversion]:
    """The conversions whose credits must be (re)computed. A conversion credits the touches
    up to its instant, so once its rows are stored only a change of the conversion itself,
    of the models, or a new touch at or before it changes them: a touch after every
    conversion (the common case for a long-lived lead) recomputes nothing."""
    if prior is None or prior.models != models:
        return conversions
    new_touches = state.touches[prior.touches :]
    earliest = min((t.occurred_at for t in new_touches), default=None)
    return {
        key: c
        for key, c in conversions.items()
        if prior.conversions.get(key) != c or (earliest is not None and earliest <= c.at)
    }
