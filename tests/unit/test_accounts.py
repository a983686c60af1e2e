"""SPEC 17: an account's membership, fit, engagement and stage from its members' state."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.accounts import (
    MEMBER_ENGAGEMENT_CAP,
    AccountOpportunity,
    Member,
    OpenOpportunity,
    account_attribution,
    account_domain,
    compute_account,
    resolve_account,
)
from shared.domain.config import FitRule, TenantConfig
from shared.domain.events import Event

T0 = datetime(2026, 11, 2, tzinfo=UTC)
ICP = TenantConfig(
    fit_rules=(
        FitRule("company_size", "gte", 500, 50),
        FitRule("industry", "eq", "software", 30),
    )
)


def member(lead: str, stage: str = "AWARE", engagement: int = 0, **traits: Any) -> Member:
    return Member(lead, traits.pop("account", "A1"), stage, engagement, traits)


def test_fit_is_the_icp_over_the_traits_most_members_share() -> None:
    members = [
        member("L1", company_size=800, industry="Software"),
        member("L2", company_size=800, industry="retail"),
        member("L3", company_size=20, industry="software"),
    ]
    account = compute_account("A1", members, [], ICP)
    assert account is not None
    # company_size 800 (two of three); industry: one each, ties go to the smallest value.
    assert dict(account.traits) == {"company_size": 800, "industry": "Software"}
    assert (account.fit_score, account.fit_grade) == (80, "A")
    assert [e.points for e in account.fit_evidence] == [50, 30]


def test_engagement_sums_members_each_capped() -> None:
    members = [member("L1", engagement=90), member("L2", engagement=20), member("L3")]
    account = compute_account("A1", members, [], ICP)
    assert account is not None and account.engagement_score == MEMBER_ENGAGEMENT_CAP + 20


def test_stage_is_the_highest_member_stage_and_the_open_opportunity_the_latest() -> None:
    members = [member("L1", "CLOSED_LOST"), member("L2", "ENGAGED"), member("L3", "NURTURE")]
    opportunities = [
        OpenOpportunity("O1", T0),
        OpenOpportunity("O2", T0 + timedelta(days=1)),
    ]
    account = compute_account("A1", members, opportunities, ICP)
    assert account is not None
    assert (account.stage, account.open_opportunity_id) == ("ENGAGED", "O2")
    lost = compute_account(
        "A1", [member("L1", "DISQUALIFIED"), member("L2", "CLOSED_LOST")], [], ICP
    )
    assert lost is not None and lost.stage == "CLOSED_LOST"
    assert compute_account("A1", [], [], ICP) is None


def test_domain_comes_from_members_that_name_the_account() -> None:
    members = [
        member("L1", company_domain="Acme.com"),
        member("L2", company_domain="acme.com "),
        member("L3", account=None, company_domain="other.io"),
        member("L4", company_domain="acme.io"),
    ]
    assert account_domain(members) == "acme.com"
    assert resolve_account("A9", "acme.com", {"acme.com": "A1"}) == "A9"
    assert resolve_account(None, "ACME.com", {"acme.com": "A1"}) == "A1"
    assert resolve_account(None, "nobody.com", {"acme.com": "A1"}) is None
    assert resolve_account(None, None, {"acme.com": "A1"}) is None


_members = st.lists(
    st.builds(
        member,
        st.text("abc", min_size=1, max_size=3),
        st.sampled_from(["AWARE", "MQL", "NURTURE", "CUSTOMER", "CLOSED_LOST"]),
        st.integers(0, 100),
        company_size=st.sampled_from([10, 800, 5000]),
        industry=st.sampled_from(["software", "retail"]),
    ),
    min_size=1,
    max_size=6,
)


@given(_members)
def test_account_does_not_depend_on_member_order(members: list[Member]) -> None:
    first = compute_account("A1", members, [], ICP)
    for order in itertools.islice(itertools.permutations(members), 24):
        assert compute_account("A1", list(order), [], ICP) == first


def _member_touch(n: int, lead_id: str, channel: str, days: int) -> Event:
    return Event(
        event_id=f"t{n}",
        type="page_view",
        occurred_at=T0 + timedelta(days=days),
        seq=n,
        lead_id=lead_id,
        channel=channel,
    )


def test_account_attribution_positions_run_over_every_members_touches() -> None:
    # Two members' touches form one path: first touch credits the first member's channel.
    touches = [_member_touch(1, "a", "webinar", 1), _member_touch(2, "b", "email", 2)]
    won = AccountOpportunity("o1", 1000.0, T0 + timedelta(days=3), T0 + timedelta(days=5), 800.0)
    later = AccountOpportunity("o2", 500.0, T0 + timedelta(days=4))
    first = account_attribution(touches, [won, later], "FIRST_TOUCH", "PIPELINE", {})
    assert sorted((g.key, g.credit, g.amount) for g in first) == [
        ("email", 0.0, 0.0),
        ("webinar", 2.0, 1500.0),
    ]
    linear = account_attribution(touches, [won, later], "LINEAR", "REVENUE", {})
    assert sorted((g.key, g.credit, g.amount) for g in linear) == [
        ("email", 0.5, 400.0),
        ("webinar", 0.5, 400.0),
    ]


def test_account_attribution_data_driven_splits_by_removal_effects() -> None:
    touches = [_member_touch(1, "a", "webinar", 1), _member_touch(2, "b", "email", 2)]
    opportunity = AccountOpportunity("o1", 1000.0, T0 + timedelta(days=3))
    groups = account_attribution(
        touches, [opportunity], "DATA_DRIVEN", "PIPELINE", {"webinar": 3.0, "email": 1.0}
    )
    assert sorted((g.key, g.amount) for g in groups) == [("email", 250.0), ("webinar", 750.0)]
