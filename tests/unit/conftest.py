from __future__ import annotations

from pathlib import Path

import pytest

from tests.worked_example import EXAMPLES_DIR


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The worked example of the product contract (sample events and expected results)."""
    return EXAMPLES_DIR
