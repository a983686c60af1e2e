"""Tenant isolation end to end (SPEC 10): two tenants with the same lead id and different
data, and a third (the control) that receives exactly tenant A's events. Whatever A asks,
with its own key, a JWT or B's ids, it gets the control's figures: nothing of B shows, and
nothing A does changes B. Below the API, the application role sees only the tenant set for
its transaction, because row-level security is enabled and forced on every tenant table.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from services.gateway.auth import encode_jwt
from shared.settings import load_settings
from tests.integration.conftest import Platform
from tests.integration.test_graphql_api import data_of, gql

pytestmark = pytest.mark.integration

FROM, TO = "2026-11-01T00:00:00Z", "2026-11-21T00:00:00Z"
PERIOD = {"from": FROM, "to": TO}


def _events_a() -> list[dict[str, Any]]:
    return [
        {"event_id": "e-1", "type": "page_view", "occurred_at": "2026-11-10T10:00:00Z",
         "lead_id": "L-1", "channel": "paid_search", "campaign_id": "c-A"},
        {"event_id": "e-2", "type": "identify", "occurred_at": "2026-11-10T10:05:00Z",
         "lead_id": "L-1", "properties": {"traits": {"email": "a@a.example", "company_size": 50}}},
        {"event_id": "e-3", "type": "demo_request", "occurred_at": "2026-11-11T09:00:00Z",
         "lead_id": "L-1", "channel": "paid_search", "campaign_id": "c-A"},
        {"event_id": "e-4", "type": "opportunity_created", "occurred_at": "2026-11-12T09:00:00Z",
         "lead_id": "L-1", "properties": {"opportunity_id": "opp-A", "amount": 1000}},
        {"event_id": "e-5", "type": "page_view", "occurred_at": "2026-11-13T09:00:00Z",
         "lead_id": "L-A-2", "channel": "organic_search"},
        {"event_id": "e-6", "type": "campaign_spend", "occurred_at": "2026-11-05T00:00:00Z",
         "campaign_id": "c-A", "channel": "paid_search", "properties": {"amount": 300}},
    ]  # fmt: skip


def _events_b() -> list[dict[str, Any]]:
    # The same event ids as A's on purpose: deduplication is per tenant.
    return [
        {"event_id": "e-1", "type": "email_click", "occurred_at": "2026-11-09T10:00:00Z",
         "lead_id": "L-1", "channel": "email", "campaign_id": "c-B"},
        {"event_id": "e-2", "type": "identify", "occurred_at": "2026-11-09T10:05:00Z",
         "lead_id": "L-1",
         "properties": {"traits": {"email": "b@b.example", "company_size": 5000,
                                   "job_title": "CEO"}}},
        {"event_id": "e-3", "type": "opportunity_created", "occurred_at": "2026-11-10T09:00:00Z",
         "lead_id": "L-1", "properties": {"opportunity_id": "opp-B", "amount": 9000}},
        {"event_id": "e-4", "type": "deal_won", "occurred_at": "2026-11-15T09:00:00Z",
         "lead_id": "L-1", "properties": {"opportunity_id": "opp-B", "amount": 9000}},
        {"event_id": "e-5", "type": "demo_request", "occurred_at": "2026-11-14T09:00:00Z",
         "lead_id": "L-B-only", "channel": "review_site", "campaign_id": "c-B"},
        {"event_id": "e-6", "type": "campaign_spend", "occurred_at": "2026-11-05T00:00:00Z",
         "campaign_id": "c-B", "channel": "email", "properties": {"amount": 700}},
    ]  # fmt: skip


B_ONLY_MARKERS = ("b@b.example", "opp-B", "c-B", "L-B-only", "CEO", "review_site", "9000", "b-only")

LEAD = """lead(id: $id) { id stage highestStage fitScore fitGrade engagementScore score matrix
    createdAt accountId firstTouchChannel traits disqualified
    opportunities { id amount status } transitions { fromStage toStage eventId } }"""
METRIC_FIELDS = """leadsCreated mqls sqls opportunitiesCreated pipelineAmount dealsWon revenue
    dealsLost winRate avgDealValue leadToOpportunityRate mqlToSqlRate opportunityToCustomerRate
    spend newCustomers cac revenueFromTargetAccounts slaCompliance"""
CONFIG = """tenantConfig { version fitRules { attribute op value points }
    disqualifiers { attribute op value } gradeThresholds { a b c } windowDays
    engagementRules { eventType points maxPerWindow } mql { minFit minEngagement }
    sla { mqlResponseHours mqlDispositionHours rejectionReasons } stallDays
    attributionModels { name } }"""

READ_QUERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "lead": (f"query Q($id: ID!) {{ {LEAD} }}", {"id": "L-1"}),
    "leads": ("{ leads(first: 500) { totalCount edges { cursor node { id traits } } } }", {}),
    "pipeline": ("{ pipeline { total stages { stage count } } }", {}),
    "metrics": (
        f"query Q($from: DateTime!, $to: DateTime!) {{ metrics(from: $from, to: $to) "
        f"{{ {METRIC_FIELDS} }} }}",
        PERIOD,
    ),
    "sourceQuality": (
        "query Q($from: DateTime!, $to: DateTime!) { sourceQuality(from: $from, to: $to)"
        " { channel leads mqls opportunities customers } }",
        PERIOD,
    ),
    "attribution": (
        "query Q($from: DateTime!, $to: DateTime!) {"
        " pc: attribution(model: LINEAR, kind: PIPELINE, groupBy: CAMPAIGN, from: $from, to: $to)"
        " { key credit amount }"
        " rc: attribution(model: FIRST_TOUCH, kind: REVENUE, groupBy: CHANNEL, from: $from,"
        " to: $to) { key credit amount } }",
        PERIOD,
    ),
    "attributionComparison": (
        "query Q($from: DateTime!, $to: DateTime!) { attributionComparison(kind: PIPELINE,"
        " groupBy: CHANNEL, from: $from, to: $to) { key models { model credit amount } } }",
        PERIOD,
    ),
    "tenantConfig": (f"{{ {CONFIG} }}", {}),
}


@dataclass
class World:
    a: str
    b: str
    control: str
    keys: dict[str, str]


async def answers(platform: Platform, key: str, **kw: Any) -> dict[str, Any]:
    return {
        name: await data_of(platform, key, query, variables, **kw)
        for name, (query, variables) in READ_QUERIES.items()
    }


async def _ready(platform: Platform, tenant: str, leads: int) -> bool:
    counts = await platform.admin.fetchrow(
        "SELECT (SELECT count(*) FROM leads WHERE tenant_id = $1) AS leads,"
        " (SELECT count(*) FROM opportunities WHERE tenant_id = $1) AS opps,"
        " (SELECT count(*) FROM spend WHERE tenant_id = $1) AS spend",
        tenant,
    )
    return bool(counts["leads"] >= leads and counts["opps"] >= 1 and counts["spend"] >= 1)


@pytest.fixture(scope="module")
async def world(platform: Platform) -> World:
    a, key_a = await platform.create_tenant("iso-a")
    b, key_b = await platform.create_tenant("iso-b")
    control, key_c = await platform.create_tenant("iso-ctl")
    # B runs on its own configuration, so a leak of B's config would show in A's.
    await data_of(
        platform,
        key_b,
        'mutation { updateSlaRules(input: {mqlResponseHours: 7, rejectionReasons: ["b-only"]})'
        " { version } }",
    )
    await platform.post_events(key_b, _events_b())
    await platform.post_events(key_a, _events_a())
    await platform.post_events(key_c, _events_a())
    for tenant, leads in ((a, 2), (b, 2), (control, 2)):
        await platform.wait_for(lambda t=tenant, n=leads: _ready(platform, t, n), 90, tenant)
    keys = {"a": key_a, "b": key_b, "control": key_c}

    # The read model and the metric day rows settle shortly after the rows appear: wait
    # until A answers like the control (the test below then compares them once more).
    async def settled() -> bool:
        return await answers(platform, key_a) == await answers(platform, key_c)

    await platform.wait_for(settled, 60, "tenant A to answer like the control")
    return World(a, b, control, keys)


def _no_b_markers(value: Any) -> None:
    text = orjson.dumps(value).decode()
    for marker in B_ONLY_MARKERS:
        assert marker not in text, f"{marker!r} of tenant B in tenant A's answer: {text}"


# --------------------------------------------------------------------------- the API


async def test_reads_reflect_only_own_tenant(platform: Platform, world: World) -> None:
    mine = await answers(platform, world.keys["a"])
    control = await answers(platform, world.keys["control"])
    theirs = await answers(platform, world.keys["b"])
    assert mine == control
    # B's figures differ from A's, so the comparison above would have caught a leak.
    for name in ("lead", "leads", "metrics", "attribution", "tenantConfig"):
        assert theirs[name] != mine[name], name
    _no_b_markers(mine)

    lead = mine["lead"]["lead"]
    assert lead["id"] == "L-1"
    assert lead["traits"]["email"] == "a@a.example"
    assert [o["id"] for o in lead["opportunities"]] == ["opp-A"]
    assert {e["node"]["id"] for e in mine["leads"]["leads"]["edges"]} == {"L-1", "L-A-2"}
    assert mine["leads"]["leads"]["totalCount"] == 2
    assert mine["pipeline"]["pipeline"]["total"] == 2
    assert mine["metrics"]["metrics"]["revenue"] == 0
    assert mine["metrics"]["metrics"]["spend"] == 300
    assert mine["tenantConfig"]["tenantConfig"]["version"] == 0


async def test_other_tenants_ids_are_unknown(platform: Platform, world: World) -> None:
    key = world.keys["a"]
    query = f"query Q($id: ID!) {{ {LEAD} }}"
    assert (await data_of(platform, key, query, {"id": "L-B-only"}))["lead"] is None
    # A cursor naming B's lead id only positions the page; it returns A's leads after it.
    cursor = base64.urlsafe_b64encode(b"lead:L-B-only").decode().rstrip("=")
    page = await data_of(
        platform, key, "query Q($c: String) { leads(after: $c) { edges { node { id } } } }",
        {"c": cursor},
    )  # fmt: skip
    assert {e["node"]["id"] for e in page["leads"]["edges"]} <= {"L-1", "L-A-2"}
    # B's custom names and keys are unknown to A: same answer as for a name nobody has.
    custom = (
        "query Q($m: String!, $from: DateTime!, $to: DateTime!) { customAttribution(model: $m,"
        " kind: PIPELINE, groupBy: CAMPAIGN, from: $from, to: $to) { key credit amount } }"
    )
    for name in ("NOBODY_HAS_THIS", "B_ONLY_MODEL"):
        response = await gql(platform, key, custom, {"m": name, **PERIOD})
        _no_b_markers(response.json())


async def test_schema_has_no_tenant_argument(platform: Platform, world: World) -> None:
    schema = await data_of(
        platform,
        world.keys["a"],
        "{ __schema { types { name fields { name args { name } } inputFields { name } } } }",
    )
    offenders = []
    for type_ in schema["__schema"]["types"]:
        for field in type_["fields"] or []:
            offenders += [
                f"{type_['name']}.{field['name']}({arg['name']})"
                for arg in field["args"]
                if "tenant" in arg["name"].lower()
            ]
        offenders += [
            f"{type_['name']}.{f['name']}"
            for f in type_["inputFields"] or []
            if "tenant" in f["name"].lower()
        ]
    assert offenders == [], "the tenant comes from the credential, never from an argument"


MUTATIONS = [
    "mutation { updateIcp(input: {gradeThresholds: {a: 91, b: 71, c: 41},"
    ' fitRules: [{attribute: "country", op: "eq", value: "\\"DE\\"", points: 5}]}) { version } }',
    "mutation { updateScoringModel(input: {windowDays: 45}) { version } }",
    'mutation { updateSlaRules(input: {mqlResponseHours: 3, rejectionReasons: ["a-only"]})'
    " { version } }",
    'mutation { updateAttributionModels(input: [{name: "ISO_A_MODEL",'
    " weights: {first: 0.5, rest: 0.5}}]) { version } }",
]


# --------------------------------------------------------------------------- JWTs


def _token(claims: dict[str, Any], secret: str | None = None) -> str:
    # Issued now unless the test says otherwise (`iat` is required).
    if isinstance(claims, dict) and "tenant" in claims:
        claims = {"iat": int(time.time()), **claims}
    return encode_jwt(claims, secret or load_settings().jwt_secret)


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()


async def test_jwt_viewer_sees_own_tenant_only(platform: Platform, world: World) -> None:
    # The gateway process gets this process's environment, so both read the same secret.
    token = _token({"tenant": world.a, "role": "viewer", "exp": int(time.time()) + 600})
    mine = await answers(platform, token, bearer=True)
    assert mine == await answers(platform, world.keys["a"])
    _no_b_markers(mine)
    response = await gql(platform, token, MUTATIONS[1], bearer=True)
    assert response.status_code == 200
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["FORBIDDEN"]


async def test_bad_jwts_are_refused(platform: Platform, world: World) -> None:
    later = int(time.time()) + 600
    good = {"tenant": world.a, "role": "admin", "exp": later}
    signed = _token(good)
    head, payload, _ = signed.split(".")
    forged_for_b = _token({"tenant": world.b, "role": "admin", "exp": later}, "not-the-secret")
    cases = {
        "bad signature": _token(good, "not-the-secret"),
        "b's tenant, bad signature": forged_for_b,
        "tampered claims": f"{head}.{_b64({**good, 'tenant': world.b})}.{signed.split('.')[2]}",
        "expired": _token({**good, "exp": int(time.time()) - 60}),
        "no exp": _token({"tenant": world.a, "role": "admin"}),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg none, signature kept": f"{_b64({'alg': 'none'})}.{payload}.{signed.split('.')[2]}",
        "unknown role": _token({**good, "role": "superuser"}),
        "no tenant": _token({"role": "admin", "exp": later}),
        "tenant not a string": _token({**good, "tenant": [world.a]}),
        "header not an object": f"{_b64([])}.{payload}.{signed.split('.')[2]}",
        "claims not an object": _token([good]),  # type: ignore[arg-type]
    }
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        for what, token in cases.items():
            headers = {"Authorization": f"Bearer {token}"}
            response = await client.post(
                "/graphql", json={"query": "{ pipeline { total } }"}, headers=headers
            )
            assert response.status_code == 401, (what, response.text)
            assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            response = await client.post("/v1/events", content=b"[]", headers=headers)
            assert response.status_code == 401, (what, response.text)


# --------------------------------------------------------------------------- PostgreSQL


async def _tenant_relations(platform: Platform) -> dict[str, str]:
    """Every table and view of the application schema with a tenant_id column, by kind."""
    rows = await platform.admin.fetch(
        "SELECT c.table_name, t.table_type FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.column_name = 'tenant_id' AND c.table_schema = current_schema()"
    )
    return {r["table_name"]: r["table_type"] for r in rows}


async def _visible(conn: asyncpg.Connection, sql: str, tenant: str | None) -> int | None:
    """Rows the application role sees, or None when it may not read the relation at all."""
    try:
        async with conn.transaction():
            if tenant is not None:
                await conn.execute("SELECT set_config('tandem.tenant_id', $1, true)", tenant)
            return int(await conn.fetchval(sql))
    except asyncpg.InsufficientPrivilegeError:
        return None


async def test_rls_hides_other_tenants_rows(platform: Platform, world: World) -> None:
    relations = await _tenant_relations(platform)
    assert {"leads", "events", "opportunities", "spend"} <= set(relations)
    b_rows = {
        name: await platform.admin.fetchval(
            f'SELECT count(*) FROM "{name}" WHERE tenant_id = $1', world.b
        )
        for name in relations
    }
    assert sum(b_rows.values()) > 0, "tenant B has rows to hide"
    conn = await asyncpg.connect(platform.database_url)
    try:
        for name in relations:
            others = f"SELECT count(*) FROM \"{name}\" WHERE tenant_id <> '{world.a}'"
            assert await _visible(conn, others, world.a) in (0, None), name
            b_only = f"SELECT count(*) FROM \"{name}\" WHERE tenant_id = '{world.b}'"
            assert await _visible(conn, b_only, world.a) in (0, None), name
            everything = f'SELECT count(*) FROM "{name}"'
            assert await _visible(conn, everything, None) in (0, None), name
            # Setting the tenant is per transaction: the next one starts with none again.
            assert await _visible(conn, everything, None) in (0, None), name
        # ...and A does see its own rows through the same role.
        assert await _visible(conn, 'SELECT count(*) FROM "leads"', world.a) == 2
    finally:
        await conn.close()


async def test_rls_enabled_and_forced(platform: Platform, world: World) -> None:
    relations = await _tenant_relations(platform)
    tables = [name for name, kind in relations.items() if kind == "BASE TABLE"]
    rows = await platform.admin.fetch(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
        " WHERE oid = ANY(SELECT to_regclass(quote_ident(n)) FROM unnest($1::text[]) AS n)",
        tables,
    )
    assert {r["relname"] for r in rows} == set(tables)
    weak = [r["relname"] for r in rows if not (r["relrowsecurity"] and r["relforcerowsecurity"])]
    assert weak == [], f"row-level security not enabled and forced on {weak}"
    conn = await asyncpg.connect(platform.database_url)
    try:
        role = await conn.fetchrow(
            "SELECT rolname, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = current_user"
        )
    finally:
        await conn.close()
    assert role["rolbypassrls"] is False, role
    assert role["rolsuper"] is False, role


# Last: it changes A's configuration, after which A no longer answers like the control.
async def test_mutations_change_only_own_tenant(platform: Platform, world: World) -> None:
    config_query = READ_QUERIES["tenantConfig"][0]
    before_b = await data_of(platform, world.keys["b"], config_query)
    before_a = await data_of(platform, world.keys["a"], config_query)
    for mutation in MUTATIONS:
        await data_of(platform, world.keys["a"], mutation)
        assert await data_of(platform, world.keys["b"], config_query) == before_b, mutation
    after_a = (await data_of(platform, world.keys["a"], config_query))["tenantConfig"]
    assert after_a["version"] == before_a["tenantConfig"]["version"] + len(MUTATIONS)
    assert after_a["gradeThresholds"] == {"a": 91, "b": 71, "c": 41}
    assert after_a["sla"]["rejectionReasons"] == ["a-only"]
    assert [m["name"] for m in after_a["attributionModels"]] == ["ISO_A_MODEL"]
    # The version rows themselves: B has exactly the one it wrote in the fixture.
    rows = await platform.admin.fetch(
        "SELECT tenant_id, count(*) AS n FROM tenant_config_versions"
        " WHERE tenant_id = ANY($1::text[]) GROUP BY tenant_id",
        [world.a, world.b],
    )
    assert {r["tenant_id"]: r["n"] for r in rows}[world.b] == 1


async def test_functions_running_as_their_owner_search_pg_temp_last(platform: Platform) -> None:
    """A SECURITY DEFINER function must never resolve a name to a caller's temporary
    object: its search_path is pg_catalog, public, and pg_temp last."""
    rows = await platform.admin.fetch(
        "SELECT p.proname, p.proconfig FROM pg_proc p"
        " WHERE p.prosecdef AND p.pronamespace = 'public'::regnamespace"
    )
    assert rows
    for row in rows:
        assert "search_path=pg_catalog, public, pg_temp" in (row["proconfig"] or []), dict(row)


async def test_a_deleted_tenants_token_stays_refused_when_its_slug_returns(
    platform: Platform,
) -> None:
    from services.admin.privacy import delete_tenant
    from services.admin.tenants import create_tenant

    tenant, _ = await platform.create_tenant("reborn")
    old = _token({"tenant": tenant, "role": "admin", "exp": int(time.time()) + 600})
    assert (await gql(platform, old, "{ viewer { tenant } }", bearer=True)).status_code == 200
    await delete_tenant(platform.database_url, tenant, confirmed=True)

    async def refused() -> bool:
        response = await gql(platform, old, "{ viewer { tenant } }", bearer=True)
        return response.status_code == 401

    await platform.wait_for(refused, 30, "the deleted tenant's token to be refused")
    # the slug is taken again by someone else: the old token is still not theirs
    await asyncio.sleep(1.1)  # `iat` is in whole seconds: the new tenant is strictly newer
    await create_tenant(platform.admin_url, tenant)
    fresh = _token({"tenant": tenant, "role": "admin", "exp": int(time.time()) + 600})

    async def fresh_works() -> bool:
        response = await gql(platform, fresh, "{ viewer { tenant } }", bearer=True)
        return response.status_code == 200

    await platform.wait_for(fresh_works, 30, "a token of the new tenant")
    response = await gql(platform, old, "{ viewer { tenant } }", bearer=True)
    assert response.status_code == 401
    assert "before its tenant was created" in response.text
