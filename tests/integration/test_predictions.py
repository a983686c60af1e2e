"""SPEC 18 end to end: generated journeys go through Kafka and the worker; an admin trains
the tenant's model through GraphQL; every lead gets a prediction, `leads(orderBy:
PREDICTED_DESC)` ranks them; a lead that changes afterwards is predicted in the stream as
the stored model says; the proposal applies through `updateIcp` / `updateScoringModel`;
the forecast answers with its backtest."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from shared.domain.config import DEFAULT_CONFIG
from shared.domain.journey import Stage, fold_lead
from shared.domain.predictive import (
    LinearModel,
    cutoff,
    features,
    history_from_events,
    label,
)
from shared.validation import to_domain_event
from simulation.generator import JourneyGenerator
from tests.integration.conftest import EXAMPLE_NOW, Platform
from tests.integration.test_admin_cli import ok, tandem
from tests.integration.test_graphql_api import codes, data_of, errors_of
from tests.integration.test_kill_worker import produce

LEADS = 1200
NOW = datetime.fromisoformat(EXAMPLE_NOW)
CARD = """status version labelledLeads positives auc brier rulesAuc
    calibration { predicted actual leads } factors { feature weight }"""
TRAIN = f"mutation {{ trainPredictiveModel {{ {CARD} }} }}"
MODEL = f"query {{ predictiveModel {{ {CARD} }} }}"
RANKED = """query($after: String) {
    leads(orderBy: PREDICTED_DESC, first: 200, after: $after) {
        edges { node { id prediction { probability percentile tier
            factors { feature contribution } } } }
        pageInfo { hasNextPage endCursor }
    }
}"""
LEAD = """query($id: ID!) { lead(id: $id) { prediction { probability percentile tier
    modelVersion factors { feature contribution } } } }"""
PROPOSAL = "query { scoringProposal { modelVersion icp scoringModel expectedAuc } }"
APPLY = """mutation($icp: IcpInput!, $scoring: ScoringModelInput!) {
    updateIcp(input: $icp) { version }
    updateScoringModel(input: $scoring) { version }
}"""
FORECAST = """query { forecast(horizonDays: 90) { expectedRevenue low high learned
    byStage { stage openOpportunities openAmount winProbability expectedRevenue }
    stageProbabilities { stage probability opportunities }
    backtest { weeks { asOf forecast actual } mape } } }"""


def expected_labels(tenant: str) -> tuple[int, int, int]:
    """Labelled leads and customers as the pure rules count them over the same journeys,
    and the holdout's size: a fifth of the labelled leads whose 90 days have passed."""
    generator = JourneyGenerator(tenant, seed=31, now=NOW, span_days=365)
    labelled = positives = complete = complete_positives = 0
    for journey in generator.journeys(LEADS):
        lead_id = next((e["lead_id"] for e in journey if e.get("lead_id")), None)
        if lead_id is None:
            continue  # an anonymous visitor never identified: not a lead
        # Anonymous touches become the lead's once it is identified, from their own time.
        events = [
            to_domain_event({**e, "lead_id": lead_id}, seq=i + 1, config_version=0)
            for i, e in enumerate(journey)
        ]
        state = fold_lead(events, DEFAULT_CONFIG)
        lost = next(
            (
                t.at
                for t in state.transitions
                if t.to_stage in (Stage.CLOSED_LOST, Stage.DISQUALIFIED)
            ),
            None,
        )
        history = history_from_events(
            sorted(events, key=lambda e: e.order_key), state.customer_at, lost
        )
        assert history is not None
        decided = label(history, NOW)
        if decided.positive is not None:
            labelled += 1
            positives += decided.positive
            if history.created_at + timedelta(days=90) <= NOW:
                complete += 1
                complete_positives += decided.positive
    assert complete >= 200 and complete_positives >= 20, "the model learns from complete leads"
    return labelled, positives, round(complete * 0.2)


def fresh_lead(tenant: str) -> list[dict[str, Any]]:
    """A lead that arrives after training: a fintech VP who attends webinars."""
    start = NOW - timedelta(days=3)

    def event(i: int, kind: str, **extra: Any) -> dict[str, Any]:
        at = (start + timedelta(hours=i)).isoformat()
        return {
            "event_id": f"fresh-{i}",
            "tenant_id": tenant,
            "type": kind,
            "occurred_at": at,
            "lead_id": "fresh-lead",
            **extra,
        }

    return [
        event(0, "identify", properties={"traits": {"seniority": "vp", "industry": "fintech"}}),
        event(1, "webinar_attended", channel="webinar"),
        event(2, "page_view", channel="organic_search"),
        event(3, "webinar_attended", channel="webinar"),
    ]


