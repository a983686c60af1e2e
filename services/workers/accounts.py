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
from typing import Any

import asyncpg
import orjson

from services.workers import store
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
    """Brings the accounts of these leads (whose rows were just written) up to date."""
    # Workers lock leads, not tenants, so two of them may write members of one account, or
    # match a lead by a domain another is moving, at once. One lock per tenant for this step
    # makes the second read the first's committed accounts and members: without it a lead
    # could miss the account its domain just gained. Held to the commit, it serialises only
    # the end of a tenant's batches.
    await store.lock(conn, tenant_id, "accounts", [tenant_id])
    rows = await conn.fetch(
        "SELECT lead_id, account_id, traits->>'company_domain' AS domain FROM leads"
        " WHERE tenant_id = $1 AND lead_id = ANY($2::text[])",
        tenant_id,
        list(lead_ids),
    )
    while rows:
        affected = await _assign(conn, tenant_id, rows)
        changed_domains = await _recompute(conn, tenant_id, affected, config)
        if not changed_domains:
            return
        rows = await conn.fetch(
            "SELECT lead_id, account_id, traits->>'company_domain' AS domain FROM leads"
            " WHERE tenant_id = $1 AND account_id IS NULL"
            " AND lower(btrim(traits->>'company_domain')) = ANY($2::text[])",
            tenant_id,
            sorted(changed_domains),
        )


async def _assign(conn: asyncpg.Connection, tenant_id: str, rows: Sequence[Any]) -> set[str]:
    """Stores each lead's account; returns the accounts it left or joined or stays in."""
    domains = {normalise_domain(r["domain"]) for r in rows if not r["account_id"]}
    by_domain = {
        r["domain"]: r["account_id"]
        for r in await conn.fetch(
            "SELECT DISTINCT ON (domain) domain, account_id FROM accounts"
            " WHERE tenant_id = $1 AND domain = ANY($2::text[]) ORDER BY domain, account_id",
            tenant_id,
            sorted(d for d in domains if d is not None),
        )
    }
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
    return {r["account_id"] for r in previous} | {account for _, _, account in members}


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
    old_domains = {
        r["account_id"]: r["domain"]
        for r in await conn.fetch(
            "DELETE FROM accounts WHERE tenant_id = $1 AND account_id = ANY($2::text[])"
            " RETURNING account_id, domain",
            tenant_id,
            ids,
        )
    }
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
