"""SPEC 17 through GraphQL: an admin refits the data-driven model of a tenant fed generated
journeys; the chain is the one the pure rules give over those journeys' paths, its
normalised removal effects agree with ChannelAttribution's, and `attribution` and
`attributionComparison` credit the period's conversions under DATA_DRIVEN as
`split_credit` does."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared import data_driven
from shared.db import create_pool
from shared.domain.attribution import UNATTRIBUTED
from shared.domain.markov import channel_of, fit, split_credit
from simulation.generator import JourneyGenerator
from tests.integration.conftest import EXAMPLE_NOW, Platform
from tests.integration.test_graphql_api import codes, data_of, errors_of
from tests.integration.test_kill_worker import produce
from tests.unit.test_markov import journey_paths, reference_shares

LEADS = 400
PERIOD = {"from": "2026-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
MODEL_FIELDS = """kind refreshedAt paths conversions
    removalEffects { channel effect share } transitions { from to probability }"""
REFRESH = f"mutation {{ refreshDataDrivenModel(kind: PIPELINE) {{ {MODEL_FIELDS} }} }}"
MODEL = f"query {{ dataDrivenModel(kind: PIPELINE) {{ {MODEL_FIELDS} }} }}"
ATTRIBUTION = """query($from: DateTime!, $to: DateTime!) {
    attribution(model: DATA_DRIVEN, kind: PIPELINE, groupBy: CHANNEL, from: $from, to: $to) {
        key credit amount
    }
    attributionComparison(kind: PIPELINE, groupBy: CHANNEL, from: $from, to: $to) {
        key models { model credit amount }
    }
}"""


def generator(tenant: str) -> JourneyGenerator:
    return JourneyGenerator(tenant, seed=23, now=datetime.fromisoformat(EXAMPLE_NOW), span_days=90)


async def expected_credits(platform: Platform, tenant: str, effects: dict[str, float]) -> Any:
    """Credit and amount per channel: each conversion's LINEAR rows (its eligible touches)
    split by the fitted effects."""
    rows = await platform.admin.fetch(
        "SELECT opportunity_id, touch_event_id, channel, amount FROM attribution_credits"
        " WHERE tenant_id = $1 AND model = 'LINEAR' AND kind = 'PIPELINE'"
        " ORDER BY opportunity_id, touch_event_id",
        tenant,
    )
    conversions: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        conversions[row["opportunity_id"]].append(row)
    credit: dict[str, float] = defaultdict(float)
    amount: dict[str, float] = defaultdict(float)
    for touches in conversions.values():
        total = math.fsum(t["amount"] for t in touches)
        if touches[0]["touch_event_id"] is None:
            credit[UNATTRIBUTED] += 1.0
            amount[UNATTRIBUTED] += total
            continue
        channels = [channel_of(t["channel"]) for t in touches]
        for channel, share in zip(channels, split_credit(channels, effects), strict=True):
            credit[channel] += share
            amount[channel] += share * total
    return credit, amount, len(conversions)


@pytest.mark.integration
async def test_refit_model_and_its_credits_through_graphql(platform: Platform) -> None:
    tenant, admin = await platform.create_tenant("data-driven")
    viewer = await platform.api_key(tenant, "viewer")
    events = list(generator(tenant).events(LEADS, spend=False))
    await produce(platform.kafka_bootstrap, events)
    await platform.wait_events(tenant, len(events), timeout=180)

    before = (await data_of(platform, viewer, MODEL))["dataDrivenModel"]
    assert before["refreshedAt"] is None and before["paths"] == 0
    assert codes(await errors_of(platform, viewer, REFRESH)) == {"FORBIDDEN"}

    model = (await data_of(platform, admin, REFRESH))["refreshDataDrivenModel"]
    assert model["refreshedAt"] is not None
    assert (await data_of(platform, viewer, MODEL))["dataDrivenModel"] == model

    paths = journey_paths(generator(tenant).journeys(LEADS), "PIPELINE")
    want = fit(paths)
    assert (model["paths"], model["conversions"]) == (want.paths, want.conversions)
    effects = {e["channel"]: e["effect"] for e in model["removalEffects"]}
    assert effects == pytest.approx(want.effects(), abs=1e-9)
    assert {(t["from"], t["to"]): t["probability"] for t in model["transitions"]} == (
        pytest.approx({(s, t): p for s, t, p in want.transitions}, abs=1e-12)
    )
    reference = reference_shares(paths)
    shares = {e["channel"]: e["share"] for e in model["removalEffects"]}
    assert set(shares) == set(reference)
    for channel, share in shares.items():
        assert share == pytest.approx(reference[channel], abs=0.03), channel

    answer = await data_of(platform, viewer, ATTRIBUTION, PERIOD)
    credit, amount, conversions = await expected_credits(platform, tenant, effects)
    assert conversions > 20
    got = {r["key"]: (r["credit"], r["amount"]) for r in answer["attribution"]}
    assert set(got) == set(credit)
    for key, (c, a) in got.items():
        assert c == pytest.approx(credit[key], abs=1e-6), key
        assert a == pytest.approx(amount[key], rel=1e-6), key
    assert math.fsum(c for c, _ in got.values()) == pytest.approx(conversions)
    compared = {
        row["key"]: next(m for m in row["models"] if m["model"] == "DATA_DRIVEN")
        for row in answer["attributionComparison"]
    }
    assert {k: m["credit"] for k, m in compared.items() if m["credit"]} == pytest.approx(
        {k: c for k, (c, _) in got.items() if c}
    )


@pytest.mark.integration
async def test_periodic_refresh_refits_only_stale_models(platform: Platform) -> None:
    tenant, _ = await platform.create_tenant("data-driven-sweep")
    events = list(generator(tenant).events(20, spend=False))
    await produce(platform.kafka_bootstrap, events)
    await platform.wait_events(tenant, len(events), timeout=180)

    async def refreshed() -> list[datetime]:
        rows = await platform.admin.fetch(
            "SELECT refreshed_at FROM data_driven_models WHERE tenant_id = $1 ORDER BY kind",
            tenant,
        )
        return [r["refreshed_at"] for r in rows]

    start = datetime.fromisoformat(EXAMPLE_NOW)
    pool = await create_pool(platform.database_url)
    try:
        await data_driven.refresh_stale(pool, [tenant], start)
        assert await refreshed() == [start, start]
        await data_driven.refresh_stale(pool, [tenant], start + timedelta(minutes=30))
        assert await refreshed() == [start, start]
        later = start + data_driven.STALE_AFTER
        await data_driven.refresh_stale(pool, [tenant], later)
        assert await refreshed() == [later, later]
    finally:
        await pool.close()
    # Checked every REFRESH_SWEEP_S, a model is refitted before it is an hour old.
    assert data_driven.STALE_AFTER + timedelta(seconds=data_driven.REFRESH_SWEEP_S) < timedelta(
        hours=1
    )
