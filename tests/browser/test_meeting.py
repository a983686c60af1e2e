"""The dashboard as the weekly sales and marketing meeting uses it, at 1280 and 375 px: leads
as people with their own address, honest period comparisons, numbers that agree with each
other, scoring that can be seen and repaired, the review as the agenda, plain words and
accessible focus."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import (
    BROWSER_NOW,
    Tenant,
    generated_tenant,
    last_90_days,
    open_page,
    screenshot,
    sign_in,
)
from tests.integration.conftest import Platform

# What no screen may show: an event type or stage id as the API writes it, a credential id,
# a raw validation echo.
INTERNAL = re.compile(
    r"\b[a-z]+_[a-z_]+\b|\b(?:AWARE|ENGAGED|OPPORTUNITY|CUSTOMER|NURTURE|CLOSED_LOST)\b"
    r"|key:[0-9a-f]{6}|, got "
)
PERSON = "id name email title company"


async def go(page: Page, tenant: Tenant, path: str, ready: str) -> None:
    await page.goto(f"{tenant.gateway_url}/app/#/{path}")
    await page.locator(ready).first.wait_for()
    await page.wait_for_load_state("networkidle")


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG contrast ratio of two sRGB colours."""

    def luminance(rgb: tuple[int, int, int]) -> float:
        channels = []
        for c in rgb:
            v = c / 255
            channels.append(v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4)
        r, g, b_ = channels
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])
    return r, g, b


@pytest.mark.parametrize("width", [1280, 375])
async def test_leads_are_people_with_their_own_address(
    browser: Browser, demo: Tenant, width: int
) -> None:
    page, console = await open_page(browser, width)
    await sign_in(page, demo)
    await go(page, demo, "pipeline", "[data-lead-count]")
    named = (
        await demo.gql(
            f"{{ leads(orderBy: SCORE_DESC, first: 50) {{ totalCount"
            f" edges {{ node {{ {PERSON} score }} }} }} }}"
        )
    )["leads"]
    total = named["totalCount"]
    person = next(e["node"] for e in named["edges"] if e["node"]["name"])

    # Search by part of the email's domain and by name, on the server.
    domain = person["email"].split("@")[1]
    await page.get_by_label("Search leads").fill(domain)
    answer = await demo.gql(f'{{ leads(search: "{domain}") {{ totalCount }} }}')
    await expect(page.locator("[data-lead-count]")).to_have_attribute(
        "data-lead-count", str(answer["leads"]["totalCount"])
    )
    await page.get_by_label("Search leads").fill(person["name"])
    await expect(page.locator(f'[data-lead-link="{person["id"]}"]').first).to_have_text(
        person["name"]
    )
    await screenshot(page, f"meeting-lead-search-{width}")

    # Opening a lead changes the address, moves the focus to it, and the address opens it.
    await page.locator(f'table [data-lead-link="{person["id"]}"]').click()
    await expect(page).to_have_url(re.compile(f"#/pipeline/lead/{person['id']}$"))
    await expect(page.locator("#lead-title")).to_have_text(person["name"])
    await expect(page.locator("#lead-title")).to_be_focused()
    if person["title"]:
        await expect(page.locator("[data-lead-line]")).to_contain_text(person["title"])
    await screenshot(page, f"meeting-lead-page-{width}")
    other, _ = await open_page(browser, width)
    await sign_in(other, demo)
    await other.goto(f"{demo.gateway_url}/app/#/pipeline/lead/{person['id']}")
    await expect(other.locator("#lead-title")).to_have_text(person["name"])

    # Sort by score on the server, then page to the very last lead.
    await page.get_by_role("button", name="Close lead").click()
    await page.get_by_label("Search leads").fill("")
    await expect(page.locator("[data-lead-count]")).to_have_attribute("data-lead-count", str(total))
    await page.locator('th button[data-sort="score"]').click()
    await expect(page.locator('th[aria-sort="descending"] [data-sort="score"]')).to_have_count(1)
    first_page = [e["node"]["id"] for e in named["edges"]]
    await expect(page.locator("tbody [data-lead-link]").first).to_have_attribute(
        "data-lead-link", first_page[0]
    )
    shown = [
        await a.get_attribute("data-lead-link")
        for a in await page.locator("tbody [data-lead-link]").all()
    ]
    assert shown == first_page
    more = page.get_by_role("button", name=re.compile(r"^Show \d+ more"))
    listed = page.locator("tbody [data-lead-link]")
    while await more.count():
        before = await listed.count()
        await more.click()
        await expect(listed).not_to_have_count(before)
    await expect(page.locator("tbody [data-lead-link]")).to_have_count(total)
    assert console.errors == []


