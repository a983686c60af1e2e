"""Custom attribution models end to end: an admin saves one through `updateAttributionModels`,
the real worker credits the tenant's leads under it, and `customAttribution` and
`attributionComparison` read that credit back through the gateway."""

from __future__ import annotations

import math
from typing import Any

from tests.integration.conftest import Platform
from tests.integration.test_graphql_api import codes, data_of, errors_of

PERIOD = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
MODEL = "WEBINAR_FIRST"
SAVE = """mutation($input: [AttributionModelInput!]!) {
    updateAttributionModels(input: $input) {
        version
        attributionModels {
            name
            weights { first leadCreation opportunityCreation closedWon rest }
            typeMultipliers
        }
    }
}"""
CUSTOM = """query($model: String!, $from: DateTime!, $to: DateTime!) {
    customAttribution(model: $model, kind: PIPELINE, groupBy: CHANNEL, from: $from, to: $to) {
        key credit amount
    }
}"""
COMPARISON = """query($from: DateTime!, $to: DateTime!) {
    attributionComparison(kind: PIPELINE, groupBy: CHANNEL, from: $from, to: $to) {
        key
        models { model credit amount }
        customModels { model credit amount }
    }
}"""


def event(event_id: str, type_: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "occurred_at": at, "lead_id": "L-cm", **extra}


async def test_a_custom_model_saved_through_graphql_is_credited_and_read_back(
    platform: Platform,
) -> None:
    tenant, admin = await platform.create_tenant("gql-custom-model")
    viewer = await platform.api_key(tenant, "viewer")
    model = {
        "name": MODEL,
        "weights": {"first": 0.2, "opportunityCreation": 0.8},
        "typeMultipliers": {"page_view": 0.1},
    }

    refused = await errors_of(platform, viewer, SAVE, {"input": [model]})
    assert codes(refused) == {"FORBIDDEN"}
    unchanged = await data_of(
        platform, viewer, "{ tenantConfig { version attributionModels { name } } }"
    )
    assert unchanged["tenantConfig"] == {"version": 0, "attributionModels": []}

    bad = [
        {"name": "UNEVEN", "weights": {"first": 0.5, "rest": 0.2}},
        {"name": "lower", "weights": {"first": 1}, "typeMultipliers": {"page_view": 3}},
    ]
    errors = await errors_of(platform, admin, SAVE, {"input": bad})
    assert codes(errors) == {"BAD_USER_INPUT"}
    assert [f["path"] for f in errors[0]["extensions"]["fields"]] == [
        "input[0].weights",
        "input[1].name",
        "input[1].typeMultipliers.page_view",
    ]

    await platform.post_events(
        admin,
        [
            event("cm-webinar", "webinar_attended", "2026-11-01T10:00:00Z", channel="webinar"),
            event("cm-search", "ad_click", "2026-11-10T10:00:00Z", channel="paid_search"),
            event(
                "cm-opp",
                "opportunity_created",
                "2026-11-12T10:00:00Z",
                properties={"opportunity_id": "O-cm", "amount": 1000},
            ),
        ],
    )
    # The journey is in the read model before the model is saved, so the save's re-score is
    # what credits it.
    await platform.wait_events(tenant, 3)
    saved = (await data_of(platform, admin, SAVE, {"input": [model]}))["updateAttributionModels"]
    assert saved == {
        "version": 1,
        "attributionModels": [
            {
                "name": MODEL,
                "weights": {
                    "first": 0.2,
                    "leadCreation": 0.0,
                    "opportunityCreation": 0.8,
                    "closedWon": 0.0,
                    "rest": 0.0,
                },
                "typeMultipliers": {"page_view": 0.1},
            }
        ],
    }

    async def credited() -> bool:
        total = await platform.admin.fetchval(
            "SELECT sum(fraction) FROM attribution_credits"
            " WHERE tenant_id = $1 AND model = $2 AND kind = 'PIPELINE'",
            tenant,
            MODEL,
        )
        return total is not None and math.isclose(total, 1.0)

    await platform.wait_for(credited, 60, "the custom model's credit")

    rows = (await data_of(platform, viewer, CUSTOM, {"model": MODEL, **PERIOD}))[
        "customAttribution"
    ]
    assert [row["key"] for row in rows] == ["paid_search", "webinar"]
    got = {row["key"]: (row["credit"], row["amount"]) for row in rows}
    assert math.isclose(got["paid_search"][0], 0.8) and math.isclose(got["paid_search"][1], 800)
    assert math.isclose(got["webinar"][0], 0.2) and math.isclose(got["webinar"][1], 200)

    compared = (await data_of(platform, viewer, COMPARISON, PERIOD))["attributionComparison"]
    assert [row["key"] for row in compared] == ["paid_search", "webinar"]
    for row in compared:
        # The seven rule-based models and DATA_DRIVEN.
        assert len(row["models"]) == 8
        [custom] = row["customModels"]
        assert custom["model"] == MODEL
        assert math.isclose(custom["credit"], got[row["key"]][0])
        assert math.isclose(custom["amount"], got[row["key"]][1])
        first_touch = next(m for m in row["models"] if m["model"] == "FIRST_TOUCH")
        assert first_touch["credit"] == (1.0 if row["key"] == "webinar" else 0.0)

    unknown = await errors_of(platform, viewer, CUSTOM, {"model": "NOT_DEFINED", **PERIOD})
    assert codes(unknown) == {"BAD_USER_INPUT"}
    assert unknown[0]["message"] == "no custom model named NOT_DEFINED"

    # An empty list removes the tenant's custom models.
    removed = (await data_of(platform, admin, SAVE, {"input": []}))["updateAttributionModels"]
    assert removed == {"version": 2, "attributionModels": []}
    gone = await errors_of(platform, viewer, CUSTOM, {"model": MODEL, **PERIOD})
    assert codes(gone) == {"BAD_USER_INPUT"}
    compared = (await data_of(platform, viewer, COMPARISON, PERIOD))["attributionComparison"]
    assert all(row["customModels"] == [] for row in compared)
