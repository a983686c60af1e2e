"""Browser tests of the dashboard at /app: Playwright for Python driving Debian's chromium
(Playwright's own browser download is not reachable here) against the real platform of
tests/integration, with a generated tenant like the demo one.

Screenshots land in tests/browser/artifacts/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from simulation.generator import JourneyGenerator
from tests.conftest import REPO
from tests.integration.conftest import EXAMPLE_NOW, Platform

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = ("overview", "pipeline", "accounts", "attribution", "sla", "review", "content", "settings")
# The browser's clock is pinned to the platform's (TANDEM_FIXED_NOW), so "last 90 days"
# covers the generated journeys and the API is asked for the very same period.
BROWSER_NOW = datetime.fromisoformat(EXAMPLE_NOW) + timedelta(hours=12)
LEADS = 150


def last_90_days(now: datetime = BROWSER_NOW) -> tuple[str, str]:
    """The dashboard's "Last 90 days" (web/src/period.ts): whole UTC days up to tomorrow."""
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    to = day + timedelta(days=1)
    return _iso(to - timedelta(days=90)), _iso(to)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class Tenant:
    slug: str
    admin_key: str
    viewer_key: str
    gateway_url: str

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.gateway_url, timeout=30) as client:
            answer = await client.post(
                "/graphql",
                content=orjson.dumps({"query": query, "variables": variables or {}}),
                headers={"X-API-Key": self.admin_key, "content-type": "application/json"},
            )
        body = answer.json()
        assert "errors" not in body, body
        return body["data"]


# An ICP like a B2B marketing-software vendor's, over the generator's traits.
DEMO_ICP = {
    "fitRules": [
        {"attribute": "company_size", "op": "gte", "value": 200, "points": 40},
        {"attribute": "department", "op": "in", "value": ["marketing", "sales"], "points": 30},
        {"attribute": "industry", "op": "in", "value": ["software", "fintech"], "points": 20},
        {"attribute": "seniority", "op": "in", "value": ["vp", "director"], "points": 15},
    ]
}


async def configure_icp(platform: Platform, tenant: Tenant, icp: dict[str, Any]) -> None:
    """Stores the ICP, then waits until the workers score by it (a probe lead's fit)."""
    await tenant.gql(
        "mutation ($input: IcpInput!) { updateIcp(input: $input) { version } }", {"input": icp}
    )
    probe = {
        "event_id": "icp-probe",
        "type": "identify",
        "occurred_at": EXAMPLE_NOW,
        "lead_id": "ICP-PROBE",
        "properties": {"traits": {"department": "marketing", "company_size": 500}},
    }
    await platform.post_events(tenant.admin_key, [probe])

    async def scored_by_the_icp() -> bool:
        fit = await platform.admin.fetchval(
            "SELECT fit_score FROM leads WHERE tenant_id = $1 AND lead_id = 'ICP-PROBE'",
            tenant.slug,
        )
        return bool(fit)

    await platform.wait_for(scored_by_the_icp, 90, f"the ICP of {tenant.slug} at the workers")


async def generated_tenant(
    platform: Platform, prefix: str, leads: int, seed: int, icp: dict[str, Any] | None = None
) -> Tenant:
    slug, admin_key = await platform.create_tenant(prefix)
    viewer_key = await platform.api_key(slug, "viewer")
    tenant = Tenant(slug, admin_key, viewer_key, platform.gateway_url)
    if icp is not None:
        await configure_icp(platform, tenant, icp)
    generator = JourneyGenerator(
        slug, seed=seed, now=datetime.fromisoformat(EXAMPLE_NOW), include_tenant_id=False
    )
    events = generator.time_ordered(leads)
    await platform.post_events(admin_key, events)
    spend = sum(1 for e in events if e["type"] == "campaign_spend")
    await platform.wait_events(slug, len(events) - spend + (icp is not None), timeout=180)

    async def spend_applied() -> bool:
        n = await platform.admin.fetchval("SELECT count(*) FROM spend WHERE tenant_id = $1", slug)
        return bool(n >= spend)

    await platform.wait_for(spend_applied, 60, f"{spend} spend events of {slug}")
    return tenant


@pytest.fixture(scope="session")
async def demo(platform: Platform) -> Tenant:
    """A tenant like `tandem demo`'s: generated journeys over the 90 days before now."""
    return await generated_tenant(platform, "dash", LEADS, seed=20_261_120, icp=DEMO_ICP)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: `make test` installs it (apt-get install chromium)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium)
        yield launched
        await launched.close()


class Console:
    """Errors the page logged or threw; every test ends with none."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._message)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


async def open_page(
    browser: Browser, width: int = 1280, *, pinned_clock: bool = True
) -> tuple[Page, Console]:
    """A fresh tab; `pinned_clock=False` keeps the real clock, whose `performance` timings
    Playwright's clock emulation replaces."""
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    if pinned_clock:
        await page.clock.set_fixed_time(BROWSER_NOW)
    return page, Console(page)


async def sign_in(page: Page, tenant: Tenant, key: str | None = None) -> None:
    await page.goto(f"{tenant.gateway_url}/app/")
    await page.get_by_label("API key").fill(key or tenant.admin_key)
    await page.get_by_role("button", name="Sign in").click()
    signed_in = page.get_by_role("navigation", name="Dashboard pages")
    refused = page.locator("#signin-error")
    await signed_in.or_(refused).first.wait_for()
    assert await refused.count() == 0, await refused.inner_text()


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical findings of axe-core (from web/node_modules) on the page."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return list(result)
