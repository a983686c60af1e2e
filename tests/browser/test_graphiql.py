"""GraphiQL at /graphql signs in as the dashboard does: the tab's credential, asked for once
when the tab has none, kept in sessionStorage and never in localStorage."""

from __future__ import annotations

from playwright.async_api import Browser, Dialog

from tests.browser.conftest import open_page
from tests.integration.conftest import Platform


async def test_graphiql_uses_the_dashboards_key_and_keeps_it_for_the_tab_only(
    browser: Browser, platform: Platform
) -> None:
    _, key = await platform.create_tenant("giql")
    page, console = await open_page(browser)
    await page.goto(f"{platform.gateway_url}/app/")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("navigation", name="Dashboard pages").wait_for()

    prompts: list[str] = []
    page.on("dialog", lambda d: prompts.append(d.message))
    async with page.expect_response(
        lambda r: r.url.endswith("/graphql") and r.request.method == "POST"
    ) as introspection:
        await page.goto(f"{platform.gateway_url}/graphql")
    await page.locator(".graphiql-editor").first.wait_for()
    # The schema was read with the tab's key: no prompt, no 401.
    assert (await introspection.value).status == 200
    assert prompts == []
    assert console.errors == []
    local = await page.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert key not in local
    assert await page.evaluate("sessionStorage.getItem('tandem.credential')") == key


async def test_graphiql_asks_for_a_key_in_a_tab_without_one(
    browser: Browser, platform: Platform
) -> None:
    _, key = await platform.create_tenant("giql")
    page, _ = await open_page(browser)
    prompts: list[str] = []

    async def answer(dialog: Dialog) -> None:
        prompts.append(dialog.message)
        await dialog.accept(key)

    page.on("dialog", answer)
    async with page.expect_response(
        lambda r: r.url.endswith("/graphql") and r.request.method == "POST"
    ) as introspection:
        await page.goto(f"{platform.gateway_url}/graphql")
    assert (await introspection.value).status == 200
    assert len(prompts) == 1 and "this browser tab only" in prompts[0]
    assert await page.evaluate("sessionStorage.getItem('tandem.credential')") == key
    assert key not in await page.evaluate("JSON.stringify(Object.entries(localStorage))")
