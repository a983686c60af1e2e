"""SPEC 17: the data-driven (Markov chain) attribution model, pinned on hand-computed chains
and checked against ChannelAttribution's `markov_model` on generated journeys."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from ChannelAttribution import markov_model
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.attribution import NONE_KEY, Conversion
from shared.domain.data_driven import fit_tenant
from shared.domain.events import MARKETING_TOUCHES, Event
from shared.domain.markov import (
    CONVERSION,
    EMPTY_MODEL,
    NULL,
    START,
    Transition,
    credit_conversion,
    fit,
    lead_path,
    split_credit,
)
from simulation.generator import JourneyGenerator

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def test_two_channel_chain_matches_hand_computation() -> None:
    # start→A 2/3, start→B 1/3; A→conv 1/2, A→B 1/2; B→conv 1/2, B→null 1/2.
    # x_B = 1/2, x_A = 1/2 + 1/2·1/2 = 3/4, P(conv) = 2/3·3/4 + 1/3·1/2 = 2/3.
    # Without A: 1/3·1/2 = 1/6 → 1 - 1/4 = 3/4. Without B: 2/3·1/2 = 1/3 → 1 - 1/2 = 1/2.
    model = fit([(("A",), True), (("A", "B"), True), (("B",), False)])
    assert (model.paths, model.conversions) == (3, 2)
    effects = model.effects()
    assert effects["A"] == pytest.approx(0.75, abs=1e-12)
    assert effects["B"] == pytest.approx(0.5, abs=1e-12)
    assert model.transitions == (
        Transition(START, "A", 2 / 3),
        Transition(START, "B", 1 / 3),
        Transition("A", CONVERSION, 0.5),
        Transition("A", "B", 0.5),
        Transition("B", CONVERSION, 0.5),
        Transition("B", NULL, 0.5),
    )


def test_cycle_between_channels_is_solved_not_truncated() -> None:
    # A→B 1/2, A→conv 1/2; B→A 1/2, B→null 1/2: x_A = 1/2 + x_B/2, x_B = x_A/2 → x_A = 2/3,
    # x_B = 1/3; P(conv) = 1/2·2/3 + 1/2·1/3 = 1/2. Without A nothing converts (effect 1);
    # without B: x_A = 1/2, P = 1/4 → effect 1/2.
    model = fit([(("A", "B", "A"), True), (("B",), False)])
    assert model.effects() == pytest.approx({"A": 1.0, "B": 0.5}, abs=1e-12)


def test_repeats_are_kept_as_self_transitions_without_changing_effects() -> None:
    repeated = fit([(("A", "A", "B"), True), (("B", "B"), False), (("A",), False)])
    collapsed = fit([(("A", "B"), True), (("B",), False), (("A",), False)])
    assert Transition("A", "A", 1 / 3) in repeated.transitions
    assert Transition("B", "B", 1 / 3) in repeated.transitions
    assert repeated.effects() == pytest.approx(collapsed.effects(), abs=1e-12)


def test_no_conversion_gives_zero_effects_and_no_path_an_empty_model() -> None:
    assert fit([(("A", "B"), False)]).effects() == {"A": 0.0, "B": 0.0}
    assert fit([]) == EMPTY_MODEL


def test_lead_path_cuts_at_the_conversion_and_names_missing_channels() -> None:
    touches = [(T0, "email"), (T0 + timedelta(hours=1), None), (T0 + timedelta(days=2), "email")]
    assert lead_path(touches, T0 + timedelta(hours=1)) == (("email", NONE_KEY), True)
    assert lead_path(touches, None) == (("email", NONE_KEY, "email"), False)
    # Touches only after the conversion: nothing to learn from, the lead is left out.
    assert lead_path(touches, T0 - timedelta(seconds=1)) is None
    assert lead_path([], None) is None


def test_credit_follows_removal_effects_and_splits_a_channel_over_its_touches() -> None:
    effects = {"A": 0.75, "B": 0.5}
    assert split_credit(["A", "B"], effects) == pytest.approx([0.6, 0.4])
    assert split_credit(["A", "B", "A"], effects) == pytest.approx([0.3, 0.4, 0.3])
    # All zero (or channels the model has not seen): equal split over distinct channels.
    assert split_credit(["C", "C", "D"], effects) == pytest.approx([0.25, 0.25, 0.5])
    assert split_credit(["A", "C"], {"A": 0.0}) == pytest.approx([0.5, 0.5])


_channels = st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=6)


@given(st.lists(st.tuples(_channels, st.booleans()), min_size=1, max_size=30))
def test_effects_are_fractions_and_transitions_are_distributions(
    paths: list[tuple[list[str], bool]],
) -> None:
    model = fit(paths)
    assert all(0.0 <= e <= 1.0 for _, e in model.removal_effects)
    totals: dict[str, float] = {}
    for source, target, p in model.transitions:
        assert target != START and source not in (CONVERSION, NULL)
        totals[source] = totals.get(source, 0.0) + p
    assert all(math.isclose(t, 1.0) for t in totals.values())
    # The only way out of start is indispensable once anything converts.
    first = {c[0] for c, _ in paths}
    if len(first) == 1 and model.conversions:
        assert model.effects()[first.pop()] == pytest.approx(1.0)


@given(_channels, st.dictionaries(st.sampled_from("ABCDE"), st.floats(0, 1)))
def test_credit_of_a_conversion_sums_to_one(channels: list[str], effects: dict[str, float]) -> None:
    assert math.fsum(split_credit(channels, effects)) == pytest.approx(1.0)


def journey_paths(
    journeys: Iterable[list[dict[str, Any]]], kind: str
) -> list[tuple[tuple[str, ...], bool]]:
    """Each generated lead's path: its touches, anonymous ones once identified (a journey
    only identifies its own anonymous id), up to its first opportunity or first win."""
    conversion_type = "opportunity_created" if kind == "PIPELINE" else "deal_won"
    paths = []
    for journey in journeys:
        identified = {e.get("anonymous_id") for e in journey if e["type"] == "identify"}
        touches = [
            (datetime.fromisoformat(e["occurred_at"]), e.get("channel"))
            for e in journey
            if e["type"] in MARKETING_TOUCHES
            and ("lead_id" in e or e.get("anonymous_id") in identified)
        ]
        converted = [
            datetime.fromisoformat(e["occurred_at"])
            for e in journey
            if e["type"] == conversion_type
        ]
        path = lead_path(touches, min(converted) if converted else None)
        if path is not None:
            paths.append(path)
    return paths


def generated_paths(leads: int, kind: str) -> list[tuple[tuple[str, ...], bool]]:
    gen = JourneyGenerator("t-markov", seed=7, now=T0, span_days=120)
    return journey_paths(gen.journeys(leads), kind)


def reference_shares(paths: Sequence[tuple[tuple[str, ...], bool]]) -> dict[str, float]:
    """ChannelAttribution's order-1 removal effects, normalised to sum to 1."""
    rows: dict[str, list[int]] = {}
    for channels, converted in paths:
        counts = rows.setdefault(" > ".join(channels), [0, 0])
        counts[0 if converted else 1] += 1
    data = pd.DataFrame(
        [(p, conv, null) for p, (conv, null) in rows.items()], columns=["path", "conv", "null"]
    )
    result = markov_model(
        data,
        var_path="path",
        var_conv="conv",
        var_null="null",
        order=1,
        out_more=True,
        sep=">",
        verbose=False,
        flg_pro=False,
        seed=1,
    )
    effects = result["removal_effects"]
    raw = dict(zip(effects["channel_name"], effects["removal_effect"], strict=True))
    total = math.fsum(raw.values())
    return {str(c).strip(): e / total for c, e in raw.items()}


