"""The GraphQL API end to end: events through the real gateway, Kafka and worker, then read
back through /graphql of the gateway process (clock pinned at the worked example's now)."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from services.workers.compaction import compact
from shared.db import create_pool, tenant_tx
from shared.domain.metrics import Metrics
from shared.metrics_store import period_metrics
from tests.integration.conftest import EXAMPLE_NOW, Platform
from tests.integration.test_admin_cli import demo_request
from tests.worked_example import expected_leads, expected_metrics, load, sample_events

PERIOD = load("expected.json")["period"]
SPEND_EVENTS = sum(1 for e in sample_events() if e["type"] == "campaign_spend")
LEAD_EVENTS = sum(1 for e in sample_events() if e["type"] != "campaign_spend")
METRIC_NAMES = tuple(expected_metrics())
REFERENCE_FIELDS = (
    "leadsCreated", "mqls", "sqls", "newCustomers", "leadToOpportunityRate", "mqlToSqlRate",
    "slaCompliance", "opportunitiesCreated", "pipelineAmount", "opportunityToCustomerRate",
    "dealsWon", "dealsLost", "revenue", "revenueFromTargetAccounts", "salesCycleDaysMedian",
)  # fmt: skip

LEAD_FIELDS = """
    id stage highestStage fitScore fitGrade disqualified engagementScore score matrix
    createdAt engagedAt mqlAt sqlAt opportunityAt customerAt accountId firstTouchChannel
    fitEvidence engagementEvidence
    transitions { fromStage toStage at eventId reason }
    opportunities { id amount status createdAt closedAt stage }
