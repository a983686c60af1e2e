"""The worked example of the contract, folded without Kafka: every lead's journey and scores.

Where the example and the text of SPEC.md disagree, the text wins: tests/worked_example.py
holds the text's answer and tests/EXAMPLE_DEVIATIONS.md explains each one.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from shared.domain.config import DEFAULT_CONFIG, TenantConfig
from shared.domain.journey import LeadState, engagement_at, fold_lead
from tests.worked_example import (
    CLOCK,
    TEXT_OVERRIDES,
    expected_leads,
    icp_config,
    lead_events,
    load,
)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def as_expected(state: LeadState, config: TenantConfig) -> dict[str, Any]:
    """The lead as the example shows it, after the decay sweep at the pinned clock."""
    engagement = engagement_at(state, config, CLOCK).score
    return {
        "stage": state.stage.value,
        "highestStage": state.highest_stage.value,
        "fitScore": state.fit_score,
        "fitGrade": state.fit_grade,
        "disqualified": state.disqualified,
        "engagementScore": engagement,
        "score": state.fit_score + engagement,
        "createdAt": iso(state.created_at),
        "engagedAt": iso(state.engaged_at),
        "mqlAt": iso(state.mql_at),
        "sqlAt": iso(state.sql_at),
        "opportunityAt": iso(state.opportunity_at),
        "customerAt": iso(state.customer_at),
    }


@pytest.mark.parametrize("name", ["expected.json", "expected-icp.json"])
def test_every_lead_of_the_worked_example(examples_dir: Path, name: str) -> None:
    config = DEFAULT_CONFIG if name == "expected.json" else TenantConfig.from_dict(icp_config())
    want = expected_leads(name)
    leads = lead_events()
    assert set(leads) == set(want)
    got: dict[str, dict[str, Any]] = {}
    for lead_id, events in leads.items():
        state = as_expected(fold_lead(events, config), config)
        got[lead_id] = {key: state[key] for key in want[lead_id]}
    assert got == want


def test_the_overrides_differ_from_the_example(examples_dir: Path) -> None:
    for name, leads in TEXT_OVERRIDES.items():
        expected = load(name)["leads"]
        for lead_id, fields in leads.items():
            for key, value in fields.items():
                assert expected[lead_id][key] != value, (name, lead_id, key)


def test_the_example_folds_the_same_in_reverse_arrival(examples_dir: Path) -> None:
    for events in lead_events().values():
        forward = fold_lead(events, DEFAULT_CONFIG)
        backward = fold_lead(list(reversed(events)), DEFAULT_CONFIG)
        assert as_expected(forward, DEFAULT_CONFIG) == as_expected(backward, DEFAULT_CONFIG)
        assert forward.transitions == backward.transitions
