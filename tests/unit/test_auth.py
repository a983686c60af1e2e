"""JWT verification fails closed: no secret, weak secrets, forged, expired, wrong algorithm,
audience or issuer, unknown `kid` are each refused (SPEC 10)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from services.gateway.auth import AuthError, ConfigurationError, JwtVerifier, encode_jwt
from shared.settings import load_settings

SECRET = "s" * 32
OTHER = "o" * 32


def verifier(**changes: Any) -> JwtVerifier:
    settings = dataclasses.replace(
        load_settings(),
        jwt_secret=SECRET,
        jwt_secrets=(),
        jwt_audience=None,
        jwt_issuer=None,
    )
    return JwtVerifier.from_settings(dataclasses.replace(settings, **changes))


def claims(**extra: Any) -> dict[str, Any]:
    # Ten minutes from when the token is made, not from collection: in a full run the unit
    # tests start long after the modules were imported.
    later = int(time.time()) + 600
    now = int(time.time())
    return {"tenant": "acme", "role": "admin", "sub": "ann", "exp": later, "iat": now, **extra}


def refused(check: JwtVerifier, token: str, why: str) -> None:
    with pytest.raises(AuthError, match=why):
        check.verify(token)


def test_a_good_token_authenticates_its_tenant_and_role() -> None:
    principal = verifier().verify(encode_jwt(claims(), SECRET))
    assert (principal.tenant_id, principal.role, principal.subject) == ("acme", "admin", "ann")


def test_no_secret_means_no_gateway() -> None:
    empty = verifier(jwt_secret=None)
    with pytest.raises(ConfigurationError, match="no JWT secret configured"):
        empty.require_keys()
    refused(empty, encode_jwt(claims(), SECRET), "unknown key")


@pytest.mark.parametrize("changes", [{"jwt_secret": "short"}, {"jwt_secrets": (("k1", "x"),)}])
def test_a_secret_under_32_bytes_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="at least 32"):
        verifier(**changes)


def test_forged_and_tampered_tokens_are_refused() -> None:
    refused(verifier(), encode_jwt(claims(), OTHER), "bad token signature")
    good = encode_jwt(claims(), SECRET)
    head, _, signature = good.split(".")
    other_tenant = encode_jwt(claims(tenant="other"), OTHER).split(".")[1]
    refused(verifier(), f"{head}.{other_tenant}.{signature}", "bad token signature")


def test_expired_or_exp_less_tokens_are_refused() -> None:
    refused(verifier(), encode_jwt(claims(exp=int(time.time()) - 60), SECRET), "expired")
    without_exp = {k: v for k, v in claims().items() if k != "exp"}
    refused(verifier(), encode_jwt(without_exp, SECRET), "exp")


def test_only_hs256_is_accepted() -> None:
    refused(verifier(), jwt.encode(claims(), SECRET * 2, algorithm="HS512"), "algorithm")
    unsigned = jwt.encode(claims(), None, algorithm="none")
    refused(verifier(), unsigned, "algorithm")


def test_audience_and_issuer_are_checked_when_configured() -> None:
    check = verifier(jwt_audience="tandem-api", jwt_issuer="https://idp.example.com")
    ok = claims(aud="tandem-api", iss="https://idp.example.com")
    assert check.verify(encode_jwt(ok, SECRET)).tenant_id == "acme"
    refused(check, encode_jwt({**ok, "aud": "another-api"}, SECRET), "not for this service")
    refused(check, encode_jwt({**ok, "iss": "https://evil.example"}, SECRET), "not for this")
    without_aud = {k: v for k, v in ok.items() if k != "aud"}
    refused(check, encode_jwt(without_aud, SECRET), "aud")


def test_keys_rotate_by_kid() -> None:
    check = verifier(jwt_secret=None, jwt_secrets=(("2026-11", SECRET), ("2026-12", OTHER)))
    assert check.verify(encode_jwt(claims(), SECRET, kid="2026-11")).tenant_id == "acme"
    assert check.verify(encode_jwt(claims(), OTHER, kid="2026-12")).tenant_id == "acme"
    # A kid selects exactly one key: another configured key does not verify it.
    refused(check, encode_jwt(claims(), SECRET, kid="2026-12"), "bad token signature")
    refused(check, encode_jwt(claims(), SECRET, kid="retired"), "unknown key")
    refused(check, encode_jwt(claims(), SECRET), "unknown key")


def test_the_gateway_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    # A deployment's environment: its own (here unreachable) database, so the CLI does not
    # fall back to the local stack's settings, and no JWT secret.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env["TANDEM_DATABASE_URL"] = "postgresql://nobody:nothing@127.0.0.1:1/none"
    tandem = str(Path(sys.executable).with_name("tandem"))
    for secret, why in [(None, "no JWT secret configured"), ("too-short", "at least 32 are")]:
        run_env = env if secret is None else {**env, "TANDEM_JWT_SECRET": secret}
        done = subprocess.run(
            [tandem, "gateway", "--port", "1"],
            env=run_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "refusing to start" in done.stderr and why in done.stderr


def test_a_token_says_when_it_was_issued() -> None:
    no_iat = {k: v for k, v in claims().items() if k != "iat"}
    refused(verifier(), encode_jwt(no_iat, SECRET), "iat")
    refused(verifier(), encode_jwt(claims(iat=int(time.time()) + 3600), SECRET), "future")
    issued = int(time.time()) - 5
    assert verifier().verify(encode_jwt(claims(iat=issued), SECRET)).issued_at == issued
