"""The worked example of the contract, folded without Kafka: every lead's journey and scores.

Where the example and the text of SPEC.md disagree, the text wins: tests/worked_example.py
holds the text's answer and tests/EXAMPLE_DEVIATIONS.md explains each one.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from shared.domain.config import DEFAULT_CONFIG, TenantConfig
from shared.domain.events import Event
from shared.domain.journey import LeadState, engagement_at, fold_lead
from tests.worked_example import CLOCK, TEXT_OVERRIDES, expected_leads, icp_config, load


def stitched_events(examples_dir: Path) -> dict[str, list[Event]]:
    """Each lead's events, anonymous touches joined to the lead their anonymous_id was
    identified as; seq is the line number."""
    lines = (examples_dir / "sample-events.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    identified = {
        record["anonymous_id"]: record["lead_id"]
        for record in records
        if record["type"] == "identify" and record.get("anonymous_id")
    }
    leads: dict[str, list[Event]] = {}
    for seq, record in enumerate(records, start=1):
        lead_id = record.get("lead_id")
        stitched = lead_id is None and record.get("anonymous_id") in identified
        if stitched:
            lead_id = identified[record["anonymous_id"]]
        if lead_id is None:
            continue
        leads.setdefault(lead_id, []).append(
            Event(
                event_id=record["event_id"],
                type=record["type"],
                occurred_at=datetime.fromisoformat(record["occurred_at"]),
                seq=seq,
                lead_id=lead_id,
                anonymous_id=record.get("anonymous_id"),
                account_id=record.get("account_id"),
                channel=record.get("channel"),
                campaign_id=record.get("campaign_id"),
                content_id=record.get("content_id"),
                message_id=record.get("message_id"),
                properties=record.get("properties", {}),
                stitched=stitched,
            )
        )
    return leads


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
    leads = stitched_events(examples_dir)
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
    for events in stitched_events(examples_dir).values():
        forward = fold_lead(events, DEFAULT_CONFIG)
        backward = fold_lead(list(reversed(events)), DEFAULT_CONFIG)
        assert as_expected(forward, DEFAULT_CONFIG) == as_expected(backward, DEFAULT_CONFIG)
        assert forward.transitions == backward.transitions
