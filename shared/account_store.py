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
from collections.abc import Collection, Sequence
from typing import Any, Final

import asyncpg
import orjson

from shared import locks
from shared.db import fetch_dict
from shared.domain.accounts import (
    Member,
    OpenOpportunity,
    compute_account,
    normalise_domain,
    resolve_account,
)
from shared.domain.config import TenantConfig


async def update_accounts(
    conn: asyncpg.Connection, tenant_id: str, lead_ids: Sequence[str], config: TenantConfig
) -> None:
    """Brings the accounts of these leads (whose rows were just written, under their locks)
    up to date.

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
        "SELECT lead_id, account_id, traits->>'company_domain' AS domain FROM leads"
        " WHERE tenant_id = $1 AND lead_id = ANY($2::text[])",
        tenant_id,
        list(lead_ids),
    )
    held = await _planned_keys(conn, tenant_id, rows)
    while True:
        try:
            async with conn.transaction():
                for kind in _KINDS:
                    await locks.lock(conn, tenant_id, kind, [n for k, n in held if k == kind])
                await _settle(conn, tenant_id, rows, config, held)
            return
        except _Uncovered as uncovered:
            held |= uncovered.keys


# The order keys are taken in, after the caller's identities and leads.
_KINDS: Final = ("domain", "account")


class _Uncovered(Exception):
    """The step needs keys it does not hold; carries every key needed so far."""

    def __init__(self, keys: set[tuple[str, str]]) -> None:
        super().__init__(f"{len(keys)} account keys needed")
        self.keys = keys


async def _planned_keys(
    conn: asyncpg.Connection, tenant_id: str, rows: Sequence[Any]
) -> set[tuple[str, str]]:
    """The keys the step most likely needs, from committed rows (unlocked, so a guess that
    _settle checks): the leads' domains, the accounts they name, are in, or would match,
    and those accounts' current domains, which are the ones that could change."""
    domains = {d for r in rows if (d := normalise_domain(r["domain"])) is not None}
    own = {r["account_id"] for r in rows if r["account_id"]}
    keys = {("domain", d) for d in domains}
    for r in await conn.fetch(
        """
        SELECT ids.account_id, a.domain
        FROM (SELECT unnest($3::text[]) AS account_id
              UNION SELECT account_id FROM account_members
                    WHERE tenant_id = $1 AND lead_id = ANY($2::text[])
              UNION SELECT account_id FROM accounts
                    WHERE tenant_id = $1 AND domain = ANY($4::text[])) AS ids
        LEFT JOIN accounts a ON a.tenant_id = $1 AND a.account_id = ids.account_id
        """,
        tenant_id,
        [r["lead_id"] for r in rows],
        sorted(own),
        sorted(domains),
    ):
        keys.add(("account", r["account_id"]))
        if r["domain"] is not None:
            keys.add(("domain", r["domain"]))
    return keys


async def _settle(
    conn: asyncpg.Connection,
    tenant_id: str,
    rows: Sequence[Any],
    config: TenantConfig,
    held: set[tuple[str, str]],
) -> None:
    """Re-resolves the leads and recomputes what they touch, then the leads of every domain
    that changed account, until nothing changes; raises _Uncovered before writing or
    reading anything that keys it does not hold protect."""
    needed: set[tuple[str, str]] = set()

    def require(keys: set[tuple[str, str]]) -> None:
        needed.update(keys)
        if not needed <= held:
            raise _Uncovered(needed)

    while rows:
        # Writes only the memberships of leads this transaction holds (locked or read FOR
        # SHARE), which no one else writes; the accounts it read are checked just below.
        affected, matched = await _assign(conn, tenant_id, rows)
        require({("account", a) for a in affected} | {("domain", d) for d in matched})
        changed_domains = await _recompute(conn, tenant_id, affected, config)
        require({("domain", d) for d in changed_domains})
        if not changed_domains:
            return
        rows = await conn.fetch(
            "SELECT lead_id, account_id, traits->>'company_domain' AS domain FROM leads"
            " WHERE tenant_id = $1 AND account_id IS NULL"
            " AND lower(btrim(traits->>'company_domain')) = ANY($2::text[])"
            " FOR SHARE SKIP LOCKED",
            tenant_id,
            sorted(changed_domains),
        )


