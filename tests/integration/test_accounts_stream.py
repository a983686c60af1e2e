"""SPEC 17 in the stream: accounts and the data-driven model over generated journeys.

Accounts are kept by the worker in the projection's transaction; fed in order, or shuffled
with duplicates and a worker SIGKILL in the middle, a tenant ends with the same accounts,
and those are the accounts the pure rules give over its final lead rows."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from shared.domain.accounts import Member, OpenOpportunity, compute_account, resolve_account
from shared.domain.config import DEFAULT_CONFIG
from shared.kafka import partition_for
from shared.validation import event_key
from simulation.generator import JourneyGenerator
from tests.integration.conftest import EXAMPLE_NOW, Platform, WorkerGroup
from tests.integration.test_graphql_api import data_of
from tests.integration.test_kill_worker import produce

LEADS = 90


def journeys(tenant: str) -> list[dict[str, Any]]:
    """Generated journeys; every third lead's events lose their account_id, so that the lead
    joins its account through its company_domain trait."""
    gen = JourneyGenerator(tenant, seed=11, now=datetime.fromisoformat(EXAMPLE_NOW), span_days=60)
    out = []
    for index, journey in enumerate(gen.journeys(LEADS)):
        for event in journey:
            if index % 3 == 2:
                event.pop("account_id", None)
            out.append(event)
    return out


def shuffled_with_repeats(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng = random.Random(5)
    out = events + rng.sample(events, len(events) // 10)
    rng.shuffle(out)
    return out


async def accounts_snapshot(platform: Platform, tenant: str) -> list[tuple[Any, ...]]:
    rows = await platform.admin.fetch(
        "SELECT account_id, domain, members, fit_score, fit_grade, engagement_score, stage,"
        " open_opportunity_id, traits FROM accounts WHERE tenant_id = $1 ORDER BY account_id",
        tenant,
    )
    return [(*tuple(r.values())[:-1], _traits(r)) for r in rows]


async def expected_accounts(platform: Platform, tenant: str) -> list[tuple[Any, ...]]:
    """The accounts the pure rules give over the tenant's final lead rows."""
    leads = await platform.admin.fetch("SELECT * FROM leads WHERE tenant_id = $1", tenant)
    explicit: dict[str, list[Member]] = defaultdict(list)
    for lead in leads:
        if lead["account_id"]:
            explicit[lead["account_id"]].append(_member(lead))
    by_domain: dict[str, str] = {}
    for account_id in sorted(explicit, reverse=True):
        account = compute_account(account_id, explicit[account_id], [], DEFAULT_CONFIG)
        if account is not None and account.domain is not None:
            by_domain[account.domain] = account_id
    members: dict[str, list[Member]] = defaultdict(list)
    for lead in leads:
        owner = resolve_account(lead["account_id"], _traits(lead).get("company_domain"), by_domain)
        if owner is not None:
            members[owner].append(_member(lead))
    opportunities: dict[str, list[OpenOpportunity]] = defaultdict(list)
    member_of = {m.lead_id: a for a, ms in members.items() for m in ms}
    for o in await platform.admin.fetch(
        "SELECT * FROM opportunities WHERE tenant_id = $1 AND status = 'OPEN'", tenant
    ):
        if o["lead_id"] in member_of:
            opportunities[member_of[o["lead_id"]]].append(
                OpenOpportunity(o["opportunity_id"], o["created_at"])
            )
    out = []
    for account_id in sorted(members):
        a = compute_account(
            account_id, members[account_id], opportunities[account_id], DEFAULT_CONFIG
        )
        assert a is not None
        out.append(
            (
                a.account_id,
                a.domain,
                a.members,
                a.fit_score,
                a.fit_grade,
                a.engagement_score,
                a.stage,
                a.open_opportunity_id,
                dict(a.traits),
            )
        )
    return out


def _traits(row: Any) -> dict[str, Any]:
    # The admin pool has no jsonb codec: documents arrive as their JSON text.
    traits: dict[str, Any] = orjson.loads(row["traits"])
    return traits


def _member(lead: Any) -> Member:
    return Member(
        lead["lead_id"], lead["account_id"], lead["stage"], lead["engagement_score"], _traits(lead)
    )


def retenant(events: list[dict[str, Any]], tenant: str) -> list[dict[str, Any]]:
    return [{**e, "tenant_id": tenant} for e in events]


