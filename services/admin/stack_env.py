"""The local stack's settings for the admin CLI run from a fresh shell.

`deploy/local/stack.sh up` writes them to <repo>/.state/env. When TANDEM_DATABASE_URL is not
set, the CLI reads that file itself, so `tandem tenant create acme` works without sourcing it
first. A deployment sets TANDEM_* and has no such file: nothing is read then.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import MutableMapping
from pathlib import Path

STACK_ENV = Path(__file__).resolve().parents[2] / ".state" / "env"


def load_local_stack_env(
    env: MutableMapping[str, str] = os.environ, path: Path = STACK_ENV
) -> bool:
    """Sets the variables of the stack's env file that are not set yet; True if it did."""
    if "TANDEM_DATABASE_URL" in env or not path.is_file():
        return False
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            env.setdefault(name, value)
    return True
