"""Share links in a real browser: a shared overview, read-only and live without signing
in, framed only where the tenant allows; and a revoked link, whose open view stops."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from playwright.async_api import Browser, expect

from tests.browser.conftest import Tenant, open_page, screenshot, sign_in
from tests.integration.conftest import EXAMPLE_NOW, Platform

CREATE = """mutation ($pages: [SharePage!]!, $expiresAt: DateTime!) {
  createShareLink(pages: $pages, expiresAt: $expiresAt) { url link { id pages active } }
}"""


async def share(tenant: Tenant, pages: list[str]) -> tuple[str, str]:
    expires = (datetime.fromisoformat(EXAMPLE_NOW) + timedelta(days=30)).isoformat()
    made = (await tenant.gql(CREATE, {"pages": pages, "expiresAt": expires}))["createShareLink"]
    assert made["link"]["pages"] == pages and made["link"]["active"] is True
    assert made["url"].startswith("/app/share/tsl_")
    return made["link"]["id"], made["url"]


async def test_a_shared_overview_is_read_only_and_updates_live(
    browser: Browser, platform: Platform, demo: Tenant
) -> None:
    _, url = await share(demo, ["OVERVIEW", "PIPELINE"])
    page, console = await open_page(browser)
    await page.goto(f"{demo.gateway_url}{url}")
    await expect(page.locator("[data-shared-view]")).to_be_visible()
    nav = page.get_by_role("navigation", name="Dashboard pages")
    await expect(nav.get_by_role("link")).to_have_text(["Overview", "Pipeline"])
    await expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    metric = page.locator('[data-metric="leadsCreated"]')
    await metric.wait_for()
    await expect(page.locator("[data-live-status]")).to_have_attribute("data-live-status", "live")
    before = float(await metric.get_attribute("data-value") or 0)
    await page.evaluate("window.__notReloaded = true")
    at = (datetime.fromisoformat(EXAMPLE_NOW) - timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    await platform.post_events(
        demo.admin_key,
        [
            {
                "event_id": "shared-live-1",
                "type": "form_submit",
                "occurred_at": at,
                "lead_id": "SHARED-LIVE-1",
                "channel": "webinar",
            }
        ],
    )
    await expect(metric).to_have_attribute("data-value", str(int(before + 1)), timeout=30_000)
    assert await page.evaluate("window.__notReloaded") is True
    await screenshot(page, "shared-overview-after-live-update")
    await nav.get_by_role("link", name="Pipeline").click()
    await page.locator('[data-grade="A"]').wait_for()
    await page.get_by_role("button", name="Search").wait_for()
    assert console.errors == []

    # Framed nowhere until the tenant allows a site; then by that site alone.
    async with httpx.AsyncClient(base_url=demo.gateway_url) as client:
        first = await client.get(url)
        assert first.headers["content-security-policy"] == "frame-ancestors 'none'"
        await demo.gql(
            'mutation { updateShareSettings(frameAncestors: ["https://wiki.example.com"])'
            " { frameAncestors } }"
        )
        framed = await client.get(url)
        assert framed.headers["content-security-policy"] == (
            "frame-ancestors https://wiki.example.com"
        )
        await demo.gql("mutation { updateShareSettings(frameAncestors: []) { frameAncestors } }")


async def test_a_revoked_link_stops_its_open_view_and_opens_no_more(
    browser: Browser, demo: Tenant
) -> None:
    link_id, url = await share(demo, ["OVERVIEW"])
    token = url.rsplit("/", 1)[1]
    page, _ = await open_page(browser)
    await page.goto(f"{demo.gateway_url}{url}")
    await page.locator('[data-metric="leadsCreated"]').wait_for()
    await expect(page.locator("[data-live-status]")).to_have_attribute("data-live-status", "live")

    revoked = await demo.gql(
        "mutation ($id: ID!) { revokeShareLink(id: $id) { id active revokedAt } }",
        {"id": link_id},
    )
    assert revoked["revokeShareLink"]["active"] is False
    # The open view is closed by the gateway's credential re-check (within 5 s).
    await expect(page.locator("[data-share-ended]")).to_be_visible(timeout=15_000)
    await expect(page.locator('[data-metric="leadsCreated"]')).to_have_count(0)
    await screenshot(page, "shared-link-revoked")

    await page.reload()
    await expect(page.locator("[data-share-ended]")).to_be_visible()
    async with httpx.AsyncClient(base_url=demo.gateway_url) as client:
        answer = await client.post(
            "/graphql",
            json={"query": "{ viewer { tenant } }"},
            headers={"authorization": f"Bearer {token}"},
        )
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    links = (await demo.gql("{ shareLinks { id active } }"))["shareLinks"]
    assert {"id": link_id, "active": False} in links


async def test_an_admin_makes_and_revokes_a_link_in_settings(
    browser: Browser, demo: Tenant
) -> None:
    page, console = await open_page(browser)
    await sign_in(page, demo)
    await page.goto(f"{demo.gateway_url}/app/#/settings")
    await page.get_by_role("heading", name="Share links").wait_for()
    await page.get_by_label("Pipeline").check()
    await page.get_by_role("button", name="Create share link").click()
    url = await page.locator("[data-share-url]").inner_text()
    assert url.startswith(f"{demo.gateway_url}/app/share/tsl_")

    viewer, _ = await open_page(browser)
    await viewer.goto(url)
    nav = viewer.get_by_role("navigation", name="Dashboard pages")
    await expect(nav.get_by_role("link")).to_have_text(["Overview", "Pipeline"])

    links = (await demo.gql("{ shareLinks { id active } }"))["shareLinks"]
    newest = links[0]["id"]
    await page.locator(f'tr:has([data-share-status="{newest}"])').get_by_role("button").click()
    await expect(page.locator(f'[data-share-status="{newest}"]')).to_have_text("Revoked")
    await expect(viewer.locator("[data-share-ended]")).to_be_visible(timeout=15_000)
    assert console.errors == []