async def test_periods_compare_the_same_elapsed_span_and_rates_in_points(
    browser: Browser, demo: Tenant
) -> None:
    page, console = await open_page(browser)
    monday = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
    await page.clock.set_fixed_time(monday)
    await sign_in(page, demo)
    await go(page, demo, "overview", '[data-metric="leadsCreated"]')
    await page.locator("label.period select").select_option("this-week")
    span = page.locator("[data-period-from]")
    await expect(span).to_have_attribute("data-period-to", "2026-11-16T10:00:00.000Z")
    await expect(page.locator("[data-previous-from]")).to_have_attribute(
        "data-previous-from", "2026-11-09T00:00:00.000Z"
    )
    await expect(page.locator("[data-previous-to]")).to_have_attribute(
        "data-previous-to", "2026-11-09T10:00:00.000Z"
    )
    await expect(span).to_contain_text("so far")
    api = await demo.gql(
        '{ now: metrics(from: "2026-11-16T00:00:00Z", to: "2026-11-16T10:00:00Z")'
        " { leadsCreated } }"
    )
    await expect(page.locator('[data-metric="leadsCreated"]')).to_have_attribute(
        "data-value", str(api["now"]["leadsCreated"])
    )
    await screenshot(page, "meeting-this-week-on-monday")

    await page.locator("label.period select").select_option("last-90-days")
    await page.locator('[data-metric="winRate"]').wait_for()
    # A rate changes in points; a change on a base under 5 is absolute, never a percentage.
    deltas = page.locator("[data-delta]")
    await deltas.first.wait_for()
    start, _ = last_90_days()
    before_start = (
        datetime.fromisoformat(start[:19]).replace(tzinfo=UTC) - timedelta(days=90)
    ).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    previous = (
        await demo.gql(
            "query ($f: DateTime!, $t: DateTime!) { metrics(from: $f, to: $t)"
            " { leadsCreated mqls sqls dealsWon winRate } }",
            {"f": before_start, "t": start},
        )
    )["metrics"]
    tile = page.locator('.kpi:has([data-metric="winRate"]) [data-delta]')
    if previous["winRate"] is not None:
        await expect(tile).to_have_attribute("data-delta", re.compile(r" pp$|^no change$"))
    for name in ("leadsCreated", "mqls", "sqls", "dealsWon"):
        delta = page.locator(f'.kpi:has([data-metric="{name}"]) [data-delta]')
        if previous[name] is not None and previous[name] < 5 and await delta.count():
            assert "%" not in (await delta.get_attribute("data-delta") or ""), name
    # Every tile has its definition.
    await expect(page.locator(".kpi .info")).to_have_count(14)

    for option in ("this-quarter", "last-quarter", "last-month"):
        await page.locator("label.period select").select_option(option)
        await expect(span).not_to_have_attribute("data-period-from", "")
    await page.locator("label.period select").select_option("custom")
    await page.get_by_label("First day").fill("2026-10-01")
    await page.get_by_label("Last day").fill("2026-10-31")
    await expect(span).to_have_attribute("data-period-from", "2026-10-01T00:00:00.000Z")
    await expect(span).to_have_attribute("data-period-to", "2026-11-01T00:00:00.000Z")
    await expect(page.locator("[data-previous-from]")).to_have_attribute(
        "data-previous-from", "2026-08-31T00:00:00.000Z"
    )
    await page.get_by_label("Last day").fill("2026-09-01")
    await expect(page.get_by_role("alert")).to_contain_text("on or after the first day")

    # SLA announces a comparison and shows it.
    await go(page, demo, "sla", '[data-sla="mqls"]')
    await expect(page.locator(".kpi-prev").first).to_be_visible()
    await screenshot(page, "meeting-sla-compared")
    assert console.errors == []