"""


async def post_graphql(
    url: str,
    credential: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    bearer: bool = False,
) -> httpx.Response:
    """POSTs the operation to the gateway at `url` with an API key (or, with `bearer`, a
    token in the Authorization header; None: no credential at all)."""
    headers = {}
    if credential is not None:
        headers = {"Authorization": f"Bearer {credential}"} if bearer else {"X-API-Key": credential}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )


async def gql(
    platform: Platform,
    credential: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    bearer: bool = False,
) -> httpx.Response:
    return await post_graphql(platform.gateway_url, credential, query, variables, bearer=bearer)


async def data_of(
    platform: Platform,
    credential: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    bearer: bool = False,
) -> dict[str, Any]:
    response = await gql(platform, credential, query, variables, bearer=bearer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return dict(body["data"])


async def errors_of(
    platform: Platform, key: str | None, query: str, variables: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    response = await gql(platform, key, query, variables)
    body = response.json()
    assert body.get("errors"), f"expected errors, got {body}"
    return list(body["errors"])


def codes(errors: list[dict[str, Any]]) -> set[str]:
    return {e.get("extensions", {}).get("code") for e in errors}


@pytest.fixture(scope="module")
async def example(platform: Platform) -> dict[str, str]:
    """A tenant holding the worked example; its admin and viewer keys."""
    tenant, admin = await platform.create_tenant("gql")
    await platform.post_events(admin, sample_events())
    await platform.wait_events(tenant, LEAD_EVENTS)

    async def spend_projected() -> bool:
        n = await platform.admin.fetchval("SELECT count(*) FROM spend WHERE tenant_id = $1", tenant)
        return bool(n >= SPEND_EVENTS)

    await platform.wait_for(spend_projected, 60, "the campaign spend of the example")
    viewer = await platform.api_key(tenant, "viewer")
    return {"tenant": tenant, "admin": admin, "viewer": viewer}


async def test_metrics_of_the_example_period_are_the_expected_ones(
    platform: Platform, example: dict[str, str]
) -> None:
    query = f"""query($from: DateTime!, $to: DateTime!) {{
        metrics(from: $from, to: $to) {{ {" ".join(METRIC_NAMES)} }}
    }}"""
    got = (await data_of(platform, example["viewer"], query, PERIOD))["metrics"]
    problems = []
    for name, want in expected_metrics().items():
        value = got[name]
        if want is None or value is None:
            ok = want is value
        else:
            ok = math.isclose(value, want, rel_tol=1e-4, abs_tol=1e-9)
        if not ok:
            problems.append(f"{name}: got {value!r}, expected {want!r}")
    assert not problems, "\n".join(problems)


# SPEC 6 and 7 read straight off the leads and opportunities, as the reference for the hour
# counts the API sums (migrations 0054 and 0055): $1 tenant, $2 from, $3 to, $4 now, $5 SLA
# response hours.
REFERENCE_SQL = """
SELECT
    (SELECT count(*) FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3)
        AS "leadsCreated",
    (SELECT count(*) FROM leads WHERE tenant_id = $1 AND mql_at >= $2 AND mql_at < $3)
        AS mqls,
    (SELECT count(*) FROM leads WHERE tenant_id = $1 AND sql_at >= $2 AND sql_at < $3)
        AS sqls,
    (SELECT count(*) FROM leads WHERE tenant_id = $1 AND customer_at >= $2 AND customer_at < $3)
        AS "newCustomers",
    (SELECT count(opportunity_at)::float8 / nullif(count(*), 0) FROM leads
     WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3) AS "leadToOpportunityRate",
    (SELECT count(sql_at)::float8 / nullif(count(*), 0) FROM leads
     WHERE tenant_id = $1 AND mql_at >= $2 AND mql_at < $3) AS "mqlToSqlRate",
    (SELECT within::float8 / nullif(within + breached, 0) FROM (
        SELECT count(*) FILTER (WHERE sla_response_at <= mql_at + limit_) AS within,
               count(*) FILTER (WHERE sla_response_at > mql_at + limit_
                                   OR (sla_response_at IS NULL AND mql_at + limit_ < $4))
                   AS breached
        FROM leads, (SELECT make_interval(secs => 3600 * $5::float8) AS limit_) l
        WHERE tenant_id = $1 AND mql_at >= $2 AND mql_at < $3) s) AS "slaCompliance",
    (SELECT count(*) FROM opportunities
     WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3) AS "opportunitiesCreated",
    (SELECT coalesce(sum(amount), 0)::float8 FROM opportunities
     WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3) AS "pipelineAmount",
    (SELECT (count(*) FILTER (WHERE status = 'WON'))::float8 / nullif(count(*), 0)
     FROM opportunities WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3)
        AS "opportunityToCustomerRate",
    (SELECT count(*) FROM opportunities WHERE tenant_id = $1 AND status = 'WON'
     AND closed_at >= $2 AND closed_at < $3) AS "dealsWon",
    (SELECT count(*) FROM opportunities WHERE tenant_id = $1 AND status = 'LOST'
     AND closed_at >= $2 AND closed_at < $3) AS "dealsLost",
    (SELECT coalesce(sum(won_amount), 0)::float8 FROM opportunities WHERE tenant_id = $1
     AND status = 'WON' AND closed_at >= $2 AND closed_at < $3) AS revenue,
    (SELECT coalesce(sum(won_amount), 0)::float8 FROM opportunities WHERE tenant_id = $1
     AND status = 'WON' AND fit_grade_at_win = 'A' AND closed_at >= $2 AND closed_at < $3)
        AS "revenueFromTargetAccounts",
    (SELECT percentile_cont(0.5) WITHIN GROUP (
         ORDER BY extract(epoch FROM closed_at - created_at)::float8 / 86400)
     FROM opportunities WHERE tenant_id = $1 AND status = 'WON'
     AND closed_at >= $2 AND closed_at < $3) AS "salesCycleDaysMedian"
