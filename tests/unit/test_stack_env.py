"""The admin CLI finds the local stack's settings from a fresh shell, and only then."""

from __future__ import annotations

from pathlib import Path

from services.admin.stack_env import load_local_stack_env

ENV_FILE = """# Written by deploy/local/stack.sh up
export TANDEM_DATABASE_URL=postgresql://tandem_app:tandem_app@127.0.0.1:55432/tandem
export TANDEM_KAFKA_BOOTSTRAP=127.0.0.1:19092
export TANDEM_JWT_SECRET='with spaces and a # hash'
"""


def test_a_fresh_shell_gets_the_stack_settings(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_text(ENV_FILE)
    env: dict[str, str] = {"PATH": "/usr/bin"}
    assert load_local_stack_env(env, path)
    assert env["TANDEM_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
    assert env["TANDEM_JWT_SECRET"] == "with spaces and a # hash"


def test_a_configured_environment_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_text(ENV_FILE)
    env = {"TANDEM_DATABASE_URL": "postgresql://elsewhere/tandem"}
    assert not load_local_stack_env(env, path)
    assert env == {"TANDEM_DATABASE_URL": "postgresql://elsewhere/tandem"}
    assert not load_local_stack_env({}, tmp_path / "missing")
