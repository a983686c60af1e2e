"""Accounts in the read model (SPEC 17), kept in the projection's transaction.

Whenever leads' rows are replaced, their account memberships are re-resolved and every
account that gained or lost one of them, or holds one of them, is recomputed from its
members' current rows with the pure rules of shared.domain.accounts. Recomputing from rows
rather than applying deltas makes it idempotent: a replay after a crash, a duplicate, a
late event or a stitch leaves the account as an in-order run would.

An account whose domain changes re-resolves the leads that only carry that domain; domains
come from members that name their account, which that step never moves, so a second round
at most settles everything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

import asyncpg
import orjson

from shared import locks
from shared.db import as_columns, delete_by_keys
from shared.domain.accounts import (
    Member,
    OpenOpportunity,
    compute_account,
    normalise_domain,
    resolve_account,
)
from shared.domain.config import TenantConfig
from shared.locks import Key


async def update_accounts(
    conn: asyncpg.Connection, tenant_id: str, lead_ids: Sequence[str], config: TenantConfig
) -> None:
    """`update_many` for leads of one tenant."""
    await update_many(conn, [(tenant_id, lead) for lead in lead_ids], {tenant_id: config})


async def update_many(
    conn: asyncpg.Connection, leads: Sequence[Key], configs: Mapping[str, TenantConfig]
) -> None:
    """Brings the accounts of these (tenant, lead)s (whose rows were just written, under
    their locks) up to date, for any number of tenants with the same statements.

    Workers lock leads, not tenants, so two of them may write members of one account, or
    match a lead by a domain whose account another is changing, at the same time. This step
    serialises them on keys of the tenant's identities (locks.lock_key: the tenant is part
    of the key, so no two tenants share one), held to the commit:

    - ("domain", d) by whoever resolves a lead by domain d, and by whoever changes which
      account holds d. The one committing second then reads the first's work: a lead never
      misses the account its domain just gained, nor stays in one that lost it.
    - ("account", a) by whoever recomputes account a, i.e. changes or rewrites a membership
      of it: the second reads the first's committed members, never loses them.

    Which keys are needed is only known while the step runs (an account's new domain is
    its members' most common one), but waiting on a key while holding one taken later in
    the order could deadlock. So the step runs in a savepoint after taking, in one sorted
    sweep (domains, then accounts), the keys it plans from the current rows; before each
    write whose readers those keys protect it checks that what it needs is held, and if not
    it rolls back (releasing the keys) and runs again with the larger set. The only waits
    are thus sweeps in one global order (anonymous ids, leads, domains, accounts), and a
    step never waits while holding keys out of that order.

    Leads re-resolved because their domain changed account are other writers' leads: they
    are read FOR SHARE SKIP LOCKED. A lead whose row another transaction is rewriting is
    skipped, as that transaction runs this step for it next (and, carrying the domain,
    waits for its key); a lead read here makes its writer wait for this commit.
    """
    rows = await conn.fetch(
        "SELECT l.tenant_id, l.lead_id, l.account_id, l.domain"
        " FROM unnest($1::text[], $2::text[]) AS k(tenant_id, lead_id)"
        " CROSS JOIN LATERAL (SELECT tenant_id, lead_id, account_id,"
        " traits->>'company_domain' AS domain FROM leads"
        " WHERE tenant_id = k.tenant_id AND lead_id = k.lead_id OFFSET 0) AS l",
        [t for t, _ in leads],
        [lead for _, lead in leads],
    )
    held = await _planned_keys(conn, rows)
    while True:
        try:
            async with conn.transaction():
                for kind in _KINDS:
                    await locks.lock_keys(conn, kind, [(t, n) for t, k, n in held if k == kind])
                await _settle(conn, rows, configs, held)
            return
        except _Uncovered as uncovered:
            held |= uncovered.keys


# The order keys are taken in, after the caller's identities and leads.
_KINDS: Final = ("domain", "account")


# (tenant, "domain" or "account", name)
_Lock = tuple[str, str, str]


class _Uncovered(Exception):
    """The step needs keys it does not hold; carries every key needed so far."""

    def __init__(self, keys: set[_Lock]) -> None:
        super().__init__(f"{len(keys)} account keys needed")
        self.keys = keys


async def _planned_keys(conn: asyncpg.Connection, rows: Sequence[Any]) -> set[_Lock]:
    """The keys the step most likely needs, from committed rows (unlocked, so a guess that
    _settle checks): the leads' domains, the accounts they name, are in, or would match,
    and those accounts' current domains, which are the ones that could change."""
    domains = {
        (r["tenant_id"], d) for r in rows if (d := normalise_domain(r["domain"])) is not None
    }
    own = {(r["tenant_id"], r["account_id"]) for r in rows if r["account_id"]}
    keys = {(t, "domain", d) for t, d in domains}
    # Each key through its index, one at a time (LATERAL, OFFSET 0): joins planned on a
    # new tenant's missing statistics read whole tables of members and accounts.
    for r in await conn.fetch(
        """
        WITH ids AS (
            SELECT * FROM unnest($3::text[], $4::text[]) AS o(tenant_id, account_id)
            UNION SELECT m.tenant_id, m.account_id
                  FROM unnest($1::text[], $2::text[]) AS k(tenant_id, lead_id)
                  CROSS JOIN LATERAL (SELECT tenant_id, account_id FROM account_members m
                      WHERE m.tenant_id = k.tenant_id AND m.lead_id = k.lead_id OFFSET 0) AS m
            UNION SELECT a.tenant_id, a.account_id
                  FROM unnest($5::text[], $6::text[]) AS d(tenant_id, domain)
                  CROSS JOIN LATERAL (SELECT tenant_id, account_id FROM accounts a
                      WHERE a.tenant_id = d.tenant_id AND a.domain = d.domain OFFSET 0) AS a
        )
        SELECT ids.tenant_id, ids.account_id, a.domain
        FROM ids LEFT JOIN LATERAL (SELECT domain FROM accounts a
            WHERE a.tenant_id = ids.tenant_id AND a.account_id = ids.account_id OFFSET 0) AS a
            ON true
        """,
        [r["tenant_id"] for r in rows],
        [r["lead_id"] for r in rows],
        *_columns(own),
        *_columns(domains),
    ):
        keys.add((r["tenant_id"], "account", r["account_id"]))
        if r["domain"] is not None:
            keys.add((r["tenant_id"], "domain", r["domain"]))
    return keys


def _columns(pairs: Collection[Key]) -> tuple[list[str], list[str]]:
    ordered = sorted(pairs)
    return [t for t, _ in ordered], [n for _, n in ordered]


async def _settle(
    conn: asyncpg.Connection,
    rows: Sequence[Any],
    configs: Mapping[str, TenantConfig],
    held: set[_Lock],
) -> None:
    """Re-resolves the leads and recomputes what they touch, then the leads of every domain
    that changed account, until nothing changes; raises _Uncovered before writing or
    reading anything that keys it does not hold protect."""
    needed: set[_Lock] = set()

    def require(keys: set[_Lock]) -> None:
        needed.update(keys)
        if not needed <= held:
            raise _Uncovered(needed)

    while rows:
        # Writes only the memberships of leads this transaction holds (locked or read FOR
        # SHARE), which no one else writes; the accounts it read are checked just below.
        affected, matched = await _assign(conn, rows)
        require({(t, "account", a) for t, a in affected} | {(t, "domain", d) for t, d in matched})
        changed_domains = await _recompute(conn, affected, configs)
        require({(t, "domain", d) for t, d in changed_domains})
        if not changed_domains:
            return
        # Domain by domain through leads_unassigned_domain (LATERAL; OFFSET 0 keeps the
        # planner from turning it back into a join that reads every unassigned lead).
        rows = await conn.fetch(
            "SELECT l.tenant_id, l.lead_id, l.account_id, l.domain"
            " FROM unnest($1::text[], $2::text[]) AS d(tenant_id, domain)"
            " CROSS JOIN LATERAL (SELECT tenant_id, lead_id, account_id,"
            " traits->>'company_domain' AS domain FROM leads"
            " WHERE tenant_id = d.tenant_id AND account_id IS NULL"
            " AND company_domain = d.domain"
            " OFFSET 0 FOR SHARE SKIP LOCKED) AS l",
            *_columns(changed_domains),
        )


async def _assign(conn: asyncpg.Connection, rows: Sequence[Any]) -> tuple[set[Key], set[Key]]:
    """Stores each lead's account; returns the (tenant, account)s it left or joined or
    stays in, and the (tenant, domain)s leads were matched by."""
    domains = {
        (r["tenant_id"], d)
        for r in rows
        if not r["account_id"] and (d := normalise_domain(r["domain"]))
    }
    by_domain: dict[str, dict[str, str]] = defaultdict(dict)
    for r in await conn.fetch(
        "SELECT DISTINCT ON (a.tenant_id, a.domain) a.tenant_id, a.domain, a.account_id"
        " FROM unnest($1::text[], $2::text[]) AS d(tenant_id, domain)"
        " CROSS JOIN LATERAL (SELECT tenant_id, domain, account_id FROM accounts a"
        " WHERE a.tenant_id = d.tenant_id AND a.domain = d.domain OFFSET 0) AS a"
        " ORDER BY a.tenant_id, a.domain, a.account_id",
        *_columns(domains),
    ):
        by_domain[r["tenant_id"]][r["domain"]] = r["account_id"]
    previous = await conn.fetch(
        delete_by_keys("account_members", ("tenant_id", "lead_id"), "tenant_id, account_id"),
        [r["tenant_id"] for r in rows],
        [r["lead_id"] for r in rows],
    )
    members = [
        (r["tenant_id"], r["lead_id"], account)
        for r in rows
        if (
            account := resolve_account(
                r["account_id"], r["domain"], by_domain.get(r["tenant_id"], {})
            )
        )
        is not None
    ]
    if members:
        await conn.execute(
            "INSERT INTO account_members (tenant_id, lead_id, account_id)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[])",
            *as_columns(members, 3),
        )
    affected = {(r["tenant_id"], r["account_id"]) for r in previous} | {
        (t, account) for t, _, account in members
    }
    return affected, domains


# The leads of each (tenant, account) of $1/$2, one account at a time through the index on
# (tenant, account); see _recompute for why the LATERAL is fenced with OFFSET 0.
_MEMBERS_OF_KEYS = """FROM unnest($1::text[], $2::text[]) AS k(tenant_id, account_id)
        CROSS JOIN LATERAL (
            SELECT lead_id FROM account_members m
            WHERE m.tenant_id = k.tenant_id AND m.account_id = k.account_id
            OFFSET 0
        ) AS m"""


async def _recompute(
    conn: asyncpg.Connection, account_ids: Collection[Key], configs: Mapping[str, TenantConfig]
) -> set[Key]:
    """Rewrites the accounts from their members; returns the (tenant, domain)s that came or
    went."""
    if not account_ids:
        return set()
    ids = sorted(account_ids)
    tenants, accounts = _columns(ids)
    # Each account's members, then their rows, through the indexes on (tenant, account) and
    # (tenant, lead) one account at a time (LATERAL, kept apart by OFFSET 0 so the planner
    # does not flatten it back into a join): a plain join lets the planner pair
    # every open opportunity of a tenant with the batch's accounts first, which on a new
    # tenant without statistics read all its members once per pair.
    members: dict[Key, list[Member]] = defaultdict(list)
    for r in await conn.fetch(
        f"""
        SELECT k.tenant_id, k.account_id AS member_of, l.lead_id, l.account_id, l.stage,
               l.engagement_score, l.traits
        {_MEMBERS_OF_KEYS}
        CROSS JOIN LATERAL (
            SELECT * FROM leads l WHERE l.tenant_id = k.tenant_id AND l.lead_id = m.lead_id
            OFFSET 0
        ) AS l
        ORDER BY l.lead_id
        """,
        tenants,
        accounts,
    ):
        members[(r["tenant_id"], r["member_of"])].append(
            Member(r["lead_id"], r["account_id"], r["stage"], r["engagement_score"], r["traits"])
        )
    opportunities: dict[Key, list[OpenOpportunity]] = defaultdict(list)
    for r in await conn.fetch(
        f"""
        SELECT k.tenant_id, k.account_id, o.opportunity_id, o.created_at
        {_MEMBERS_OF_KEYS}
        CROSS JOIN LATERAL (
            SELECT opportunity_id, created_at FROM opportunities o
            WHERE o.tenant_id = k.tenant_id AND o.lead_id = m.lead_id AND o.status = 'OPEN'
            OFFSET 0
        ) AS o
        """,
        tenants,
        accounts,
    ):
        opportunities[(r["tenant_id"], r["account_id"])].append(
            OpenOpportunity(r["opportunity_id"], r["created_at"])
        )
    old_domains = {
        (r["tenant_id"], r["account_id"]): r["domain"]
        for r in await conn.fetch(
            delete_by_keys(
                "accounts", ("tenant_id", "account_id"), "tenant_id, account_id, domain"
            ),
            tenants,
            accounts,
        )
    }
    changed: set[tuple[str, str | None]] = set()
    rows = []
    for key in ids:
        tenant_id, account_id = key
        account = compute_account(
            account_id,
            members.get(key, []),
            opportunities.get(key, []),
            configs[tenant_id],
        )
        new_domain = None if account is None else account.domain
        if old_domains.get(key) != new_domain:
            changed |= {(tenant_id, old_domains.get(key)), (tenant_id, new_domain)}
        if account is not None:
            rows.append(
                (
                    tenant_id,
                    account.account_id,
                    account.domain,
                    account.members,
                    account.fit_score,
                    account.fit_grade,
                    # orjson writes the evidence dataclasses as JSON objects as they are.
                    orjson.dumps(account.fit_evidence).decode(),
                    account.engagement_score,
                    account.stage,
                    account.stage_rank,
                    account.open_opportunity_id,
                    orjson.dumps(account.traits).decode(),
                )
            )
    if rows:
        # One statement for the batch, column arrays as COPY would take them; documents go as
        # JSON text, since a list inside a jsonb[] would read as another array dimension.
        await conn.execute(
            """
            INSERT INTO accounts (tenant_id, account_id, domain, members, fit_score, fit_grade,
                fit_evidence, engagement_score, stage, stage_rank, open_opportunity_id, traits)
            SELECT tenant_id, account_id, domain, members, fit_score, fit_grade,
                   fit_evidence::jsonb, engagement_score, stage, stage_rank,
                   open_opportunity_id, traits::jsonb
            FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[],
                        $7::text[], $8::int[], $9::text[], $10::int[], $11::text[],
                        $12::text[])
                AS a(tenant_id, account_id, domain, members, fit_score, fit_grade,
                     fit_evidence, engagement_score, stage, stage_rank, open_opportunity_id,
                     traits)
            """,
            *as_columns(rows, 12),
        )
    return {(t, d) for t, d in changed if d is not None}
