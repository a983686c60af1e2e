from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "shared/spec/examples"


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The worked example of the product contract (sample events and expected results)."""
    return EXAMPLES_DIR
