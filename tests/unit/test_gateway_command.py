"""`tandem gateway` trusts forwarded headers from the configured proxies only."""

from __future__ import annotations

from typing import Any

import pytest

from services.admin import cli


def _run_gateway(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict[str, Any]:
    import uvicorn

    import services.gateway.app

    for name in ("TANDEM_TRUSTED_PROXIES",):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TANDEM_JWT_SECRET", "x" * 32)
    seen: dict[str, Any] = {}
    monkeypatch.setattr(services.gateway.app, "create_app", lambda settings: object())
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    monkeypatch.setattr(cli, "configure_logging", lambda: None)
    monkeypatch.setattr(cli, "setup_tracing", lambda *args: None)
    assert cli.main(["gateway", "--port", "8123"]) == 0
    return seen


def test_forwarded_headers_are_believed_from_the_configured_proxies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = _run_gateway(monkeypatch, {"TANDEM_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7"})
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == "10.0.0.0/8,192.0.2.7"


def test_by_default_only_a_proxy_on_the_same_machine_is_believed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _run_gateway(monkeypatch, {})["forwarded_allow_ips"] == "127.0.0.1"