@pytest.mark.integration
async def test_accounts_are_exact_under_shuffles_duplicates_and_sigkill(
    platform: Platform,
) -> None:
    calm, _ = await platform.create_tenant("acct-calm")
    killed, _ = await platform.create_tenant("acct-killed")
    events = journeys("x")
    lead_events = len(events)

    await produce(platform.kafka_bootstrap, retenant(events, calm))
    await platform.wait_events(calm, lead_events, timeout=180)

    mixed = retenant(shuffled_with_repeats(events), killed)
    half = len(mixed) // 2
    await produce(platform.kafka_bootstrap, mixed[:half])

    async def partly_applied() -> bool:
        n = await platform.admin.fetchval(
            "SELECT count(*) FROM events WHERE tenant_id = $1", killed
        )
        return bool(n >= half // 4)

    await platform.wait_for(partly_applied, 90, "part of the shuffled stream to be applied")
    platform.restart_worker()
    await produce(platform.kafka_bootstrap, mixed[half:])
    await platform.wait_events(killed, lead_events, timeout=180)

    want = await expected_accounts(platform, calm)
    assert len(want) >= LEADS // 4
    # Leads without an account_id of their own joined their account by domain.
    domain_members = await platform.admin.fetchval(
        "SELECT count(*) FROM account_members m JOIN leads l USING (tenant_id, lead_id)"
        " WHERE m.tenant_id = $1 AND l.account_id IS NULL",
        calm,
    )
    assert domain_members > 0
    assert await accounts_snapshot(platform, calm) == want

    async def settled() -> bool:
        return await accounts_snapshot(platform, killed) == want

    await platform.wait_for(settled, 60, "the shuffled tenant's accounts to match")


COMMITTEE = 30
WAVES = 11


def committees(tenant: str) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Three large buying committees (30 leads each, every third lead carrying only the
    domain), their events shuffled with repeats; then waves that update every lead's traits
    at once, so that each account's members are written by every worker at the same time.
    Even waves move most naming members of each account to an alias domain and odd ones
    back, so accounts change domains while their domain-only leads are matched."""
    now = datetime.fromisoformat(EXAMPLE_NOW)
    gen = JourneyGenerator(
        tenant, seed=13, now=now - timedelta(hours=1), span_days=60, leads_per_account=COMMITTEE
    )
    base: list[dict[str, Any]] = []
    last: dict[str, dict[str, Any]] = {}
    for index, journey in enumerate(gen.journeys(3 * COMMITTEE)):
        for event in journey:
            if index % 3 == 2:
                event.pop("account_id", None)
            base.append(event)
            if "company_domain" in event.get("properties", {}).get("traits", {}):
                last[event["lead_id"]] = event
    waves = []
    for wave in range(1, WAVES + 1):
        updates = []
        for index, (lead_id, event) in enumerate(sorted(last.items())):
            full = event["properties"]["traits"]
            traits = {k: full[k] for k in ("company_domain", "company_size")}
            # A third of the naming members take the alias, two thirds in even waves.
            if "account_id" in event and (index % 3 == 0) != (wave % 2 == 0):
                traits["company_domain"] = f"alt-{traits['company_domain']}"
            traits["company_size"] = traits["company_size"] + wave * (index % 7)
            at = now - timedelta(minutes=30 - wave)
            updates.append(
                {
                    **{k: v for k, v in event.items() if k != "anonymous_id"},
                    "event_id": f"{lead_id}-wave-{wave}",
                    "type": "lead_updated",
                    "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "properties": {"traits": traits},
                }
            )
        waves.append(updates)
    return shuffled_with_repeats(base), waves


@pytest.mark.integration
async def test_three_workers_writing_one_account_leave_the_single_worker_accounts(
    platform: Platform, start_workers: Callable[[str, int], WorkerGroup]
) -> None:
    shared, _ = await platform.create_tenant("acct-shared")
    alone, _ = await platform.create_tenant("acct-alone")
    base, waves = committees("x")
    # Each account's members are keyed to most partitions, hence to several workers.
    spread: dict[str, set[int]] = defaultdict(set)
    for e in waves[0]:
        spread[e.get("account_id", "")].add(partition_for(event_key(e), 8))
    assert min(len(p) for p in spread.values()) >= 6

    distinct = len({e["event_id"] for e in base})
    await produce(platform.kafka_bootstrap, retenant(base, alone))
    await platform.wait_events(alone, distinct, timeout=180)
    aliased = []
    for wave in waves:
        distinct += len(wave)
        await produce(platform.kafka_bootstrap, retenant(wave, alone))
        await platform.wait_events(alone, distinct, timeout=120)
        aliased.append(
            await platform.admin.fetchval(
                "SELECT count(*) FROM accounts WHERE tenant_id = $1 AND domain LIKE 'alt-%'",
                alone,
            )
        )
    assert aliased == [0, 3] * (WAVES // 2) + [0]

    group = start_workers("acct-scale", 3)
    try:
        await group.all_joined()
        distinct = len({e["event_id"] for e in base})
        await produce(platform.kafka_bootstrap, retenant(base, shared), group.touchpoints)
        await group.wait_applied(shared, distinct)
        # All waves at once: the workers write the same accounts for as long as they last.
        everything = [e for wave in waves for e in wave]
        await produce(platform.kafka_bootstrap, retenant(everything, shared), group.touchpoints)
        await group.wait_applied(shared, distinct + len(everything))
    finally:
        group.stop()

    want = await accounts_snapshot(platform, alone)
    assert want == await expected_accounts(platform, alone)
    # Three large committees, the domain-only members back in after the last wave.
    assert len(want) == 3 and min(a[2] for a in want) > COMMITTEE * 2 // 3, want
    domain_members = await platform.admin.fetchval(
        "SELECT count(*) FROM account_members m JOIN leads l USING (tenant_id, lead_id)"
        " WHERE m.tenant_id = $1 AND l.account_id IS NULL",
        shared,
    )
    assert domain_members > 0
    assert await accounts_snapshot(platform, shared) == want


ACCOUNT = """query($id: ID!) { account(id: $id) {
    id domain memberCount fitScore fitGrade engagementScore stage traits
    members { lead { id stage account { id } } jobTitle seniority department }
    openOpportunity { id status }
    timeline(first: 500) { eventId leadId type occurredAt }
    linear: attribution(model: LINEAR, kind: PIPELINE) { channel credit amount }
    dataDriven: attribution(model: DATA_DRIVEN, kind: PIPELINE) { channel credit amount }
} }"""
PAGE = """query($order: AccountOrder!, $after: String) {
    accounts(orderBy: $order, first: 7, after: $after) {
        totalCount edges { cursor node { id engagementScore } }
        pageInfo { hasNextPage endCursor }
    }
}"""


@pytest.mark.integration
async def test_accounts_through_graphql(platform: Platform) -> None:
    tenant, key = await platform.create_tenant("acct-gql")
    events = retenant(journeys("x"), tenant)
    await produce(platform.kafka_bootstrap, events)
    await platform.wait_events(tenant, len(events), timeout=180)

    # Each order pages through every account once, in the order the database gives.
    for order, sql_order in (
        ("ENGAGEMENT_DESC", "engagement_score DESC, account_id"),
        ("ENGAGEMENT_ASC", "engagement_score, account_id"),
        ("ACCOUNT_ID", "account_id"),
    ):
        stored = await platform.admin.fetch(
            "SELECT account_id, engagement_score FROM accounts WHERE tenant_id = $1"
            f" ORDER BY {sql_order}",
            tenant,
        )
        seen: list[tuple[str, int]] = []
        after = None
        while True:
            variables = {"order": order, "after": after}
            page = (await data_of(platform, key, PAGE, variables))["accounts"]
            assert page["totalCount"] == len(stored)
            seen.extend((e["node"]["id"], e["node"]["engagementScore"]) for e in page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == [(r["account_id"], r["engagement_score"]) for r in stored], order

    grade_d = await data_of(
        platform, key, "{ accounts(fitGrade: D, stage: CUSTOMER) { totalCount } }"
    )
    customers = await platform.admin.fetchval(
        "SELECT count(*) FROM accounts WHERE tenant_id = $1 AND fit_grade = 'D'"
        " AND stage = 'CUSTOMER'",
        tenant,
    )
    assert grade_d["accounts"]["totalCount"] == customers

    # The account with the most opportunities: its committee, timeline and attribution.
    busiest = await platform.admin.fetchrow(
        "SELECT m.account_id, count(o.opportunity_id) AS opportunities"
        " FROM account_members m JOIN opportunities o USING (tenant_id, lead_id)"
        " WHERE m.tenant_id = $1 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
        tenant,
    )
    assert busiest is not None
    account = (await data_of(platform, key, ACCOUNT, {"id": busiest["account_id"]}))["account"]
    members = await platform.admin.fetch(
        "SELECT lead_id FROM account_members WHERE tenant_id = $1 AND account_id = $2"
        " ORDER BY lead_id",
        tenant,
        busiest["account_id"],
    )
    assert [m["lead"]["id"] for m in account["members"]] == [r["lead_id"] for r in members]
    assert account["memberCount"] == len(members)
    assert {m["lead"]["account"]["id"] for m in account["members"]} == {account["id"]}
    assert all(m["jobTitle"] for m in account["members"])
    timeline = account["timeline"]
    assert {e["leadId"] for e in timeline} <= {r["lead_id"] for r in members}
    assert [e["occurredAt"] for e in timeline] == sorted(e["occurredAt"] for e in timeline)
    # Every pipeline conversion of the committee is credited once, under either model.
    for model in ("linear", "dataDriven"):
        total = sum(row["credit"] for row in account[model])
        assert total == pytest.approx(busiest["opportunities"]), model

    assert (await data_of(platform, key, '{ account(id: "nope") { id } }'))["account"] is None
