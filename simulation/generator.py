"""Realistic, deterministic B2B journeys for one tenant: demo data, tests and benchmarks.

A lead's journey is simulated forward in time from a deterministic seed per (generator
seed, lead index), so any lead can be regenerated on its own, a stream of a million events
needs no memory beyond one lead, and the same seed always gives the same events. A journey
is cut at `now`: leads created late in the span are still early in their funnel, as in a
live tenant.

The proportions are calibrated against the default scoring model (SPEC 4): a share of the
leads earns enough engagement (or asks for a demo) to become MQL, sales answers most MQLs
within the default 24 h SLA and some late, and accepted leads become opportunities that are
won, lost or still open. Fit (seniority, department, company size, industry) drives both
engagement and conversion, so an ICP derived from the data has real lift.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from shared.domain.config import DEFAULT_ENGAGEMENT_RULES, DEFAULT_REJECTION_REASONS
from shared.validation import CHANNELS as EVENT_CHANNELS

__all__ = ["CHANNELS", "REJECTION_REASONS", "JourneyGenerator"]

_T = TypeVar("_T")

# One source for both lists: the event contract and SPEC 7's defaults.
CHANNELS = EVENT_CHANNELS
REJECTION_REASONS = DEFAULT_REJECTION_REASONS

_HOUR = 3_600
_DAY = 86_400


def _cumulative(weights: Iterable[float]) -> tuple[float, ...]:
    return tuple(itertools.accumulate(weights))


def _pick(rng: random.Random, population: Sequence[_T], cumulative: Sequence[float]) -> _T:
    """random.choices for one item, without re-summing the weights on every call: a million
    events take millions of picks."""
    return population[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


# (name, channel, weekly spend range); channels without a campaign (direct, other) are
# touched without campaign_id, as untracked traffic is.
_CAMPAIGNS = (
    ("brand-search", "paid_search", (1_500, 4_000)),
    ("competitor-search", "paid_search", (800, 2_500)),
    ("linkedin-abm", "paid_social", (2_000, 6_000)),
    ("linkedin-retargeting", "paid_social", (600, 1_800)),
    ("seo-blog", "organic_search", (300, 900)),
    ("community-social", "organic_social", (100, 400)),
    ("nurture-newsletter", "email", (150, 500)),
    ("product-launch-email", "email", (200, 600)),
    ("webinar-revops-benchmarks", "webinar", (500, 1_500)),
    ("webinar-pipeline-velocity", "webinar", (500, 1_500)),
    ("saastr-booth", "event", (3_000, 9_000)),
    ("g2-reviews", "review_site", (400, 1_200)),
    ("techtarget-syndication", "content_syndication", (1_200, 3_000)),
    ("partner-co-marketing", "partner", (300, 1_000)),
    ("outbound-sequences", "outbound", (800, 2_000)),
    ("customer-referrals", "referral", (200, 600)),
)
_CONTENT = (
    "ct-revops-playbook",
    "ct-attribution-guide",
    "ct-state-of-pipeline-report",
    "ct-lead-scoring-checklist",
    "ct-roi-calculator",
    "ct-case-study-fintech",
    "ct-case-study-manufacturing",
    "ct-security-whitepaper",
    "ct-integration-overview",
    "ct-pricing-one-pager",
    "ct-competitor-comparison",
    "ct-implementation-plan",
)
_MESSAGES = (
    "msg-problem-siloed-funnel",
    "msg-impact-wasted-spend",
    "msg-value-one-revenue-number",
    "msg-why-now-budget-planning",
    "msg-proof-40pct-more-pipeline",
    "msg-competitor-vs-spreadsheets",
    "msg-objection-integration-effort",
    "msg-discovery-mql-handoff",
    "msg-value-statement-alignment",
)
_PAGES = (
    "/",
    "/pricing",
    "/product/attribution",
    "/product/lead-scoring",
    "/customers",
    "/blog/what-is-an-mql",
    "/blog/sales-marketing-sla",
    "/blog/multi-touch-attribution",
    "/integrations",
    "/security",
    "/demo",
    "/about",
)
_FORMS = ("newsletter", "content-gate", "webinar-registration", "contact-us", "event-signup")

# Which channels carry each marketing touch, weighted.
_TOUCH_CHANNEL_WEIGHTS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "page_view": (
        (
            "organic_search",
            "direct",
            "paid_search",
            "referral",
            "organic_social",
            "paid_social",
            "email",
            "review_site",
            "partner",
            "other",
        ),
        (30, 20, 12, 8, 8, 8, 6, 4, 2, 2),
    ),
    "email_open": (("email", "outbound"), (85, 15)),
    "email_click": (("email", "outbound"), (85, 15)),
    "ad_click": (("paid_search", "paid_social"), (55, 45)),
    "social_engagement": (("organic_social", "paid_social"), (60, 40)),
    "content_download": (
        ("content_syndication", "organic_search", "paid_social", "email", "partner"),
        (35, 25, 20, 15, 5),
    ),
    "chat_conversation": (("direct", "organic_search", "paid_search"), (50, 30, 20)),
    "webinar_attended": (("webinar",), (1,)),
    "event_attended": (("event",), (1,)),
    "form_submit": (
        (
            "organic_search",
            "paid_search",
            "paid_social",
            "webinar",
            "event",
            "content_syndication",
            "partner",
            "referral",
        ),
        (25, 20, 15, 10, 10, 10, 5, 5),
    ),
    "demo_request": (
        ("paid_search", "organic_search", "direct", "review_site", "referral", "partner"),
        (30, 25, 20, 12, 8, 5),
    ),
}
_TOUCH_CHANNELS = {
    touch: (channels, _cumulative(weights))
    for touch, (channels, weights) in _TOUCH_CHANNEL_WEIGHTS.items()
}
# The default engagement points and caps (SPEC 4), used only to decide when a simulated lead
# has engaged enough to be an MQL; the generator never needs the domain's scoring itself.
_POINTS = {rule.event_type: rule.points for rule in DEFAULT_ENGAGEMENT_RULES}
_CAPS = {
    rule.event_type: rule.max_per_window
    for rule in DEFAULT_ENGAGEMENT_RULES
    if rule.max_per_window is not None
}
_LOW_INTENT = ("page_view", "email_open", "ad_click", "email_click", "social_engagement")
_LOW_INTENT_WEIGHTS = _cumulative((45, 25, 12, 10, 8))
_HIGH_INTENT = (
    "content_download",
    "webinar_attended",
    "form_submit",
    "chat_conversation",
    "event_attended",
    "email_click",
    "page_view",
)
_HIGH_INTENT_WEIGHTS = _cumulative((22, 18, 16, 10, 6, 14, 14))

# (job title, seniority, department, weight)
_PERSONAS = (
    ("Chief Marketing Officer", "c_level", "marketing", 2),
    ("VP Marketing", "vp", "marketing", 4),
    ("Director of Demand Generation", "director", "marketing", 6),
    ("Marketing Operations Manager", "manager", "marketing", 8),
    ("Content Marketing Manager", "manager", "marketing", 5),
    ("Growth Marketer", "individual_contributor", "marketing", 6),
    ("Marketing Coordinator", "entry", "marketing", 4),
    ("Chief Revenue Officer", "c_level", "sales", 2),
    ("VP Sales", "vp", "sales", 4),
    ("Head of Sales", "director", "sales", 4),
    ("Sales Manager", "manager", "sales", 6),
    ("Account Executive", "individual_contributor", "sales", 6),
    ("Sales Development Representative", "entry", "sales", 5),
    ("VP Revenue Operations", "vp", "operations", 3),
    ("RevOps Lead", "manager", "operations", 6),
    ("Sales Operations Analyst", "individual_contributor", "operations", 4),
    ("Chief Operating Officer", "c_level", "operations", 1),
    ("CTO", "c_level", "engineering", 1),
    ("Software Engineer", "individual_contributor", "engineering", 4),
    ("IT Manager", "manager", "it", 2),
    ("CFO", "c_level", "finance", 1),
    ("Financial Analyst", "individual_contributor", "finance", 2),
    ("Founder & CEO", "c_level", "executive", 3),
    ("Consultant", "individual_contributor", "none", 3),
    ("Student", "entry", "none", 3),
)
_PERSONA_WEIGHTS = _cumulative(p[3] for p in _PERSONAS)
_SENIORITY_FIT = {
    "c_level": 0.75,
    "vp": 0.9,
    "director": 0.85,
    "manager": 0.65,
    "individual_contributor": 0.35,
    "entry": 0.1,
}
_DEPARTMENT_FIT = {
    "marketing": 1.0,
    "sales": 0.95,
    "operations": 1.0,
    "executive": 0.8,
    "engineering": 0.35,
    "it": 0.4,
    "finance": 0.45,
    "none": 0.05,
}
# (industry, weight, fit)
_INDUSTRIES = (
    ("software", 24, 1.0),
    ("fintech", 10, 0.9),
    ("professional_services", 10, 0.7),
    ("manufacturing", 10, 0.6),
    ("healthcare", 9, 0.5),
    ("retail", 9, 0.5),
    ("media", 7, 0.6),
    ("telecom", 5, 0.6),
    ("logistics", 6, 0.5),
    ("education", 6, 0.25),
    ("government", 4, 0.15),
)
# (employees lo, hi, weight, fit, typical deal amount)
_COMPANY_SIZES = (
    (1, 10, 10, 0.1, 5_000),
    (11, 50, 18, 0.4, 8_000),
    (51, 200, 24, 0.85, 15_000),
    (201, 1_000, 22, 1.0, 30_000),
    (1_001, 5_000, 14, 0.9, 60_000),
    (5_001, 50_000, 12, 0.6, 120_000),
)
# (country, weight, top-level domain)
_COUNTRIES = (
    ("US", 40, ".com"),
    ("GB", 12, ".co.uk"),
    ("DE", 9, ".de"),
    ("FR", 6, ".fr"),
    ("NL", 4, ".nl"),
    ("CA", 6, ".ca"),
    ("AU", 5, ".com.au"),
    ("SE", 3, ".se"),
    ("ES", 3, ".es"),
    ("IN", 5, ".in"),
    ("BR", 3, ".com.br"),
    ("SG", 2, ".sg"),
    ("JP", 2, ".jp"),
)
_NAME_HEADS = (
    "north",
    "blue",
    "bright",
    "iron",
    "clear",
    "swift",
    "summit",
    "harbor",
    "pixel",
    "quantum",
    "cedar",
    "atlas",
    "nova",
    "silver",
    "red",
    "lumen",
    "vertex",
    "maple",
    "orbit",
    "granite",
)
_NAME_TAILS = (
    "wind",
    "stack",
    "labs",
    "works",
    "flow",
    "logic",
    "soft",
    "grid",
    "point",
    "bridge",
    "forge",
    "ware",
    "ly",
    "hub",
)
_FIRST_NAMES = (
    "ava",
    "ben",
    "chloe",
    "daniel",
    "emma",
    "felix",
    "grace",
    "hugo",
    "isla",
    "jonas",
    "kai",
    "lena",
    "maya",
    "noah",
    "olivia",
    "priya",
    "quinn",
    "ravi",
    "sofia",
    "tom",
    "umar",
    "vera",
    "wei",
    "yuki",
    "zoe",
)
_LAST_NAMES = (
    "anderson",
    "brown",
    "chen",
    "dubois",
    "evans",
    "fischer",
    "garcia",
    "hansen",
    "ivanova",
    "johnson",
    "kumar",
    "lopez",
    "muller",
    "nakamura",
    "okafor",
    "patel",
    "rossi",
    "schmidt",
    "taylor",
    "weber",
)
_OPPORTUNITY_STAGES = ("discovery", "demo", "proposal", "negotiation")
_OBJECTIONS = (
    ("price", 25, "Budget for this year is already allocated"),
    ("roi", 20, "Hard to quantify the return before a pilot"),
    ("integration", 15, "Worried about the CRM integration effort"),
    ("security", 10, "Needs a security review and DPA"),
    ("timing", 12, "Revisit after the reorg next quarter"),
    ("competitor", 12, "Also evaluating an incumbent tool"),
    ("authority", 6, "The VP has to sign off"),
)
_OBJECTION_WEIGHTS = _cumulative(o[1] for o in _OBJECTIONS)
_COMPETITORS = ("rivalco", "funnelforce", "pipedrift", "leadlytics", "spreadsheets")
_COMPETITOR_WEIGHTS = _cumulative((35, 25, 18, 12, 10))
_LOST_REASONS = (
    ("price", 24),
    ("competitor", 22),
    ("no_decision", 20),
    ("timing", 14),
    ("missing_feature", 10),
    ("budget_cut", 6),
    ("champion_left", 4),
)
_LOST_REASON_WEIGHTS = _cumulative(r[1] for r in _LOST_REASONS)
_DEAL_ACTIVITY = ("sales_email", "sales_call", "meeting_held")
_DEAL_ACTIVITY_WEIGHTS = _cumulative((45, 30, 25))
_FIRST_TOUCHES = ("form_submit", "content_download", "webinar_attended", "event_attended")
_FIRST_TOUCH_WEIGHTS = _cumulative((50, 25, 15, 10))
_INDUSTRY_WEIGHTS = _cumulative(i[1] for i in _INDUSTRIES)
_SIZE_WEIGHTS = _cumulative(s[2] for s in _COMPANY_SIZES)
_COUNTRY_WEIGHTS = _cumulative(c[1] for c in _COUNTRIES)


@dataclass(frozen=True, slots=True)
class _Company:
    account_id: str
    domain: str
    industry: str
    company_size: int
    annual_revenue: float | None
    country: str
    fit: float
    deal_size: int


class _JourneyEnd(Exception):
    """The simulated clock passed `now`: the rest of the journey has not happened yet."""


class JourneyGenerator:
    """Journeys of leads of one tenant, spread over `span_days` ending at `now`.

    Every event is a valid SPEC 2 event for a receiving clock at or after `now` (none is
    later than `now`). `id_prefix` namespaces lead, account and event ids, so two
    generators can feed one tenant without colliding.
    """

    def __init__(
        self,
        tenant_id: str,
        *,
        seed: int = 1,
        now: datetime | None = None,
        span_days: float = 90,
        id_prefix: str = "",
        include_tenant_id: bool = True,
        leads_per_account: int = 3,
    ) -> None:
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if span_days <= 0:
            raise ValueError("span_days must be positive")
        self.tenant_id = tenant_id
        self.seed = seed
        self.now = now
        self.span_days = span_days
        self.id_prefix = id_prefix
        self._include_tenant = include_tenant_id
        self._leads_per_account = max(1, leads_per_account)
        self._end = int(now.timestamp())
        self._start = self._end - int(span_days * _DAY)
        self._campaigns_by_channel: dict[str, list[str]] = {}
        for name, channel, _ in _CAMPAIGNS:
            self._campaigns_by_channel.setdefault(channel, []).append(f"cmp-{name}")

    # -- public API ------------------------------------------------------------------------

    def journey(self, index: int) -> list[dict[str, Any]]:
        """The events of lead number `index`, in time order (anonymous touches included)."""
        return _Journey(self, index).run()

    def journeys(self, count: int | None, start: int = 0) -> Iterator[list[dict[str, Any]]]:
        """Journeys of `count` consecutive leads (endless when `count` is None)."""
        indexes = itertools.count(start) if count is None else range(start, start + count)
        for index in indexes:
            yield self.journey(index)

    def spend(self) -> list[dict[str, Any]]:
        """One `campaign_spend` per paid campaign per week of the span (weeks start Monday)."""
        rng = random.Random(f"{self.seed}:spend")
        first = datetime.fromtimestamp(self._start, UTC)
        monday = (first - timedelta(days=first.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        events = []
        week = monday
        while week.timestamp() <= self._end:
            at = max(int(week.timestamp()), self._start)
            for name, channel, (lo, hi) in _CAMPAIGNS:
                event = self._envelope(
                    f"{self.id_prefix}spend-{name}-{week:%Y-%m-%d}", "campaign_spend", at
                )
                event["campaign_id"] = f"cmp-{name}"
                event["channel"] = channel
                event["properties"] = {"amount": round(rng.uniform(lo, hi), 2)}
                events.append(event)
            week += timedelta(days=7)
        return events

    def events(
        self, leads: int | None, *, start: int = 0, spend: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Lazily, the spend events (if asked) and then every event of the leads, lead by lead.

        With `leads=None` the stream is endless; take what you need with itertools.islice.
        """
        if spend:
            yield from self.spend()
        for journey in self.journeys(leads, start):
            yield from journey

    def time_ordered(self, leads: int, *, spend: bool = True) -> list[dict[str, Any]]:
        """All events of `leads` leads merged in `occurred_at` order, as a live feed sends them."""
        events = list(self.events(leads, spend=spend))
        events.sort(key=lambda e: e["occurred_at"])
        return events

    # -- helpers for _Journey ----------------------------------------------------------------

    def _envelope(self, event_id: str, event_type: str, at: int) -> dict[str, Any]:
        event: dict[str, Any] = {"event_id": event_id}
        if self._include_tenant:
            event["tenant_id"] = self.tenant_id
        event["type"] = event_type
        event["occurred_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at))
        return event

    def _company(self, account: int) -> _Company:
        rng = random.Random(f"{self.seed}:account:{account}")
        industry, _, industry_fit = _pick(rng, _INDUSTRIES, _INDUSTRY_WEIGHTS)
        lo, hi, _, size_fit, deal = _pick(rng, _COMPANY_SIZES, _SIZE_WEIGHTS)
        # Employees are spread log-uniformly inside a band, as real firmographics are.
        size = round(lo * (hi / lo) ** rng.random())
        country, _, tld = _pick(rng, _COUNTRIES, _COUNTRY_WEIGHTS)
        name = rng.choice(_NAME_HEADS) + rng.choice(_NAME_TAILS)
        revenue = round(size * rng.uniform(80_000, 300_000), -3) if rng.random() < 0.7 else None
        # Each company has a domain of its own, except that one pair in ten (the 19th and
        # 20th of every 20) is a parent and a subsidiary sharing one: domain matching meets
        # its ties in a tenant of any size, and a domain never names more than two accounts
        # however many companies there are.
        domain = f"{name}{account}{tld}"
        if account % 20 == 19:
            domain = self._company(account - 1).domain
        return _Company(
            account_id=f"{self.id_prefix}A{account:06d}",
            domain=domain,
            industry=industry,
            company_size=size,
            annual_revenue=revenue,
            country=country,
            fit=(industry_fit + 2 * size_fit) / 3,
            deal_size=deal,
        )


class _Journey:
    """One lead's journey, simulated on a clock that only moves forward."""

    def __init__(self, gen: JourneyGenerator, index: int) -> None:
        self.gen = gen
        self.rng = random.Random(f"{gen.seed}:lead:{index}")
        self.index = index
        self.lead_id = f"{gen.id_prefix}L{index:07d}"
        self.company = gen._company(index // gen._leads_per_account)
        self.events: list[dict[str, Any]] = []
        self.points: dict[str, int] = {}
        self.opportunities = 0
        # Journeys start anywhere in the span; late starters are cut short by `now`.
        self.t = gen._start + int(self.rng.random() * (gen._end - gen._start))

    # -- the story -----------------------------------------------------------------------------

    def run(self) -> list[dict[str, Any]]:
        rng = self.rng
        title, seniority, department, _ = _pick(rng, _PERSONAS, _PERSONA_WEIGHTS)
        fit = 0.45 * _SENIORITY_FIT[seniority] + 0.25 * _DEPARTMENT_FIT[department]
        fit += 0.3 * self.company.fit
        self.traits = self._traits(title, seniority, department)
        try:
            self._arrive()
            if rng.random() < 0.05 + 0.4 * fit:
                self._engage_to_mql(fit)
                self._sales_follow_up(fit)
            else:
                self._browse(rng.randint(1, 6))
        except _JourneyEnd:
            pass
        return self.events

    def _arrive(self) -> None:
        """The first contact: an anonymous visitor who fills a form, a known lead's first
        touch, or a lead imported from a list."""
        rng = self.rng
        if rng.random() < 0.4:
            anonymous_id = f"{self.gen.id_prefix}anon-{self.index:07d}"
            for _ in range(rng.randint(1, 4)):
                touch = "page_view" if rng.random() < 0.8 else "ad_click"
                self._touch(touch, anonymous_id=anonymous_id)
                self._wait(rng.uniform(0.02, 3) * _DAY)
            self._emit("identify", anonymous_id=anonymous_id, properties={"traits": self.traits})
            self._wait(1)
            self._touch("form_submit")
        elif rng.random() < 0.6:
            self._emit("lead_updated", properties={"traits": self.traits})
            self._wait(1)
            self._touch(_pick(rng, _FIRST_TOUCHES, _FIRST_TOUCH_WEIGHTS))
        else:
            # Imported from a list or a badge scan: known before showing any intent.
            self._emit("lead_updated", properties={"traits": self.traits})
            self._wait(rng.uniform(0.1, 3) * _DAY)
            self._touch("email_open" if rng.random() < 0.6 else "page_view")

    def _browse(self, touches: int) -> None:
        """Low-intent engagement that never adds up to an MQL."""
        for _ in range(touches):
            self._wait(self.rng.expovariate(1 / 4) * _DAY + _HOUR)
            touch = _pick(self.rng, _LOW_INTENT, _LOW_INTENT_WEIGHTS)
            if self._score() + _POINTS[touch] >= 35:
                touch = "page_view"
            self._touch(touch)
        if self.rng.random() < 0.05:
            # A change of role: the profile moves, and with it the fit.
            self._wait(self.rng.uniform(5, 30) * _DAY)
            title, seniority, department, _ = _pick(self.rng, _PERSONAS, _PERSONA_WEIGHTS)
            traits = {"job_title": title, "seniority": seniority, "department": department}
            self._emit("lead_updated", properties={"traits": traits})

    def _engage_to_mql(self, fit: float) -> None:
        rng = self.rng
        # Hot leads ask for a demo early (fast track); the rest accumulate engagement.
        if rng.random() < 0.25:
            for _ in range(rng.randint(0, 3)):
                self._wait(rng.uniform(0.1, 4) * _DAY)
                self._touch(rng.choice(("page_view", "email_open", "ad_click")))
            self._wait(rng.uniform(0.05, 2) * _DAY)
            self._touch("demo_request")
            return
        pace = 1.5 + 4 * (1 - fit)  # fitting leads engage faster
        while self._score() < 40:
            self._wait(rng.expovariate(1 / pace) * _DAY + 600)
            self._touch(_pick(rng, _HIGH_INTENT, _HIGH_INTENT_WEIGHTS))

    def _sales_follow_up(self, fit: float) -> None:
        """From MQL: response (mostly within the SLA), disposition, maybe an opportunity."""
        rng = self.rng
        if rng.random() < 0.07:
            self._browse(rng.randint(0, 3))  # never followed up: a breached SLA
            return
        # Response time is log-normal with a 5 h median: about one MQL in ten breaches 24 h.
        self._wait(min(rng.lognormvariate(1.6, 1.2), 480) * _HOUR)
        self._emit("sales_email" if rng.random() < 0.65 else "sales_call")
        for _ in range(rng.randint(0, 2)):
            self._wait(rng.uniform(2, 48) * _HOUR)
            self._emit("sales_email" if rng.random() < 0.55 else "sales_call")
        self._wait(rng.uniform(1, 60) * _HOUR)
        roll = rng.random()
        accept = 0.3 + 0.45 * fit
        if roll < accept:
            self._emit("lead_accepted")
            self._qualified(fit)
        elif roll < accept + (1 - accept) * 0.75:
            self._emit("lead_rejected", properties={"reason": self._rejection_reason(fit)})
            self._nurture(fit)
        elif roll < accept + (1 - accept) * 0.9:
            self._emit("lead_disqualified", properties={"reason": self._rejection_reason(fit)})
            if rng.random() < 0.1:
                self._wait(rng.uniform(10, 60) * _DAY)
                self._emit("lead_requalified")
                self._browse(rng.randint(1, 3))
        else:
            self._browse(rng.randint(1, 4))  # no disposition: sits in MQL

    def _nurture(self, fit: float) -> None:
        rng = self.rng
        self._browse(rng.randint(1, 4))
        if rng.random() < 0.15:
            self._wait(rng.uniform(5, 40) * _DAY)
            self._touch("demo_request")
            self._wait(rng.uniform(1, 20) * _HOUR)
            self._emit("sales_call")
            if rng.random() < 0.5:
                self._wait(rng.uniform(2, 30) * _HOUR)
                self._emit("lead_accepted")
                self._qualified(fit)

    def _qualified(self, fit: float) -> None:
        rng = self.rng
        self._wait(rng.uniform(1, 7) * _DAY)
        if rng.random() < 0.8:
            self._emit("meeting_held")
        if rng.random() < 0.3:
            self._wait(rng.uniform(0.5, 3) * _DAY)
            self._emit("content_shared", properties={"content_id": rng.choice(_CONTENT)})
        if rng.random() < 0.55 + 0.3 * fit:
            self._wait(rng.uniform(1, 14) * _DAY)
            self._opportunity(fit)
        else:
            self._browse(rng.randint(0, 2))

    def _opportunity(self, fit: float) -> None:
        rng = self.rng
        self.opportunities += 1
        opportunity_id = f"{self.lead_id}-O{self.opportunities}"
        amount = round(self.company.deal_size * rng.uniform(0.6, 1.6), -2)
        self._emit(
            "opportunity_created", properties={"opportunity_id": opportunity_id, "amount": amount}
        )
        outcome = rng.random()
        # Win rates of a healthy B2B funnel: about one in three closed deals, better with fit
        # and with behaviour: a lead who came to webinars or events closes more often, which
        # the default scoring rules do not weigh (a learned model finds it).
        live = sum(self.points.get(t, 0) for t in ("webinar_attended", "event_attended"))
        won = outcome < 0.1 + 0.35 * fit + 0.1 * min(live // _POINTS["webinar_attended"], 2)
        lost = not won and outcome < 0.8
        stages = _OPPORTUNITY_STAGES[: rng.randint(1 if lost else 2, 4)]
        for stage in stages:
            self._wait(rng.uniform(2, 12) * _DAY)
            self._emit(
                "opportunity_stage_changed",
                properties={"opportunity_id": opportunity_id, "stage": stage},
            )
            self._deal_activity(opportunity_id)
        self._wait(rng.uniform(2, 15) * _DAY)
        if won:
            won_amount = round(amount * rng.uniform(0.85, 1.2), -2)
            self._emit(
                "deal_won", properties={"opportunity_id": opportunity_id, "amount": won_amount}
            )
            if rng.random() < 0.3:
                self._browse(rng.randint(1, 3))
        elif lost:
            reason = _pick(rng, _LOST_REASONS, _LOST_REASON_WEIGHTS)[0]
            lost_props: dict[str, Any] = {"opportunity_id": opportunity_id, "reason": reason}
            if reason == "competitor" or rng.random() < 0.25:
                lost_props["competitor"] = self._competitor()
            self._emit("deal_lost", properties=lost_props)
        else:
            self._browse(rng.randint(1, 3))  # still open: the deal drags on

    def _deal_activity(self, opportunity_id: str) -> None:
        rng = self.rng
        for _ in range(rng.randint(0, 2)):
            self._wait(rng.uniform(4, 72) * _HOUR)
            self._emit(_pick(rng, _DEAL_ACTIVITY, _DEAL_ACTIVITY_WEIGHTS))
        if rng.random() < 0.3:
            self._wait(rng.uniform(1, 48) * _HOUR)
            category, _, text = _pick(rng, _OBJECTIONS, _OBJECTION_WEIGHTS)
            self._emit(
                "objection_logged",
                properties={"category": category, "text": text, "opportunity_id": opportunity_id},
            )
        if rng.random() < 0.15:
            self._wait(rng.uniform(1, 48) * _HOUR)
            self._emit("competitor_mentioned", properties={"competitor": self._competitor()})
        if rng.random() < 0.35:
            self._wait(rng.uniform(1, 72) * _HOUR)
            self._touch(rng.choice(("webinar_attended", "content_download", "page_view")))

    # -- building blocks -----------------------------------------------------------------------

    def _traits(self, title: str, seniority: str, department: str) -> dict[str, Any]:
        rng, company = self.rng, self.company
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        traits: dict[str, Any] = {
            "email": f"{first}.{last}{self.index % 97}@{company.domain}",
            "job_title": title,
            "seniority": seniority,
            "department": department,
            "industry": company.industry,
            "company_size": company.company_size,
            "country": company.country,
            "company_domain": company.domain,
        }
        if company.annual_revenue is not None:
            traits["annual_revenue"] = company.annual_revenue
        return traits

    def _rejection_reason(self, fit: float) -> str:
        weights = (40 * (1 - fit) + 5, 14, 16, 10, 3, 4, 5, 5)
        return _pick(self.rng, REJECTION_REASONS, _cumulative(weights))

    def _competitor(self) -> str:
        return _pick(self.rng, _COMPETITORS, _COMPETITOR_WEIGHTS)

    def _score(self) -> int:
        return sum(self.points.values())

    def _wait(self, seconds: float) -> None:
        self.t += max(1, int(seconds))
        if self.t > self.gen._end:
            raise _JourneyEnd

    def _emit(
        self,
        event_type: str,
        *,
        anonymous_id: str | None = None,
        properties: dict[str, Any] | None = None,
        **refs: str,
    ) -> None:
        event = self.gen._envelope(f"{self.lead_id}-{len(self.events):03d}", event_type, self.t)
        if anonymous_id is None or event_type == "identify":
            event["lead_id"] = self.lead_id
        if anonymous_id is not None:
            event["anonymous_id"] = anonymous_id
        if event_type in ("identify", "lead_updated", "opportunity_created"):
            event["account_id"] = self.company.account_id
        event.update(refs)
        if properties is not None:
            event["properties"] = properties
        self.events.append(event)
        # Distinct instants keep the fold order independent of arrival order.
        self.t += 1

    def _touch(self, touch: str, *, anonymous_id: str | None = None) -> None:
        rng = self.rng
        channels, weights = _TOUCH_CHANNELS[touch]
        channel = channels[0] if len(channels) == 1 else _pick(rng, channels, weights)
        refs = {"channel": channel}
        campaigns = self.gen._campaigns_by_channel.get(channel)
        if campaigns and rng.random() < 0.9:
            refs["campaign_id"] = rng.choice(campaigns)
        properties: dict[str, Any] | None = None
        if touch in ("content_download", "form_submit", "email_click") and rng.random() < 0.8:
            refs["content_id"] = rng.choice(_CONTENT)
        if touch in ("email_open", "email_click", "ad_click", "social_engagement"):
            refs["message_id"] = rng.choice(_MESSAGES)
        if touch == "page_view":
            path = rng.choice(_PAGES)
            properties = {"url": f"https://www.example.com{path}", "path": path}
        elif touch == "form_submit":
            properties = {"form_id": rng.choice(_FORMS)}
        self._emit(touch, anonymous_id=anonymous_id, properties=properties, **refs)
        cap = _CAPS.get(touch)
        total = self.points.get(touch, 0) + _POINTS[touch]
        self.points[touch] = min(total, cap) if cap else total
