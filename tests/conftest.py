"""Settings every test shares. Runs before any test module imports the project."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

# Topic names are fixed at import (shared.kafka), so the test run's own topics must be
# chosen before anything imports the project: a run never reads a dev platform's topics.
RUN_ID = uuid.uuid4().hex[:8]
os.environ.setdefault("TANDEM_TOPIC_PREFIX", f"test-{RUN_ID}.")
# Webhook receivers in tests listen on loopback, which production refuses by default.
os.environ.setdefault("TANDEM_WEBHOOK_ALLOW_LOOPBACK", "1")

REPO = Path(__file__).resolve().parents[1]
