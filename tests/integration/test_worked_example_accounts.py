"""SPEC 17 on the worked example through GraphQL: its accounts are the pure rules over its
leads, every closed deal has a post-mortem, and DATA_DRIVEN credits each conversion once
with effects that agree with ChannelAttribution."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pytest

from tests.integration.conftest import Platform
from tests.integration.test_accounts_stream import accounts_snapshot, expected_accounts
from tests.integration.test_graphql_api import data_of
from tests.unit.test_markov import journey_paths, reference_shares
from tests.worked_example import sample_events

ALL_TIME = {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}
QUERY = """query($from: DateTime!, $to: DateTime!) {
    accounts(first: 500) { totalCount edges { node { id engagementScore stage fitGrade } } }
    postMortems(from: $from, to: $to) { won { deals } lost { deals objectionsPerDeal } }
    attribution(model: DATA_DRIVEN, kind: PIPELINE, groupBy: CAMPAIGN, from: $from, to: $to) {
        key credit amount
    }
    pipeline: metrics(from: $from, to: $to) { opportunitiesCreated pipelineAmount }
}"""
REFRESH = """mutation { refreshDataDrivenModel(kind: PIPELINE) {
    conversions removalEffects { channel share }
} }"""


def example_journeys() -> list[list[dict[str, Any]]]:
    """The worked example's events per lead, anonymous touches under the lead that
    identified them."""
    events = sample_events()
    owner = {e["anonymous_id"]: e["lead_id"] for e in events if e["type"] == "identify"}
    by_lead: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        lead = e.get("lead_id") or owner.get(e.get("anonymous_id", ""))
        if lead:
            by_lead[lead].append(e)
    return [sorted(v, key=lambda e: e["occurred_at"]) for v in by_lead.values()]


@pytest.mark.integration
async def test_worked_example_accounts_post_mortems_and_data_driven(platform: Platform) -> None:
    tenant, key = await platform.create_tenant("example-acct")
    events = sample_events()
    await platform.post_events(key, events)
    await platform.wait_events(tenant, sum(1 for e in events if e["type"] != "campaign_spend"))

    model = (await data_of(platform, key, REFRESH))["refreshDataDrivenModel"]
    answer = await data_of(platform, key, QUERY, ALL_TIME)

    want = await expected_accounts(platform, tenant)
    assert len(want) == len({e["account_id"] for e in events if "account_id" in e})
    assert await accounts_snapshot(platform, tenant) == want
    got = {e["node"]["id"]: e["node"] for e in answer["accounts"]["edges"]}
    assert answer["accounts"]["totalCount"] == len(want) == len(got)
    for account_id, _, _, _, grade, engagement, stage, _, _ in want:
        assert (got[account_id]["fitGrade"], got[account_id]["engagementScore"]) == (
            grade,
            engagement,
        )
        assert got[account_id]["stage"] == stage

    closed = {
        outcome: sum(1 for e in events if e["type"] == outcome)
        for outcome in ("deal_won", "deal_lost")
    }
    assert answer["postMortems"]["won"]["deals"] == closed["deal_won"]
    assert answer["postMortems"]["lost"]["deals"] == closed["deal_lost"]

    rows = answer["attribution"]
    opportunities = answer["pipeline"]["opportunitiesCreated"]
    assert model["conversions"] > 0
    assert math.fsum(r["credit"] for r in rows) == pytest.approx(opportunities)
    assert math.fsum(r["amount"] for r in rows) == pytest.approx(
        answer["pipeline"]["pipelineAmount"]
    )

    reference = reference_shares(journey_paths(example_journeys(), "PIPELINE"))
    shares = {e["channel"]: e["share"] for e in model["removalEffects"]}
    assert set(shares) == set(reference)
    for channel, share in shares.items():
        assert share == pytest.approx(reference[channel], abs=0.03), channel
