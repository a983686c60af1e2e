"""The worked example through the real gateway, Kafka, worker and PostgreSQL."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest

from tests.integration.conftest import Platform
from tests.worked_example import expected_leads, load, sample_events

LEAD_EVENTS = sum(1 for e in sample_events() if e["type"] != "campaign_spend")
MILESTONES = ("createdAt", "engagedAt", "mqlAt", "sqlAt", "opportunityAt", "customerAt")
SCALARS = {
    "stage": "stage",
    "highestStage": "highest_stage",
    "fitScore": "fit_score",
    "fitGrade": "fit_grade",
    "disqualified": "disqualified",
    "engagementScore": "engagement_score",
    "score": "score",
}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def assert_leads_match(rows: dict[str, Any], want: dict[str, dict[str, Any]]) -> None:
    assert sorted(rows) == sorted(want)
    problems = []
    for lead_id, exp in want.items():
        row = rows[lead_id]
        for name, column in SCALARS.items():
            if name in exp and row[column] != exp[name]:
                problems.append(f"{lead_id}.{name}: {row[column]!r} != {exp[name]!r}")
        for name in MILESTONES:
            column = "".join("_" + c.lower() if c.isupper() else c for c in name)
            if name in exp and _iso(row[column]) != exp[name]:
                problems.append(f"{lead_id}.{name}: {_iso(row[column])} != {exp[name]}")
    assert not problems, "\n".join(problems)


async def attribution_tables(platform: Platform, tenant: str) -> dict[str, list[dict[str, Any]]]:
    rows = await platform.admin.fetch(
        """
        SELECT model, kind, coalesce(channel, '(none)') AS key,
               sum(fraction) AS credit, sum(amount) AS amount
        FROM attribution_credits WHERE tenant_id = $1
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        """,
        tenant,
    )
    tables: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        key = r["key"] if r["key"] is not None else "(unattributed)"
        tables.setdefault(f"{r['model']}/{r['kind']}/CHANNEL", []).append(
            {"key": key, "credit": r["credit"], "amount": r["amount"]}
        )
    return tables


@pytest.fixture(scope="module")
async def example_tenant(platform: Platform) -> str:
    tenant, key = await platform.create_tenant("example")
    await platform.post_events(key, sample_events())
    await platform.wait_events(tenant, LEAD_EVENTS)
    return tenant


async def test_sample_events_give_the_expected_lead_states(
    platform: Platform, example_tenant: str
) -> None:
    assert_leads_match(await platform.leads(example_tenant), expected_leads())


async def test_sample_events_give_every_expected_attribution_table(
    platform: Platform, example_tenant: str
) -> None:
    got = await attribution_tables(platform, example_tenant)
    want = load("expected.json")["attribution"]
    assert sorted(got) == sorted(want)
    for table, rows in want.items():
        assert [r["key"] for r in got[table]] == [r["key"] for r in rows], table
        for g, w in zip(got[table], rows, strict=True):
            assert g["credit"] == pytest.approx(w["credit"], abs=1e-4), (table, w["key"])
            assert g["amount"] == pytest.approx(w["amount"], abs=0.01), (table, w["key"])


async def test_spend_is_recorded_once(platform: Platform, example_tenant: str) -> None:
    total = await platform.admin.fetchval(
        "SELECT sum(amount) FROM spend WHERE tenant_id = $1", example_tenant
    )
    assert float(total) == sum(
        e["properties"]["amount"] for e in sample_events() if e["type"] == "campaign_spend"
    )


async def test_shuffled_duplicated_and_late_anonymous_events_give_the_same_states(
    platform: Platform,
) -> None:
    tenant, key = await platform.create_tenant("shuffled")
    events = sample_events()
    rng = random.Random(7)
    anonymous = [e for e in events if "lead_id" not in e and "anonymous_id" in e]
    rest = [e for e in events if e not in anonymous]
    rng.shuffle(rest)
    duplicates = rng.sample(events, len(events) // 10)
    # Anonymous touches arrive only after the identify that links them.
    stream = rest + duplicates + anonymous
    await platform.post_events(key, stream, batch=37)
    await platform.wait_events(tenant, LEAD_EVENTS)
    assert_leads_match(await platform.leads(tenant), expected_leads())
    got = await attribution_tables(platform, tenant)
    for table, rows in load("expected.json")["attribution"].items():
        for g, w in zip(got[table], rows, strict=True):
            assert g["amount"] == pytest.approx(w["amount"], abs=0.01), (table, w["key"])