async def _assign(
    conn: asyncpg.Connection, tenant_id: str, rows: Sequence[Any]
) -> tuple[set[str], set[str]]:
    """Stores each lead's account; returns the accounts it left or joined or stays in, and
    the domains leads were matched by."""
    domains = {d for r in rows if not r["account_id"] and (d := normalise_domain(r["domain"]))}
    by_domain = await fetch_dict(
        conn,
        "SELECT DISTINCT ON (domain) domain, account_id FROM accounts"
        " WHERE tenant_id = $1 AND domain = ANY($2::text[]) ORDER BY domain, account_id",
        tenant_id,
        sorted(domains),
    )
    lead_ids = [r["lead_id"] for r in rows]
    previous = await conn.fetch(
        "DELETE FROM account_members WHERE tenant_id = $1 AND lead_id = ANY($2::text[])"
        " RETURNING account_id",
        tenant_id,
        lead_ids,
    )
    members = [
        (tenant_id, r["lead_id"], account)
        for r in rows
        if (account := resolve_account(r["account_id"], r["domain"], by_domain)) is not None
    ]
    if members:
        await conn.execute(
            "INSERT INTO account_members (tenant_id, lead_id, account_id)"
            " SELECT $1, unnest($2::text[]), unnest($3::text[])",
            tenant_id,
            [lead for _, lead, _ in members],
            [account for _, _, account in members],
        )
    affected = {r["account_id"] for r in previous} | {account for _, _, account in members}
    return affected, domains


async def _recompute(
    conn: asyncpg.Connection, tenant_id: str, account_ids: Collection[str], config: TenantConfig
) -> set[str]:
    """Rewrites the accounts from their members; returns the domains that came or went."""
    if not account_ids:
        return set()
    ids = sorted(account_ids)
    members: dict[str, list[Member]] = defaultdict(list)
    for r in await conn.fetch(
        """
        SELECT m.account_id AS member_of, l.lead_id, l.account_id, l.stage,
               l.engagement_score, l.traits
        FROM account_members m
        JOIN leads l ON l.tenant_id = m.tenant_id AND l.lead_id = m.lead_id
        WHERE m.tenant_id = $1 AND m.account_id = ANY($2::text[])
        ORDER BY l.lead_id
        """,
        tenant_id,
        ids,
    ):
        members[r["member_of"]].append(
            Member(r["lead_id"], r["account_id"], r["stage"], r["engagement_score"], r["traits"])
        )
    opportunities: dict[str, list[OpenOpportunity]] = defaultdict(list)
    for r in await conn.fetch(
        """
        SELECT m.account_id, o.opportunity_id, o.created_at
        FROM account_members m
        JOIN opportunities o ON o.tenant_id = m.tenant_id AND o.lead_id = m.lead_id
        WHERE m.tenant_id = $1 AND m.account_id = ANY($2::text[]) AND o.status = 'OPEN'
        """,
        tenant_id,
        ids,
    ):
        opportunities[r["account_id"]].append(OpenOpportunity(r["opportunity_id"], r["created_at"]))
    old_domains = await fetch_dict(
        conn,
        "DELETE FROM accounts WHERE tenant_id = $1 AND account_id = ANY($2::text[])"
        " RETURNING account_id, domain",
        tenant_id,
        ids,
    )
    changed: set[str | None] = set()
    rows = []
    for account_id in ids:
        account = compute_account(
            account_id, members.get(account_id, []), opportunities.get(account_id, []), config
        )
        new_domain = None if account is None else account.domain
        if old_domains.get(account_id) != new_domain:
            changed |= {old_domains.get(account_id), new_domain}
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
        columns = list(zip(*rows, strict=True))
        await conn.execute(
            """
            INSERT INTO accounts (tenant_id, account_id, domain, members, fit_score, fit_grade,
                fit_evidence, engagement_score, stage, stage_rank, open_opportunity_id, traits)
            SELECT $1, account_id, domain, members, fit_score, fit_grade, fit_evidence::jsonb,
                   engagement_score, stage, stage_rank, open_opportunity_id, traits::jsonb
            FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[],
                        $8::int[], $9::text[], $10::int[], $11::text[], $12::text[])
                AS a(account_id, domain, members, fit_score, fit_grade, fit_evidence,
                     engagement_score, stage, stage_rank, open_opportunity_id, traits)
            """,
            tenant_id,
            *(list(c) for c in columns[1:]),
        )
    return {d for d in changed if d is not None}