async def test_one_number_one_meaning(browser: Browser, demo: Tenant) -> None:
    page, console = await open_page(browser)
    await sign_in(page, demo)
    await go(page, demo, "overview", '[data-metric="leadsCreated"]')
    tile = float(
        await page.locator('[data-metric="leadsCreated"]').get_attribute("data-value") or 0
    )
    await page.get_by_text("Lead volume as a table").click()
    cells = await page.locator(
        'table:has(caption:text-matches("New leads and MQLs per")) tbody tr td:nth-child(2)'
    ).all_inner_texts()
    assert sum(int(c.replace(",", "")) for c in cells) == tile
    # The funnel's conversions are of the same leads: never above 100 %.
    rates = await page.locator("[data-funnel-rate]").all_inner_texts()
    assert rates and all(r == "\u2013" or float(r.rstrip("%")) <= 100 for r in rates)
    start, end = last_90_days()
    funnel = (
        await demo.gql(
            "query ($f: DateTime!, $t: DateTime!) { cohortFunnel(from: $f, to: $t)"
            " { fromStage entered converted } }",
            {"f": start, "t": end},
        )
    )["cohortFunnel"]
    for step in funnel:
        await expect(page.locator(f'[data-funnel-converted="{step["fromStage"]}"]')).to_have_text(
            f"{step['converted']:,}"
        )

    # Attribution: every campaign is on the chart, the smallest as "Other".
    await go(page, demo, "attribution", "[data-model]")
    keys = "els => els.map(e => e.dataset.key)"
    # Named channels; "(…)" rows (no touch recorded) belong to both groupings.
    channels = {k for k in await page.locator("[data-key]").evaluate_all(keys) if k[:1] != "("}
    await page.get_by_label("Group by").select_option("CAMPAIGN")
    canvas = page.locator("canvas").first
    await expect(canvas).to_have_attribute("aria-label", re.compile(r"\d+ campaigns"))
    # Campaigns, never the channels still labelled as campaigns while their answer loads.
    shown = await page.locator("[data-key]").evaluate_all(keys)
    assert shown and not channels & set(shown), shown[:5]
    rows = await page.locator("tbody tr").count()
    chart = await canvas.get_attribute("aria-label") or ""
    assert f"{rows} campaigns" in chart, chart
    if rows > 9:
        assert f"the {rows - 8} smallest as Other" in chart
    await screenshot(page, "meeting-attribution-campaigns")

    # The review's first section names what it counts.
    await go(page, demo, "review", '[data-review-sla="mqls"]')
    await expect(page.get_by_role("columnheader", name="Of them MQL now")).to_be_visible()
    await expect(page.get_by_text("Became MQL this week")).to_be_visible()
    assert console.errors == []


@pytest.fixture(scope="module")
async def scoring(platform: Platform) -> Tenant:
    """A tenant of its own, so changing its scoring model leaves the demo tenant alone."""
    return await generated_tenant(platform, "score", 40, seed=7)


