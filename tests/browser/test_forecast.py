"""The Forecast page and a lead's prediction, in a real browser against the real platform
(SPEC 18): the forecast, the model card and the proposal show what the API answers; an
admin applies the proposal with one button; a viewer sees no button; a lead shows its
probability and the factors that moved it."""

from __future__ import annotations

from datetime import datetime

import pytest
from playwright.async_api import Browser, Page, expect

from simulation.generator import JourneyGenerator
from tests.browser.conftest import Tenant, axe_violations, open_page, screenshot, sign_in
from tests.integration.conftest import EXAMPLE_NOW, Platform

LEADS = 1000
FORECAST = """{ forecast(horizonDays: 90) { expectedRevenue low high
    byStage { stage } backtest { weeks { asOf } mape } } }"""
MODEL = """{ predictiveModel { status auc rulesAuc calibration { leads } factors { feature } }
    scoringProposal { icp scoringModel expectedAuc }
    leads(orderBy: PREDICTED_DESC, first: 1) { edges { node { id
        prediction { probability factors { feature } } } } } }"""


def money(value: float) -> str:
    """As the dashboard writes an amount: whole dollars, rounded half up."""
    return f"${int(value + 0.5):,}"


@pytest.fixture(scope="module")
async def trained(platform: Platform) -> Tenant:
    """A tenant with a year of generated journeys and a trained model."""
    slug, admin_key = await platform.create_tenant("fcst")
    viewer_key = await platform.api_key(slug, "viewer")
    tenant = Tenant(slug, admin_key, viewer_key, platform.gateway_url)
    generator = JourneyGenerator(
        slug,
        seed=77,
        now=datetime.fromisoformat(EXAMPLE_NOW),
        span_days=365,
        include_tenant_id=False,
    )
    events = generator.time_ordered(LEADS, spend=False)
    await platform.post_events(admin_key, events)
    await platform.wait_events(slug, len(events), timeout=300)
    card = await tenant.gql("mutation { trainPredictiveModel { status } }")
    assert card["trainPredictiveModel"]["status"] == "READY"
    return tenant


async def visit_forecast(page: Page, tenant: Tenant) -> None:
    await page.goto(f"{tenant.gateway_url}/app/#/forecast")
    await page.locator("[data-forecast-expected]").wait_for()


async def test_the_forecast_page_shows_the_api_and_applies_the_proposal(
    browser: Browser, trained: Tenant
) -> None:
    page, console = await open_page(browser)
    await sign_in(page, trained)
    await visit_forecast(page, trained)
    forecast = (await trained.gql(FORECAST))["forecast"]
    await expect(page.locator("[data-forecast-expected]")).to_have_text(
        money(forecast["expectedRevenue"])
    )
    await expect(page.locator("[data-forecast-interval]")).to_have_text(
        f"{money(forecast['low'])} to {money(forecast['high'])}"
    )
    await expect(page.locator("[data-forecast-stage]")).to_have_count(len(forecast["byStage"]))
    await expect(page.locator("[data-backtest-week]")).to_have_count(
        len(forecast["backtest"]["weeks"])
    )

    api = await trained.gql(MODEL)
    model = api["predictiveModel"]
    await expect(page.locator("[data-model-auc]")).to_have_text(f"{model['auc']:.3f}")
    await expect(page.locator("[data-rules-auc]")).to_have_text(f"{model['rulesAuc']:.3f}")
    await expect(page.locator("[data-calibration]")).to_have_count(len(model["calibration"]))
    await expect(page.locator("[data-model-factor]").first).to_have_text(
        model["factors"][0]["feature"]
    )
    top = api["leads"]["edges"][0]["node"]
    await expect(page.locator("[data-top-lead]").first).to_have_text(top["id"])
    await expect(page.locator("[data-proposal-auc]")).to_have_text(
        f"{api['scoringProposal']['expectedAuc']:.3f}"
    )
    violations = await axe_violations(page)
    await screenshot(page, "forecast")
    assert violations == []

    await page.get_by_role("button", name="Apply the proposed rules").click()
    await expect(page.get_by_role("status").filter(has_text="Applied")).to_have_count(1)
    config = await trained.gql("{ tenantConfig { fitRules { attribute op points } } }")
    proposed = api["scoringProposal"]["icp"]["fitRules"]
    assert [(r["attribute"], r["op"], r["points"]) for r in config["tenantConfig"]["fitRules"]] == [
        (r["attribute"], r["op"], r["points"]) for r in proposed
    ]

    # The lead most likely to buy, opened on the pipeline page, shows why.
    await page.goto(f"{trained.gateway_url}/app/#/pipeline")
    await page.get_by_label("Search leads").fill(top["id"])
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("[data-lead-prediction]")).to_have_attribute(
        "data-lead-prediction", str(top["prediction"]["probability"])
    )
    await expect(page.locator("[data-lead-factor]")).to_have_text(
        [f["feature"] for f in top["prediction"]["factors"]]
    )
    await screenshot(page, "lead-prediction")
    assert console.errors == []


async def test_a_viewer_sees_the_model_but_no_buttons(browser: Browser, trained: Tenant) -> None:
    page, console = await open_page(browser)
    await sign_in(page, trained, trained.viewer_key)
    await visit_forecast(page, trained)
    await page.locator("[data-model-auc]").wait_for()
    await expect(page.get_by_role("button", name="Train the model now")).to_have_count(0)
    await expect(page.get_by_role("button", name="Apply the proposed rules")).to_have_count(0)
    assert console.errors == []


async def test_at_375_px_the_forecast_page_does_not_scroll_sideways(
    browser: Browser, trained: Tenant
) -> None:
    page, console = await open_page(browser, width=375)
    await sign_in(page, trained)
    await visit_forecast(page, trained)
    await page.locator("[data-model-auc]").wait_for()
    await page.locator("[data-proposal]").wait_for()
    await screenshot(page, "forecast-375px")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    assert console.errors == []