@pytest.mark.integration
async def test_from_events_to_lead_prediction(platform: Platform) -> None:
    tenant, admin = await platform.create_tenant("predict")
    viewer = await platform.api_key(tenant, "viewer")
    events = list(
        JourneyGenerator(tenant, seed=31, now=NOW, span_days=365).events(LEADS, spend=False)
    )
    await produce(platform.kafka_bootstrap, events)
    await platform.wait_events(tenant, len(events), timeout=300)

    assert (await data_of(platform, viewer, MODEL))["predictiveModel"]["status"] == "NOT_TRAINED"
    assert codes(await errors_of(platform, viewer, TRAIN)) == {"FORBIDDEN"}
    card = (await data_of(platform, admin, TRAIN))["trainPredictiveModel"]
    labelled, positives, holdout = expected_labels(tenant)
    assert (card["labelledLeads"], card["positives"]) == (labelled, positives)
    assert card["status"] == "READY" and card["version"] == 1
    assert card["auc"] is not None and card["rulesAuc"] is not None and card["auc"] > 0.6
    assert sum(b["leads"] for b in card["calibration"]) == holdout
    assert card["factors"] and all(" " in f["feature"] for f in card["factors"])
    assert (await data_of(platform, viewer, MODEL))["predictiveModel"] == card

    # Every lead is predicted, and the order is by probability, best first.
    ranked: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await data_of(platform, viewer, RANKED, {"after": after}))["leads"]
        ranked.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    leads = await platform.leads(tenant)
    assert len(ranked) == len(leads) and {n["id"] for n in ranked} == set(leads)
    probabilities = [n["prediction"]["probability"] for n in ranked]
    assert probabilities == sorted(probabilities, reverse=True)
    for node in ranked:
        prediction = node["prediction"]
        assert 0 < len(prediction["factors"]) <= 5
        assert prediction["tier"] == 1 + (prediction["percentile"] < 75) + (
            prediction["percentile"] < 50
        ) + (prediction["percentile"] < 25)

    # A lead that changes after training is predicted in the stream, as the stored model says.
    fresh = fresh_lead(tenant)
    await produce(platform.kafka_bootstrap, fresh)
    stored = await platform.admin.fetchval(
        "SELECT model FROM predictive_models WHERE tenant_id = $1 AND version = 1", tenant
    )
    model = LinearModel.from_dict(orjson.loads(stored))  # this pool reads jsonb as text
    domain = [to_domain_event(e, seq=i + 1, config_version=0) for i, e in enumerate(fresh)]
    history = history_from_events(domain, None, None)
    assert history is not None
    want = model.predict(features(history, cutoff(history, NOW)))

    async def predicted() -> bool:
        lead = (await data_of(platform, viewer, LEAD, {"id": "fresh-lead"}))["lead"]
        return lead is not None and lead["prediction"] is not None

    await platform.wait_for(predicted, timeout=90, what="the new lead's prediction")
    got = (await data_of(platform, viewer, LEAD, {"id": "fresh-lead"}))["lead"]["prediction"]
    assert got["modelVersion"] == 1
    assert got["probability"] == pytest.approx(want.probability, rel=1e-9)
    assert got["percentile"] == want.percentile and got["tier"] == want.tier
    assert [(f["feature"], f["contribution"]) for f in got["factors"]] == [
        (f.feature, pytest.approx(f.contribution)) for f in want.factors
    ]

    # The proposal is in the shape the rule mutations take, and applies as it is.
    assert codes(await errors_of(platform, viewer, PROPOSAL)) == {"FORBIDDEN"}
    proposal = (await data_of(platform, admin, PROPOSAL))["scoringProposal"]
    assert proposal["modelVersion"] == 1 and proposal["expectedAuc"] is not None
    assert proposal["scoringModel"]["engagementRules"]
    applied = await data_of(
        platform, admin, APPLY, {"icp": proposal["icp"], "scoring": proposal["scoringModel"]}
    )
    assert applied["updateScoringModel"]["version"] > applied["updateIcp"]["version"] > 0

    forecast = (await data_of(platform, viewer, FORECAST))["forecast"]
    assert forecast["low"] <= forecast["expectedRevenue"] <= forecast["high"]
    assert sum(s["expectedRevenue"] for s in forecast["byStage"]) == pytest.approx(
        forecast["expectedRevenue"]
    )
    assert 0 < len(forecast["backtest"]["weeks"]) <= 12


@pytest.mark.integration
async def test_below_the_minimum_the_cli_says_how_many_outcomes_there_are(
    platform: Platform,
) -> None:
    tenant, admin = await platform.create_tenant("predict-few")
    events = list(JourneyGenerator(tenant, seed=32, now=NOW, span_days=120).events(60, spend=False))
    await produce(platform.kafka_bootstrap, events)
    await platform.wait_events(tenant, len(events), timeout=120)

    out = ok("models", "train", "--tenant", tenant)
    card = (await data_of(platform, admin, MODEL))["predictiveModel"]
    assert card["status"] == "INSUFFICIENT_DATA" and card["auc"] is None
    assert card["labelledLeads"] < 200 or card["positives"] < 20
    assert out.strip() == (
        f"{tenant}: not enough outcomes to learn from: {card['labelledLeads']} labelled leads"
        f" and {card['positives']} customers (at least 200 and 20 needed)"
    )
    assert (await data_of(platform, admin, PROPOSAL))["scoringProposal"] is None
    page = (await data_of(platform, admin, RANKED, {"after": None}))["leads"]
    assert page["edges"] and all(e["node"]["prediction"] is None for e in page["edges"])
    assert "no tenant" in tandem("models", "train", "--tenant", f"{tenant}-missing").stderr