async def test_scoring_is_visible_previewed_versioned_and_restorable(
    browser: Browser, scoring: Tenant
) -> None:
    page, console = await open_page(browser)
    await sign_in(page, scoring)
    await go(page, scoring, "settings", "#window-days")
    # A first version to come back to (a new tenant runs on the defaults, version 0).
    await scoring.gql("mutation { updateScoringModel(input: {windowDays: 90}) { version } }")
    config = await scoring.gql("{ tenantConfig { version engagementRules { eventType } } }")
    rules = config["tenantConfig"]["engagementRules"]
    await expect(page.locator("[data-engagement-rule]")).to_have_count(len(rules))

    await page.get_by_label("MQL: minimum engagement").fill("5")
    preview = (
        await scoring.gql(
            "{ scoringModelPreview(input: {mql: {minEngagement: 5}}) { newMqls leadsChecked } }"
        )
    )["scoringModelPreview"]
    await expect(page.locator("[data-preview]")).to_have_attribute(
        "data-preview", str(preview["newMqls"])
    )
    await expect(page.locator("[data-preview]")).to_contain_text(
        f"moves {preview['newMqls']} of {preview['leadsChecked']} leads"
    )
    await page.get_by_label("MQL: minimum engagement").fill("")
    await expect(page.locator("[data-client-problems]")).to_contain_text("Required.")
    await page.get_by_label("MQL: minimum engagement").fill("40")

    # Empty the model: a warning says why every lead is at 0, and the history can undo it.
    for _ in rules:
        await page.get_by_role("button", name=re.compile("^Remove the ")).first.click()
    await page.get_by_role("button", name="Save scoring model").click()
    await expect(page.locator("[data-empty-model]")).to_be_visible()
    history = page.locator("[data-version]")
    await expect(history.first).to_contain_text("Scoring model by ")
    assert "key:" not in await history.first.inner_text()
    await screenshot(page, "meeting-settings-empty-model")
    lead = (await scoring.gql("{ leads(first: 1) { edges { node { id } } } }"))["leads"]
    lead_id = lead["edges"][0]["node"]["id"]
    await page.goto(f"{scoring.gateway_url}/app/#/pipeline/lead/{lead_id}")
    await expect(page.locator("[data-empty-model]")).to_be_visible()
    await screenshot(page, "meeting-lead-empty-model")

    await go(page, scoring, "settings", "#window-days")
    page.once("dialog", lambda dialog: dialog.accept())
    version = config["tenantConfig"]["version"]
    await page.get_by_role("button", name=f"Restore version {version}").click()
    await expect(page.get_by_role("status").filter(has_text="restored")).to_be_visible()
    await expect(page.locator("[data-empty-model]")).to_have_count(0)
    await expect(page.locator("[data-engagement-rule]")).to_have_count(len(rules))
    restored = await scoring.gql("{ tenantConfig { engagementRules { eventType } } }")
    assert restored["tenantConfig"]["engagementRules"] == rules
    assert console.errors == []


async def test_the_weekly_review_is_the_agenda(browser: Browser, demo: Tenant) -> None:
    page, console = await open_page(browser)
    await sign_in(page, demo)
    monday = (BROWSER_NOW - timedelta(days=BROWSER_NOW.weekday() + 7)).date()
    earlier = (monday - timedelta(days=7)).isoformat()
    await demo.gql(
        "mutation ($input: ActionItemInput!) { createActionItem(input: $input) { id } }",
        {
            "input": {
                "title": "Follow up the webinar list",
                "owner": "Kim",
                "team": "MARKETING",
                "weekStart": earlier,
            }
        },
    )
    await go(page, demo, "review", '[data-review-sla="mqls"]')
    review = (
        await demo.gql(
            f'{{ weeklyReview(weekStart: "{monday.isoformat()}") {{ stageMoves {{ opportunityId'
            f" fromStage stage amount lead {{ {PERSON} }} }} contentForDeals {{ opportunityId"
            " suggestions { title } } } }"
        )
    )["weeklyReview"]
    for move in review["stageMoves"][:5]:
        cell = page.locator(f'[data-move="{move["opportunityId"]}"]').first
        await expect(cell).to_contain_text("→")
    with_content = [d for d in review["contentForDeals"] if d["suggestions"]]
    await expect(page.locator("[data-deal-content]")).to_have_count(len(with_content))
    carried = page.locator("[data-carried-over]")
    await expect(
        carried.get_by_label("Title of action item Follow up the webinar list")
    ).to_have_count(1)

    await page.get_by_label("New action item").fill("Send the pricing one-pager")
    await page.get_by_label("Owner", exact=True).fill("Sam")
    await page.get_by_label("Due", exact=True).fill("2026-11-25")
    await page.locator("label:has(> span:text-is('Team')) select").select_option("BOTH")
    await page.get_by_role("button", name="Add").click()
    due = page.get_by_label("Due date of Send the pricing one-pager")
    await expect(due).to_have_value("2026-11-25")
    await expect(page.get_by_label("Team of Send the pricing one-pager")).to_have_value("BOTH")
    async with page.expect_response(lambda r: "UpdateActionItem" in (r.request.post_data or "")):
        await page.get_by_label("Status of Send the pricing one-pager").select_option("IN_PROGRESS")
    # Saved, not only shown: the review read again has the new status.
    await page.reload()
    await page.locator('[data-review-sla="mqls"]').first.wait_for()
    await expect(page.get_by_label("Status of Send the pricing one-pager")).to_have_value(
        "IN_PROGRESS"
    )
    await screenshot(page, "meeting-review-1280")
    page375, _ = await open_page(browser, 375)
    await sign_in(page375, demo)
    await go(page375, demo, "review", '[data-review-sla="mqls"]')
    await screenshot(page375, "meeting-review-375")
    assert console.errors == []