"""


async def reference_metrics(
    platform: Platform, tenant: str, start: datetime, end: datetime, sla_hours: float = 24
) -> dict[str, Any]:
    row = await platform.admin.fetchrow(
        REFERENCE_SQL, tenant, start, end, datetime.fromisoformat(EXAMPLE_NOW), sla_hours
    )
    return dict(row)


def assert_close(got: dict[str, Any], want: dict[str, Any], context: str) -> None:
    for name, value in want.items():
        if value is None or got[name] is None:
            assert got[name] == value, f"{context}: {name} {got[name]!r} != {value!r}"
        else:
            assert got[name] == pytest.approx(value, rel=1e-9), f"{context}: {name}"


async def test_metrics_of_any_period_match_the_leads_they_count(
    platform: Platform, example: dict[str, str]
) -> None:
    rng = random.Random(7)
    names = " ".join(REFERENCE_FIELDS)
    query = (
        f"query($from: DateTime!, $to: DateTime!) {{ metrics(from: $from, to: $to) {{ {names} }} }}"
    )
    origin = datetime(2026, 9, 15, tzinfo=UTC)
    for _ in range(25):
        start = origin + timedelta(minutes=rng.randint(0, 70 * 24 * 60))
        end = start + timedelta(minutes=rng.choice([90, 26 * 60, rng.randint(1, 60 * 24 * 60)]))
        variables = {"from": start.isoformat(), "to": end.isoformat()}
        got = (await data_of(platform, example["viewer"], query, variables))["metrics"]
        want = await reference_metrics(platform, example["tenant"], start, end)
        assert_close(got, want, f"[{start}, {end})")


# Every counted column of the two hour tables, as their triggers write them.
_COUNTS = {
    "lead_metric_hours": (
        "leads_created", "created_with_opportunity", "mqls", "mqls_with_sql", "sla_within",
        "sla_late", "sla_unanswered", "sqls", "new_customers",
    ),
    "opportunity_metric_hours": (
        "opportunities_created", "pipeline_amount", "opportunities_created_won", "deals_won",
        "deals_lost", "revenue", "revenue_from_target_accounts",
    ),
}  # fmt: skip


async def test_merging_the_hour_rows_changes_no_metric(
    platform: Platform, example: dict[str, str]
) -> None:
    tenant = example["tenant"]
    start, end = (datetime.fromisoformat(PERIOD[k].replace("Z", "+00:00")) for k in ("from", "to"))
    now = datetime.fromisoformat(EXAMPLE_NOW)
    pool = await create_pool(platform.database_url, max_size=1)

    async def metrics() -> Metrics:
        # Straight from the database: the gateway's answer cache does not see rows written
        # here, and would answer the second query with the first one's answer.
        async with tenant_tx(pool, tenant) as conn:
            return await period_metrics(conn, tenant, start, end, now)

    try:
        before = await metrics()
        assert before.leads_created and before.deals_won
        # The example's milestones and deals fall in different hours, so each hour may have
        # one row: give every hour two more, a copy and its negation, which is what a
        # milestone moving away and back leaves behind.
        for table, columns in _COUNTS.items():
            listed = ", ".join(columns)
            negated = ", ".join(f"-{c}" for c in columns)
            await platform.admin.execute(
                f"INSERT INTO {table} (tenant_id, hour, {listed})"
                f" SELECT tenant_id, hour, {listed} FROM {table} WHERE tenant_id = $1"
                f" UNION ALL SELECT tenant_id, hour, {negated} FROM {table} WHERE tenant_id = $1",
                tenant,
            )
        await platform.wait_for(
            lambda: _merged(platform, pool, tenant), 30, "a merge of the metric hour rows"
        )
        assert await metrics() == before
    finally:
        await pool.close()


async def _merged(platform: Platform, pool: asyncpg.Pool, tenant: str) -> bool:
    # A worker's merge may hold a table's lock for a moment, or have merged first; then this
    # one tries again until every hour of the tenant has one row in both tables.
    await compact(pool, slack=0)
    for table in _COUNTS:
        rows = await platform.admin.fetch(
            f"SELECT count(*) AS n FROM {table} WHERE tenant_id = $1 GROUP BY hour", tenant
        )
        assert rows, f"{table} counts nothing of the example"
        if any(r["n"] > 1 for r in rows):
            return False
    return True


async def test_metrics_follow_a_change_of_the_sla_limit(platform: Platform) -> None:
    tenant, admin = await platform.create_tenant("gql-sla")
    await platform.post_events(admin, sample_events())
    await platform.wait_events(tenant, LEAD_EVENTS)
    start, end = (datetime.fromisoformat(PERIOD[k].replace("Z", "+00:00")) for k in ("from", "to"))
    query = """query($from: DateTime!, $to: DateTime!) { metrics(from: $from, to: $to) {
        slaCompliance mqls } }"""
    mutation = """mutation($hours: Float!) {
        updateSlaRules(input: {mqlResponseHours: $hours}) { sla { mqlResponseHours } } }"""
    for hours in (2.0, 24.0, 100.0):
        await data_of(platform, admin, mutation, {"hours": hours})
        got = (await data_of(platform, admin, query, PERIOD))["metrics"]
        want = await reference_metrics(platform, tenant, start, end, hours)
        assert got["mqls"] == want["mqls"]
        assert got["slaCompliance"] == pytest.approx(want["slaCompliance"]), hours


async def test_every_attribution_table_of_the_example(
    platform: Platform, example: dict[str, str]
) -> None:
    tables = load("expected.json")["attribution"]
    fields = []
    for i, name in enumerate(sorted(tables)):
        model, kind, group = name.split("/")
        fields.append(
            f"t{i}: attribution(model: {model}, kind: {kind}, groupBy: {group},"
            " from: $from, to: $to) { key credit amount }"
        )
    query = f"query($from: DateTime!, $to: DateTime!) {{ {' '.join(fields)} }}"
    data = await data_of(platform, example["viewer"], query, PERIOD)
    problems = []
    for i, name in enumerate(sorted(tables)):
        got = {row["key"]: row for row in data[f"t{i}"]}
        want = {row["key"]: row for row in tables[name]}
        if sorted(got) != sorted(want):
            problems.append(f"{name}: keys {sorted(got)} != {sorted(want)}")
            continue
        for key, row in want.items():
            if not math.isclose(got[key]["credit"], row["credit"], rel_tol=1e-4, abs_tol=1e-6):
                problems.append(f"{name} {key}: credit {got[key]['credit']} != {row['credit']}")
            if abs(got[key]["amount"] - row["amount"]) > 0.01:
                problems.append(f"{name} {key}: amount {got[key]['amount']} != {row['amount']}")
    assert not problems, "\n".join(problems)


async def test_attribution_comparison_matches_the_tables_per_model(
    platform: Platform, example: dict[str, str]
) -> None:
    # The example's tables cover the seven rule-based models; DATA_DRIVEN is fitted per tenant,
    # so its column must equal its own table read in the same request.
    query = """query($from: DateTime!, $to: DateTime!) {
        attributionComparison(kind: REVENUE, groupBy: CHANNEL, from: $from, to: $to) {
            key models { model credit amount }
        }
        dataDriven: attribution(model: DATA_DRIVEN, kind: REVENUE, groupBy: CHANNEL,
            from: $from, to: $to) { key credit amount }
    }"""
    data = await data_of(platform, example["viewer"], query, PERIOD)
    rows = data["attributionComparison"]
    tables = dict(load("expected.json")["attribution"])
    tables["DATA_DRIVEN/REVENUE/CHANNEL"] = data["dataDriven"]
    assert {cell["model"] for row in rows for cell in row["models"]} >= {"DATA_DRIVEN", "LINEAR"}
    for row in rows:
        for cell in row["models"]:
            want = {r["key"]: r for r in tables[f"{cell['model']}/REVENUE/CHANNEL"]}
            exp = want.get(row["key"], {"credit": 0.0, "amount": 0.0})
            assert math.isclose(cell["credit"], exp["credit"], rel_tol=1e-4, abs_tol=1e-6)
            assert abs(cell["amount"] - exp["amount"]) <= 0.01


async def test_a_lead_reads_as_the_example_expects(
    platform: Platform, example: dict[str, str]
) -> None:
    want = expected_leads()
    lead_id = next(i for i, lead in sorted(want.items()) if lead["customerAt"])
    query = f"query($id: ID!) {{ lead(id: $id) {{ {LEAD_FIELDS} }} }}"
    lead = (await data_of(platform, example["viewer"], query, {"id": lead_id}))["lead"]
    for name, value in want[lead_id].items():
        assert lead[name] == value, f"{name}: {lead[name]!r} != {value!r}"
    assert lead["transitions"][0]["fromStage"] is None
    assert lead["transitions"][-1]["toStage"] == "CUSTOMER"
    assert any(o["status"] == "WON" for o in lead["opportunities"])


async def test_leads_page_through_every_lead_once(
    platform: Platform, example: dict[str, str]
) -> None:
    query = """query($after: String) {
        leads(first: 15, after: $after) {
            totalCount
            edges { cursor node { id stage opportunities { id lead { id } } } }
            pageInfo { hasNextPage endCursor }
        }
    }"""
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = (await data_of(platform, example["viewer"], query, {"after": after}))["leads"]
        pages += 1
        assert page["totalCount"] == len(expected_leads())
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        for edge in page["edges"]:
            for opportunity in edge["node"]["opportunities"]:
                assert opportunity["lead"]["id"] == edge["node"]["id"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == sorted(expected_leads())


async def test_leads_filter_by_stage_and_grade_and_pipeline_counts_stages(
    platform: Platform, example: dict[str, str]
) -> None:
    want = expected_leads()
    per_stage: dict[str, int] = {}
    for lead in want.values():
        per_stage[lead["stage"]] = per_stage.get(lead["stage"], 0) + 1
    data = await data_of(
        platform,
        example["viewer"],
        """{
            customers: leads(stage: CUSTOMER, first: 500) { totalCount edges { node { stage } } }
            gradeD: leads(fitGrade: D) { totalCount }
            pipeline { total stages { stage count } }
        }""",
    )
    assert data["customers"]["totalCount"] == per_stage.get("CUSTOMER", 0)
    assert {e["node"]["stage"] for e in data["customers"]["edges"]} == {"CUSTOMER"}
    grades = [lead["fitGrade"] for lead in want.values()]
    assert data["gradeD"]["totalCount"] == grades.count("D")
    counts = {s["stage"]: s["count"] for s in data["pipeline"]["stages"]}
    assert len(counts) == 9
    assert {k: v for k, v in counts.items() if v} == per_stage
    assert data["pipeline"]["total"] == len(want)


async def test_source_quality_accounts_for_every_lead_of_the_period(
    platform: Platform, example: dict[str, str]
) -> None:
    query = """query($from: DateTime!, $to: DateTime!) {
        sourceQuality(from: $from, to: $to) {
            channel leads mqls opportunities customers revenue mqlRate opportunityRate
            avgFitScore
        }
    }"""
    rows = (await data_of(platform, example["viewer"], query, PERIOD))["sourceQuality"]
    metrics = expected_metrics()
    assert sum(r["leads"] for r in rows) == metrics["leadsCreated"]
    assert sum(r["customers"] for r in rows) == metrics["newCustomers"]
    assert sum(r["revenue"] for r in rows) == pytest.approx(metrics["revenue"])
    for row in rows:
        assert row["mqlRate"] == pytest.approx(row["mqls"] / row["leads"])


async def test_tenants_see_only_their_own_lead_of_the_same_id(platform: Platform) -> None:
    first, first_key = await platform.create_tenant("gql-a")
    second, second_key = await platform.create_tenant("gql-b")
    only_first = f"only-{uuid.uuid4().hex[:6]}"

    def touch(lead_id: str, account: str, n: int) -> dict[str, Any]:
        return {
            "event_id": f"{lead_id}-{account}-{n}",
            "type": "page_view",
            "occurred_at": "2026-11-01T10:00:00Z",
            "lead_id": lead_id,
            "account_id": account,
            "channel": "direct",
        }

    await platform.post_events(first_key, [touch("L-1", "acct-a", 1), touch(only_first, "a", 2)])
    await platform.post_events(second_key, [touch("L-1", "acct-b", 1)])
    await platform.wait_events(first, 2)
    await platform.wait_events(second, 1)

    query = "query($id: ID!) { lead(id: $id) { id accountId } }"
    mine = await data_of(platform, first_key, query, {"id": "L-1"})
    theirs = await data_of(platform, second_key, query, {"id": "L-1"})
    assert mine["lead"] == {"id": "L-1", "accountId": "acct-a"}
    assert theirs["lead"] == {"id": "L-1", "accountId": "acct-b"}
    guessed = await data_of(platform, second_key, query, {"id": only_first})
    missing = await data_of(platform, second_key, query, {"id": "never-existed"})
    assert guessed == missing == {"lead": None}
    listed = await data_of(platform, second_key, "{ leads { totalCount edges { node { id } } } }")
    assert listed["leads"]["totalCount"] == 1
    assert [e["node"]["id"] for e in listed["leads"]["edges"]] == ["L-1"]


async def test_config_mutations_need_admin_and_report_bad_fields(platform: Platform) -> None:
    tenant, admin = await platform.create_tenant("gql-cfg")
    viewer = await platform.api_key(tenant, "viewer")
    mutation = """mutation($input: SlaRulesInput!) {
        updateSlaRules(input: $input) { version updatedBy sla { mqlResponseHours } }
    }"""
    refused = await errors_of(platform, viewer, mutation, {"input": {"mqlResponseHours": 8}})
    assert codes(refused) == {"FORBIDDEN"}
    config = await data_of(platform, viewer, "{ tenantConfig { version windowDays } }")
    assert config["tenantConfig"] == {"version": 0, "windowDays": 90}

    done = await data_of(platform, admin, mutation, {"input": {"mqlResponseHours": 8}})
    assert done["updateSlaRules"]["version"] == 1
    assert done["updateSlaRules"]["sla"]["mqlResponseHours"] == 8
    assert done["updateSlaRules"]["updatedBy"].startswith("key:")

    icp = """mutation($input: IcpInput!) { updateIcp(input: $input) { version } }"""
    bad = {
        "fitRules": [{"attribute": "country", "op": "sounds_like", "value": "US", "points": 5}],
        "gradeThresholds": {"a": 40, "b": 60},
    }
    errors = await errors_of(platform, admin, icp, {"input": bad})
    assert codes(errors) == {"BAD_USER_INPUT"}
    paths = {f["path"] for f in errors[0]["extensions"]["fields"]}
    assert paths == {"fitRules[0].op", "gradeThresholds.b"}

    good = {
        "fitRules": [{"attribute": "company_size", "op": "GTE", "value": 500, "points": 45}],
        "disqualifiers": [{"attribute": "seniority", "op": "eq", "value": "entry"}],
    }
    updated = await data_of(
        platform,
        admin,
        """mutation($input: IcpInput!) {
            updateIcp(input: $input) { version fitRules { attribute op value points } }
        }""",
        {"input": good},
    )
    assert updated["updateIcp"] == {
        "version": 2,
        "fitRules": [{"attribute": "company_size", "op": "gte", "value": 500, "points": 45}],
    }


async def test_credentials_and_roles_are_enforced(platform: Platform) -> None:
    tenant, _ = await platform.create_tenant("gql-auth")
    ingest = await platform.api_key(tenant, "ingest")
    response = await gql(platform, None, "{ pipeline { total } }")
    assert response.status_code == 401
    assert codes(response.json()["errors"]) == {"UNAUTHENTICATED"}
    response = await gql(platform, "tdm_nothere_forged", "{ pipeline { total } }")
    assert response.status_code == 401
    assert codes(await errors_of(platform, ingest, "{ pipeline { total } }")) == {"FORBIDDEN"}


async def test_an_oversized_body_is_refused_before_it_is_parsed(platform: Platform) -> None:
    _, key = await platform.create_tenant("gql-body")
    padding = "#" * (300 * 1024)
    response = await gql(platform, key, f"{{ pipeline {{ total }} }}\n{padding}")
    assert response.status_code == 413
    assert codes(response.json()["errors"]) == {"BAD_USER_INPUT"}


async def test_a_websocket_without_a_valid_credential_is_closed(platform: Platform) -> None:
    url = platform.gateway_url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"apiKey": "tdm_forged_key"}}
        await ws.send(orjson.dumps(init).decode())
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_limits_refuse_deep_queries_large_pages_and_many_aliases(
    platform: Platform, example: dict[str, str]
) -> None:
    key = example["viewer"]
    deep = (
        '{ lead(id: "x") { opportunities { lead { opportunities { lead { opportunities {'
        " lead { opportunities { lead { opportunities { lead { id } } } } } } } } } } } }"
    )
    errors = await errors_of(platform, key, deep)
    assert codes(errors) == {"BAD_USER_INPUT"}
    assert "exceeds maximum operation depth of 10" in errors[0]["message"]

    errors = await errors_of(platform, key, "{ leads(first: 501) { totalCount } }")
    assert codes(errors) == {"BAD_USER_INPUT"}
    assert "between 0 and 500" in errors[0]["message"]

    aliases = " ".join(f"p{i}: pipeline {{ total }}" for i in range(16))
    errors = await errors_of(platform, key, f"{{ {aliases} }}")
    assert codes(errors) == {"BAD_USER_INPUT"}
    assert "aliases" in errors[0]["message"]


async def test_graphiql_answers_a_browser_without_credential(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway_url) as client:
        response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def _next_change(ws: ClientConnection, timeout: float) -> dict[str, Any]:
    while True:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] == "next":
            assert not message["payload"].get("errors"), message
            return dict(message["payload"]["data"]["leadChanges"])
        assert message["type"] in ("ping", "pong", "ka"), message


async def test_a_subscription_sees_its_tenants_stage_changes_within_a_second(
    platform: Platform,
) -> None:
    _, key = await platform.create_tenant("gql-live")
    other, other_key = await platform.create_tenant("gql-quiet")
    url = platform.gateway_url.replace("http://", "ws://") + "/graphql"

    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            orjson.dumps({"type": "connection_init", "payload": {"apiKey": key}}).decode()
        )
        ack = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack"
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {
                "query": "subscription { leadChanges { leadId previousStage stage score at } }"
            },
        }
        await ws.send(orjson.dumps(subscribe).decode())
        # The first change proves the subscription is live; the second one is timed.
        await platform.post_events(key, [demo_request("warm-up")])
        assert (await _next_change(ws, 30))["leadId"] == "warm-up"

        await platform.post_events(other_key, [demo_request("other-tenant")])
        started = time.monotonic()
        await platform.post_events(key, [demo_request("timed")])
        change = await _next_change(ws, 5)
        elapsed = time.monotonic() - started
        assert change["leadId"] == "timed", change
        assert change["previousStage"] is None and change["stage"] == "MQL"
        assert elapsed < 1.0, f"the change arrived {elapsed:.2f}s after ingestion"
        await platform.wait_events(other, 1)
        with pytest.raises(TimeoutError):
            await _next_change(ws, 1.0)
