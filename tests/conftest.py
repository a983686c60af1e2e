"""Settings every test shares. Runs before any test module imports the project."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.conftest import Platform

# Topic names are fixed at import (shared.kafka), so the test run's own topics must be
# chosen before anything imports the project: a run never reads a dev platform's topics.
RUN_ID = uuid.uuid4().hex[:8]
os.environ.setdefault("TANDEM_TOPIC_PREFIX", f"test-{RUN_ID}.")
# Webhook receivers and CRM stand-ins in tests listen on 127.0.0.1, which production
# refuses: that address, and no other special one, is allowed.
os.environ.setdefault("TANDEM_EGRESS_ALLOW_NETWORKS", "127.0.0.1/32,::1/128")

REPO = Path(__file__).resolve().parents[1]
# Stored secrets are sealed with this key (shared/secret_box.py) unless the environment
# names one: the tests' own, the same on every run, so that the rows earlier runs left in a
# shared database still open.
os.environ.setdefault("TANDEM_SECRETS_KEY", hashlib.sha256(b"tandem tests").hexdigest())
# The operator's token for the gateway's /metrics.
os.environ.setdefault("TANDEM_METRICS_TOKEN", f"metrics-{RUN_ID}")


# The platform fixtures live here, above both integration and browser tests, so one run
# starts one platform: a fixture defined in two conftest files is two fixtures, and a second
# platform would put a second worker into the same consumer group.
@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("platform-logs")


@pytest.fixture(scope="session")
async def platform(logs_dir: Path) -> AsyncIterator[Platform]:
    from tests.integration.conftest import run_platform

    async for started in run_platform(logs_dir):
        yield started