async def test_plain_words_everywhere_and_messages_in_the_users_terms(
    browser: Browser, demo: Tenant
) -> None:
    page, console = await open_page(browser)
    await sign_in(page, demo)
    lead = await demo.gql("{ leads(stage: CUSTOMER, first: 1) { edges { node { id } } } }")
    lead_id = lead["leads"]["edges"][0]["node"]["id"]
    shown: dict[str, list[str]] = {}
    for path, ready in (
        ("overview", '[data-metric="leadsCreated"]'),
        ("pipeline", "[data-lead-count]"),
        (f"pipeline/lead/{lead_id}", "[data-lead-stage]"),
        ("attribution", "[data-model]"),
        ("sla", '[data-sla="mqls"]'),
        ("review", '[data-review-sla="mqls"]'),
        ("settings", "#window-days"),
    ):
        await go(page, demo, path, ready)
        # The text as written (innerText would show headers in their CSS capitals), without
        # what is typed into fields or quoted as code (the connectors' mappings are JSON).
        text = await page.locator("main").evaluate(
            "el => { const c = el.cloneNode(true);"
            " c.querySelectorAll('textarea, pre, code').forEach(t => t.remove());"
            " return c.textContent; }"
        )
        found = sorted(
            {text[max(0, m.start() - 30) : m.end() + 10] for m in INTERNAL.finditer(text)}
        )
        if found:
            shown[path] = found
    assert shown == {}, shown

    await go(page, demo, "settings", "#sla-response")
    await page.get_by_label("First response within (hours)").fill("-5")
    await page.get_by_role("button", name="Save SLA rules").click()
    await expect(page.locator("#sla-response-error")).to_have_text(
        "Enter a number of hours between 0.5 and 8,760."
    )
    await page.get_by_label("First response within (hours)").fill("")
    await page.get_by_role("button", name="Save SLA rules").click()
    await expect(page.locator("#sla-response-error")).to_have_text("Required.")
    await screenshot(page, "meeting-settings-validation")
    assert console.errors == []


async def test_focus_is_visible_and_narrow_tabs_show_they_scroll(
    browser: Browser, demo: Tenant
) -> None:
    page, console = await open_page(browser)
    await sign_in(page, demo)
    await go(page, demo, "overview", '[data-metric="leadsCreated"]')
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    ring = rgb(await page.evaluate("getComputedStyle(document.activeElement).outlineColor"))
    page_bg = rgb(await page.evaluate("getComputedStyle(document.body).backgroundColor"))
    assert contrast(ring, (255, 255, 255)) >= 3, ring
    assert contrast(ring, page_bg) >= 3, (ring, page_bg)

    narrow, _ = await open_page(browser, 375)
    await sign_in(narrow, demo)
    await go(narrow, demo, "overview", '[data-metric="leadsCreated"]')
    tabs = narrow.locator(".tabs-wrap")
    await expect(tabs).to_have_attribute("data-more-right", "true")
    await expect(narrow.locator(".scroll-cue.right")).to_be_visible()
    await screenshot(narrow, "meeting-tabs-375")
    await narrow.locator(".tabs").evaluate("el => el.scrollTo({left: el.scrollWidth})")
    await expect(tabs).to_have_attribute("data-more-right", "false")
    await expect(tabs).to_have_attribute("data-more-left", "true")
    await narrow.locator(".tabs a").filter(has_text="Weekly review").click()
    await narrow.locator('[data-review-sla="mqls"]').wait_for()
    await expect(narrow.locator('.tabs a[aria-current="page"]')).to_be_in_viewport()
    assert console.errors == []
