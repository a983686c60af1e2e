"""Privacy (SPEC 10): an erased lead leaves nothing queryable, in GraphQL or in any table,
its numbers leave the metrics and attribution, and a replay or a late event does not bring
it back until an admin lifts its suppression; a tenant is exported as NDJSON and deleted;
nothing is erased or deleted unconfirmed, or for a tenant or lead that does not exist."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.integration.conftest import Platform

PERIOD = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-20T00:00:00Z"}
METRICS = """query($from: DateTime!, $to: DateTime!) {
  metrics(from: $from, to: $to) { leadsCreated dealsWon revenue pipelineAmount }
  attribution(model: LINEAR, kind: REVENUE, groupBy: CHANNEL, from: $from, to: $to) {
    key credit
  }
}"""


async def _graphql(platform: Platform, key: str, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers={"X-API-Key": key}
        )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _journey(
    lead: str, anonymous: str, channel: str, amount: int, tag: str
) -> list[dict[str, Any]]:
    return [
        {"event_id": f"{tag}-1", "type": "page_view", "occurred_at": "2026-11-10T10:00:00Z",
         "anonymous_id": anonymous, "channel": channel, "campaign_id": f"camp-{tag}"},
        {"event_id": f"{tag}-2", "type": "identify", "occurred_at": "2026-11-10T11:00:00Z",
         "lead_id": lead, "anonymous_id": anonymous,
         "properties": {"traits": {"email": f"{tag}@x.test", "company_domain": f"{tag}.test"}}},
        {"event_id": f"{tag}-3", "type": "demo_request", "occurred_at": "2026-11-11T10:00:00Z",
         "lead_id": lead, "channel": channel},
        {"event_id": f"{tag}-4", "type": "opportunity_created",
         "occurred_at": "2026-11-12T10:00:00Z", "lead_id": lead,
         "properties": {"opportunity_id": f"opp-{tag}", "amount": amount}},
        {"event_id": f"{tag}-5", "type": "deal_won", "occurred_at": "2026-11-13T10:00:00Z",
         "lead_id": lead, "properties": {"opportunity_id": f"opp-{tag}", "amount": amount}},
    ]  # fmt: skip


async def _tables(platform: Platform) -> list[str]:
    rows = await platform.admin.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')"
        " AND a.attname = 'tenant_id' AND NOT a.attisdropped"
    )
    return sorted(r["relname"] for r in rows)


async def _rows_naming(platform: Platform, tenant: str, needles: list[str]) -> dict[str, int]:
    """Rows of the tenant, in every table, whose any column mentions one of `needles`."""
    found = {}
    for table in await _tables(platform):
        n = await platform.admin.fetchval(
            f"SELECT count(*) FROM {table} t WHERE tenant_id = $1"
            " AND EXISTS (SELECT 1 FROM unnest($2::text[]) AS n(x)"
            "             WHERE strpos(to_jsonb(t.*)::text, n.x) > 0)",
            tenant,
            needles,
        )
        if n:
            found[table] = n
    return found


async def _tenant_rows(platform: Platform, tenant: str) -> dict[str, int]:
    counts = {}
    for table in await _tables(platform):
        n = await platform.admin.fetchval(
            f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant
        )
        if n:
            counts[table] = n
    return counts


# The worker's compaction merges these tables' rows per tenant at any moment (their sums
# stay): their row counts move without any command writing or removing anything.
MERGED_BY_COMPACTION = frozenset(
    {"lead_metric_hours", "opportunity_metric_hours", "tenant_changes"}
)


async def _rows_commands_change(platform: Platform, tenant: str) -> dict[str, int]:
    """The tenant's rows per table, less the tables the worker's compaction merges."""
    rows = await _tenant_rows(platform, tenant)
    return {table: n for table, n in rows.items() if table not in MERGED_BY_COMPACTION}


def _tandem(*args: str) -> subprocess.CompletedProcess[bytes]:
    tandem = str(Path(sys.executable).with_name("tandem"))
    return subprocess.run([tandem, *args], capture_output=True, env=dict(os.environ), timeout=120)


async def test_an_erased_lead_leaves_nothing_and_stays_erased(platform: Platform) -> None:
    tenant, admin_key = await platform.create_tenant("privacy")
    run = uuid.uuid4().hex[:8]
    erased, kept = f"erase-me-{run}", f"keep-{run}"
    erased_anon = f"anon-erase-{run}"
    gone = _journey(erased, erased_anon, "paid_search", 5000, f"gone{run}")
    await platform.post_events(
        admin_key, gone + _journey(kept, f"anon-keep-{run}", "email", 1000, f"kept{run}")
    )
    await platform.wait_events(tenant, 10)

    async def both_won() -> bool:
        leads = await platform.leads(tenant)
        return all(leads.get(lead) and leads[lead]["customer_at"] for lead in (erased, kept))

    await platform.wait_for(both_won, 60, "both leads to be customers")
    before = (await _graphql(platform, admin_key, METRICS, **PERIOD))["data"]
    assert before["metrics"]["dealsWon"] == 2 and before["metrics"]["revenue"] == 6000

    viewer = await platform.api_key(tenant, "viewer")
    mutation = "mutation($id: ID!) { eraseLead(id: $id) { leadId rowsRemoved } }"
    refused = await _graphql(platform, viewer, mutation, id=erased)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    answer = await _graphql(platform, admin_key, mutation, id=erased)
    assert "errors" not in answer, answer["errors"]
    assert answer["data"]["eraseLead"]["leadId"] == erased
    assert answer["data"]["eraseLead"]["rowsRemoved"] >= 10

    needles = [erased, erased_anon, f"gone{run}"]
    assert await _rows_naming(platform, tenant, needles) == {}
    lookup = await _graphql(
        platform,
        admin_key,
        "query($id: ID!) { lead(id: $id) { id } leads(first: 500) { edges { node { id } } } }",
        id=erased,
    )
    assert lookup["data"]["lead"] is None
    assert [e["node"]["id"] for e in lookup["data"]["leads"]["edges"]] == [kept]
    after = (await _graphql(platform, admin_key, METRICS, **PERIOD))["data"]
    assert after["metrics"] == {
        "leadsCreated": 1, "dealsWon": 1, "revenue": 1000.0, "pipelineAmount": 1000.0
    }  # fmt: skip
    assert [row["key"] for row in after["attribution"]] == ["email"]
    # The per-hour counters kept by triggers agree with the leads that are left.
    counted = await platform.admin.fetchrow(
        "SELECT sum(leads_created) AS created, sum(new_customers) AS customers"
        " FROM lead_metric_hours WHERE tenant_id = $1",
        tenant,
    )
    assert (counted["created"], counted["customers"]) == (1, 1)

    # A replay of everything, and a late touch of the erased visitor, bring nothing back.
    late = {"event_id": f"late-{run}", "type": "page_view", "occurred_at": "2026-11-14T10:00:00Z",
            "anonymous_id": erased_anon}  # fmt: skip
    marker = {"event_id": f"marker-{run}", "type": "page_view",
              "occurred_at": "2026-11-15T10:00:00Z", "lead_id": kept}  # fmt: skip
    await platform.post_events(admin_key, [*gone, late, marker])

    async def marker_applied() -> bool:
        return bool(
            await platform.admin.fetchval(
                "SELECT count(*) FROM events WHERE tenant_id = $1 AND event_id = $2",
                tenant,
                marker["event_id"],
            )
        )

    await platform.wait_for(marker_applied, 60, "the event posted after the replay")
    assert await _rows_naming(platform, tenant, needles) == {}
    assert (await _graphql(platform, admin_key, METRICS, **PERIOD))["data"] == after

    # Erasing again is answered (a retried request); an id the tenant never had is refused
    # and suppresses nobody.
    again = await _graphql(platform, admin_key, mutation, id=erased)
    assert again["data"]["eraseLead"] == {"leadId": erased, "rowsRemoved": 0}
    typo = await _graphql(platform, admin_key, mutation, id=f"{kept}x")
    assert typo["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await _suppressed(platform, tenant) == 2  # the erased lead and its visitor

    # Admins see the suppressions by hash only; a viewer sees nothing.
    listing = """query($id: ID) { suppressions(id: $id, first: 1) {
      edges { node { kind idHash leadHash } } pageInfo { hasNextPage endCursor } } }"""
    assert (await _graphql(platform, viewer, listing))["errors"][0]["extensions"][
        "code"
    ] == "FORBIDDEN"
    first = (await _graphql(platform, admin_key, listing, id=erased))["data"]["suppressions"]
    assert first["pageInfo"]["hasNextPage"]
    rest = await _graphql(
        platform,
        admin_key,
        listing.replace("first: 1", "first: 5, after: $after").replace(
            "$id: ID", "$id: ID, $after: String"
        ),
        id=erased,
        after=first["pageInfo"]["endCursor"],
    )
    page = rest["data"]["suppressions"]
    nodes = [e["node"] for e in first["edges"] + page["edges"]]
    key = bytes(
        await platform.admin.fetchval(
            "SELECT erasure_key FROM tenants WHERE tenant_id = $1", tenant
        )
    )
    lead_hash = hmac.new(key, erased.encode(), hashlib.sha256).hexdigest()
    assert sorted(n["kind"] for n in nodes) == ["ANONYMOUS", "LEAD"]
    assert {n["leadHash"] for n in nodes} == {lead_hash} and not page["pageInfo"]["hasNextPage"]
    anon_hash = hmac.new(key, erased_anon.encode(), hashlib.sha256).hexdigest()
    assert anon_hash in {n["idHash"] for n in nodes}
    other = await _graphql(platform, admin_key, listing, id=kept)
    assert other["data"]["suppressions"]["edges"] == []

    # Lifting the suppression lets the lead's later events in again.
    lift = "mutation($id: ID!) { liftSuppression(id: $id) { id idsLifted } }"
    assert (await _graphql(platform, viewer, lift, id=erased))["errors"][0]["extensions"][
        "code"
    ] == "FORBIDDEN"
    lifted = await _graphql(platform, admin_key, lift, id=erased)
    assert lifted["data"]["liftSuppression"] == {"id": erased, "idsLifted": 2}
    assert await _suppressed(platform, tenant) == 0
    missing = await _graphql(platform, admin_key, lift, id=erased)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    back = {"event_id": f"back-{run}", "type": "page_view", "occurred_at": "2026-11-16T10:00:00Z",
            "lead_id": erased}  # fmt: skip
    await platform.post_events(admin_key, [back])
    await platform.wait_for(
        lambda: _has_lead(platform, tenant, erased), 60, "the lead's event after the lift"
    )


async def _suppressed(platform: Platform, tenant: str) -> int:
    return int(
        await platform.admin.fetchval(
            "SELECT count(*) FROM erased_subjects WHERE tenant_id = $1", tenant
        )
    )


async def test_erase_export_and_delete_from_the_command_line(platform: Platform) -> None:
    tenant, admin_key = await platform.create_tenant("export")
    run = uuid.uuid4().hex[:8]
    lead = f"cli-{run}"
    await platform.post_events(
        admin_key, _journey(lead, f"anon-cli-{run}", "email", 700, f"cli{run}")
    )
    await platform.wait_events(tenant, 5)
    await platform.wait_for(
        lambda: _has_lead(platform, tenant, lead), 60, "the lead in the read model"
    )

    # The worker's timers may still write rows derived from the journey (an SLA breach, day
    # counters the compaction merges, predictions): an export is compared with the rows
    # counted just before and just after it, and taken again if those two differ.
    exports: list[tuple[dict[str, int], list[dict[str, Any]]]] = []

    async def exported_while_still() -> bool:
        before = await _tenant_rows(platform, tenant)
        exported = _tandem("tenant", "export", tenant)
        assert exported.returncode == 0, exported.stderr
        if await _tenant_rows(platform, tenant) != before:
            return False
        exports.append((before, [orjson.loads(line) for line in exported.stdout.splitlines()]))
        return True

    await platform.wait_for(exported_while_still, 60, "an export while the rows stood still")
    counted, lines = exports[-1]
    tables = {line["table"] for line in lines}
    assert {"tenants", "api_keys", "events", "leads", "opportunities"} <= tables
    assert all(line["row"]["tenant_id"] == tenant for line in lines)
    assert len(lines) == sum(counted.values())

    # Unknown tenants and leads are errors that change nothing.
    for args in [
        ("erase", f"no-such-{run}", lead, "--yes"),
        ("erase", tenant, f"{lead}-typo", "--yes"),
        ("tenant", "export", f"no-such-{run}"),
        ("tenant", "delete", f"no-such-{run}", "--yes"),
        ("suppressions", "list", f"no-such-{run}"),
        ("suppressions", "lift", tenant, lead, "--yes"),
    ]:
        refused = _tandem(*args)
        assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
        assert refused.stderr.decode().startswith("tandem: "), (args, refused.stderr)
    assert b"no lead" in _tandem("erase", tenant, f"{lead}-typo", "--yes").stderr
    assert await _suppressed(platform, tenant) == 0

    # Without --yes: the plan, and nothing done.
    rows = await _rows_commands_change(platform, tenant)
    plan = _tandem("erase", tenant, lead)
    assert plan.returncode == 2 and b"--yes" in plan.stderr
    assert b"would remove" in plan.stdout and b"events: 5" in plan.stdout, plan.stdout
    assert await _rows_commands_change(platform, tenant) == rows
    assert await _suppressed(platform, tenant) == 0

    erased = _tandem("erase", tenant, lead, "--yes")
    assert erased.returncode == 0, erased.stderr
    assert await _rows_naming(platform, tenant, [lead, f"cli{run}"]) == {}
    again = _tandem("erase", tenant, lead, "--yes")
    assert again.returncode == 0 and b"erased already" in again.stdout, again.stdout

    listed = _tandem("suppressions", "list", tenant, lead)
    assert listed.returncode == 0 and b"2 suppressed ids" in listed.stdout, listed.stdout
    assert lead.encode() not in listed.stdout  # hashes only
    held = _tandem("suppressions", "lift", tenant, lead)
    assert held.returncode == 2 and b"would remove 2" in held.stdout
    assert await _suppressed(platform, tenant) == 2
    lifted = _tandem("suppressions", "lift", tenant, lead, "--yes")
    assert lifted.returncode == 0, lifted.stderr
    assert await _suppressed(platform, tenant) == 0

    listing = _tandem("tenant", "list")
    assert listing.returncode == 0 and tenant.encode() in listing.stdout

    rows = await _rows_commands_change(platform, tenant)
    refused = _tandem("tenant", "delete", tenant)
    assert refused.returncode == 2 and b"would remove" in refused.stdout
    assert await _rows_commands_change(platform, tenant) == rows != {}
    deleted = _tandem("tenant", "delete", tenant, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert await _tenant_rows(platform, tenant) == {}
    assert _tandem("tenant", "export", tenant).returncode == 2


async def _has_lead(platform: Platform, tenant: str, lead: str) -> bool:
    return lead in await platform.leads(tenant)


async def test_stored_secrets_are_sealed_rotated_and_never_exported(platform: Platform) -> None:
    """A webhook's signing secret, HubSpot's client secret and a CRM token are stored sealed
    (the database holds no clear copy), `tandem secrets rotate` re-seals them under a new
    key, and `tandem tenant export` carries none of them, nor any hash."""
    from shared.secret_box import SecretBox, context_for

    tenant, admin_key = await platform.create_tenant("sealed")
    created = await _graphql(
        platform,
        admin_key,
        "mutation($input: WebhookInput!) { createWebhook(input: $input) { secret } }",
        input={"url": "http://127.0.0.1:9/hook", "eventTypes": ["LEAD_MQL"]},
    )
    webhook_secret = created["data"]["createWebhook"]["secret"]
    hubspot_secret = f"hubspot-client-{uuid.uuid4().hex}"
    stored = await _graphql(
        platform,
        admin_key,
        "mutation($s: String!)"
        " { setConnectorSecret(connector: HUBSPOT, secret: $s) { secretSet } }",
        s=hubspot_secret,
    )
    assert stored["data"]["setConnectorSecret"]["secretSet"] is True
    token = f"pat-{uuid.uuid4().hex}"
    # the token never on the command line: from standard input (or TANDEM_CRM_TOKEN)
    on_argv = _tandem("crm", "set", tenant, "hubspot", "--token", token)
    assert on_argv.returncode == 2
    tandem = str(Path(sys.executable).with_name("tandem"))
    piped = subprocess.run(
        [tandem, "crm", "set", tenant, "hubspot", "--token-stdin"],
        input=f"{token}\n".encode(),
        capture_output=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert piped.returncode == 0, piped.stderr

    async def stored_text() -> str:
        rows = [
            await platform.admin.fetchval(
                "SELECT secret FROM webhooks WHERE tenant_id = $1", tenant
            ),
            await platform.admin.fetchval(
                "SELECT secret FROM connector_settings WHERE tenant_id = $1", tenant
            ),
            await platform.admin.fetchval(
                "SELECT token FROM crm_connections WHERE tenant_id = $1", tenant
            ),
        ]
        return " ".join(rows)

    before = await stored_text()
    for clear in (webhook_secret, hubspot_secret, token):
        assert clear not in before
    assert before.count("enc:v1:") == 3

    # a new key; the old one still opens what it sealed until rotate re-seals it
    old_key = os.environ["TANDEM_SECRETS_KEY"]
    new_key = uuid.uuid4().hex + uuid.uuid4().hex
    rotated = subprocess.run(
        [tandem, "secrets", "rotate"],
        capture_output=True,
        env={**os.environ, "TANDEM_SECRETS_KEY": new_key, "TANDEM_SECRETS_OLD_KEYS": old_key},
        timeout=120,
    )
    assert rotated.returncode == 0, rotated.stderr
    new_box = SecretBox.from_env({"TANDEM_SECRETS_KEY": new_key})
    token_row = await platform.admin.fetchval(
        "SELECT token FROM crm_connections WHERE tenant_id = $1", tenant
    )
    assert token_row.startswith(f"enc:v1:{new_box.current_id}:")
    assert new_box.open(token_row, context_for("crm_connections", "token", tenant)) == token
    # back under the tests' key, so the platform's processes keep opening them
    back = subprocess.run(
        [tandem, "secrets", "rotate"],
        capture_output=True,
        env={**os.environ, "TANDEM_SECRETS_OLD_KEYS": new_key},
        timeout=120,
    )
    assert back.returncode == 0, back.stderr

    exported = _tandem("tenant", "export", tenant)
    assert exported.returncode == 0, exported.stderr
    text = exported.stdout.decode()
    for secret in (webhook_secret, hubspot_secret, token, "enc:v1:"):
        assert secret not in text
    lines = [orjson.loads(line) for line in exported.stdout.splitlines()]
    assert {"webhooks", "connector_settings", "crm_connections", "api_keys"} <= {
        line["table"] for line in lines
    }
    assert not any("key_hash" in line["row"] or "secret_hash" in line["row"] for line in lines)


async def test_erased_people_are_kept_as_keyed_hashes_only(platform: Platform) -> None:
    import hashlib
    import hmac

    tenant, admin_key = await platform.create_tenant("keyed")
    other, _ = await platform.create_tenant("keyed")
    run = uuid.uuid4().hex[:8]
    lead = f"ann-{run}@example.com"
    await platform.post_events(admin_key, _journey(lead, f"anon-k-{run}", "email", 100, f"k{run}"))
    await platform.wait_for(lambda: _has_lead(platform, tenant, lead), 60, "the lead")
    erased = _tandem("erase", tenant, lead, "--yes")
    assert erased.returncode == 0, erased.stderr
    stored = {
        bytes(r["subject_hash"])
        for r in await platform.admin.fetch(
            "SELECT subject_hash FROM erased_subjects WHERE tenant_id = $1 AND kind = 'lead'",
            tenant,
        )
    }
    keys = {
        r["tenant_id"]: bytes(r["erasure_key"])
        for r in await platform.admin.fetch(
            "SELECT tenant_id, erasure_key FROM tenants WHERE tenant_id = ANY($1::text[])",
            [tenant, other],
        )
    }
    # hashing a guessed email does not find it; only the tenant's key does
    assert hashlib.sha256(lead.encode()).digest() not in stored
    assert stored == {hmac.new(keys[tenant], lead.encode(), hashlib.sha256).digest()}
    assert len(keys[tenant]) == 32 and keys[tenant] != keys[other]
    exported = _tandem("tenant", "export", tenant)
    assert exported.returncode == 0 and b"erasure_key" not in exported.stdout
