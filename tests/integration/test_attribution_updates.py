"""Attribution follows the journey: a late touch moves credit as if it had come in order,
and a tenant's custom model is credited once its config is saved."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Platform
from tests.integration.test_config_changes import save


def event(event_id: str, type_: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "occurred_at": at, "lead_id": "L-att", **extra}


async def credits(platform: Platform, tenant: str, model: str) -> dict[str | None, float]:
    rows = await platform.admin.fetch(
        "SELECT channel, sum(fraction) AS f FROM attribution_credits"
        " WHERE tenant_id = $1 AND model = $2 AND kind = 'PIPELINE' GROUP BY channel"
        " HAVING sum(fraction) > 0",
        tenant,
        model,
    )
    return {r["channel"]: round(r["f"], 6) for r in rows}


async def test_a_late_touch_moves_the_credit_as_if_it_had_come_in_order(
    platform: Platform,
) -> None:
    tenant, key = await platform.create_tenant("late-touch")
    await platform.post_events(
        key,
        [
            event("t-search", "ad_click", "2026-11-10T10:00:00Z", channel="paid_search"),
            event(
                "opp",
                "opportunity_created",
                "2026-11-12T10:00:00Z",
                properties={"opportunity_id": "O-att", "amount": 1000},
            ),
        ],
    )

    async def first_credit_is(channel: str) -> bool:
        return await credits(platform, tenant, "FIRST_TOUCH") == {channel: 1.0}

    await platform.wait_for(lambda: first_credit_is("paid_search"), 60, "the first credit")

    late = event("t-webinar", "webinar_attended", "2026-11-01T10:00:00Z", channel="webinar")
    await platform.post_events(key, [late])
    await platform.wait_for(lambda: first_credit_is("webinar"), 60, "the credit to move")
    assert await credits(platform, tenant, "LINEAR") == {"webinar": 0.5, "paid_search": 0.5}
    assert await credits(platform, tenant, "LAST_TOUCH") == {"paid_search": 1.0}

    # The same late touch again changes nothing.
    await platform.post_events(key, [late])
    assert await credits(platform, tenant, "LINEAR") == {"webinar": 0.5, "paid_search": 0.5}

    model = {
        "name": "WEBINARS_COUNT",
        "weights": {"first": 0.2, "opportunity_creation": 0.8},
        "type_multipliers": {"ad_click": 1.0},
    }
    await save(platform, tenant, "attribution", {"attribution_models": [model]})

    async def custom_credited() -> bool:
        return await credits(platform, tenant, "WEBINARS_COUNT") == {
            "webinar": 0.2,
            "paid_search": 0.8,
        }

    await platform.wait_for(custom_credited, 60, "the custom model's credit")
