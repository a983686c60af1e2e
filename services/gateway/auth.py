"""Credentials: API keys (stored as SHA-256 hashes) and HS256 JWTs (SPEC 10)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg
import orjson

ROLES = ("admin", "marketing", "sales", "viewer", "ingest")
KEY_PREFIX = "tdm"


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    role: str
    subject: str  # key id or JWT subject; recorded as the author of config changes


class AuthError(Exception):
    """No credential, or one that does not authenticate."""


def new_api_key() -> tuple[str, str, bytes]:
    """Returns (key id, the key shown once to its owner, the hash that is stored)."""
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, key, hash_key(key)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: dict[str, object], secret: str) -> str:
    header = _b64url(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    payload = _b64url(orjson.dumps(claims))
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64url(signature.digest())}"


def decode_jwt(token: str, secret: str, *, now: float | None = None) -> Principal:
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = orjson.loads(_unb64url(header_b64))
        claims = orjson.loads(_unb64url(payload_b64))
        signature = _unb64url(signature_b64)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise AuthError("malformed token") from exc
    # Both parts decode to any JSON value; only objects are a token (else `.get` fails: 500).
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise AuthError("malformed token")
    if header.get("alg") != "HS256":
        raise AuthError("unsupported token algorithm")
    expected = hmac.new(secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.digest(), signature):
        raise AuthError("bad token signature")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp < (now if now is not None else time.time()):
        raise AuthError("token expired or without exp")
    tenant, role = claims.get("tenant"), claims.get("role")
    if not isinstance(tenant, str) or role not in ROLES:
        raise AuthError("token lacks a tenant or a known role")
    return Principal(tenant_id=tenant, role=str(role), subject=str(claims.get("sub", "jwt")))


def credential_from_headers(headers: Mapping[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return str(auth[7:].strip())
    return None


async def authenticate(pool: asyncpg.Pool, credential: str | None, jwt_secret: str) -> Principal:
    if not credential:
        raise AuthError("missing credential: send X-API-Key or Authorization: Bearer")
    if credential.startswith(f"{KEY_PREFIX}_"):
        row = await pool.fetchrow(
            "SELECT tenant_id, role, key_id FROM tandem_authenticate($1)", hash_key(credential)
        )
        if row is None:
            raise AuthError("unknown or revoked API key")
        return Principal(row["tenant_id"], row["role"], f"key:{row['key_id']}")
    return decode_jwt(credential, jwt_secret)