@pytest.mark.parametrize("kind", ["PIPELINE", "REVENUE"])
def test_normalised_effects_agree_with_channel_attribution(kind: str) -> None:
    paths = generated_paths(3000, kind)
    model = fit(paths)
    assert model.conversions > 20
    effects = model.effects()
    total = math.fsum(effects.values())
    ours = {c: e / total for c, e in effects.items()}
    reference = reference_shares(paths)
    assert set(ours) == set(reference)
    for channel, share in ours.items():
        assert share == pytest.approx(reference[channel], abs=0.03), channel


def test_conversion_credit_rows_cover_eligible_touches_only() -> None:
    def touch(event_id: str, hours: int, channel: str | None, kind: str = "page_view") -> Event:
        return Event(event_id, kind, T0 + timedelta(hours=hours), seq=hours, channel=channel)

    touches = [
        touch("t1", 0, "A"),
        touch("t2", 1, None),
        touch("call", 2, None, "sales_call"),
        touch("t3", 3, "A"),
        touch("late", 9, "B"),
    ]
    conversion = Conversion("O1", "PIPELINE", T0 + timedelta(hours=5), 1000.0, T0)
    rows = credit_conversion(touches, conversion, {"A": 0.75, NONE_KEY: 0.25})
    assert [(r.event_id, r.model) for r in rows] == [
        ("t1", "DATA_DRIVEN"),
        ("t2", "DATA_DRIVEN"),
        ("t3", "DATA_DRIVEN"),
    ]
    assert [r.fraction for r in rows] == pytest.approx([0.375, 0.25, 0.375])
    assert [r.amount for r in rows] == pytest.approx([375.0, 250.0, 375.0])
    early = Conversion("O1", "PIPELINE", T0 - timedelta(hours=1), 10.0, T0)
    (only,) = credit_conversion(touches, early, {})
    assert (only.event_id, only.fraction, only.amount) == (None, 1.0, 10.0)


def test_a_tenants_fit_cuts_each_leads_path_at_its_own_conversions() -> None:
    day = timedelta(days=1)
    touches = [
        ("a", T0, "webinar"),
        ("a", T0 + 2 * day, "email"),
        ("b", T0, "email"),
        ("c", T0 + 5 * day, None),
    ]
    # a: opportunity after its first touch, won after both; b and c never convert.
    cutoffs = {"a": (T0 + day, T0 + 3 * day)}
    models = fit_tenant(touches, cutoffs)
    assert models["PIPELINE"] == fit(
        [(("webinar",), True), (("email",), False), ((NONE_KEY,), False)]
    )
    assert models["REVENUE"] == fit(
        [(("webinar", "email"), True), (("email",), False), ((NONE_KEY,), False)]
    )
    assert fit_tenant([], {}) == {"PIPELINE": fit([]), "REVENUE": fit([])}
