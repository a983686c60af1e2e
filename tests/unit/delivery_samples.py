"""Facts the delivery service's unit tests share: a stage transition and a lead row as the
topics and the read model carry them."""

from __future__ import annotations

from datetime import UTC, datetime

AT = datetime(2026, 11, 20, tzinfo=UTC)

LEAD_ROW = {
    "stage": "MQL",
    "fit_score": 50,
    "fit_grade": "B",
    "engagement_score": 30,
    "score": 80,
    "matrix": "B2",
    "mql_at": AT,
}


def transition(to_stage: str, ordinal: int = 2) -> dict[str, object]:
    return {
        "tenant_id": "acme",
        "lead_id": "L-1",
        "ordinal": ordinal,
        "from_stage": "ENGAGED",
        "to_stage": to_stage,
        "at": AT.isoformat(),
        "event_id": "e-9",
        "reason": "fast track",
    }
