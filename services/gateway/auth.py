"""Credentials: API keys (stored as SHA-256 hashes) and HS256 JWTs (SPEC 10).

JWTs are verified by PyJWT with the algorithm pinned to HS256 (a token naming `none` or an
asymmetric algorithm is refused before any key is tried), `exp` and `iat` required, and
`aud` / `iss` checked when TANDEM_JWT_AUDIENCE / TANDEM_JWT_ISSUER are set. The token's
tenant must exist, and have existed when the token was issued: a token of a deleted tenant
stays refused when its slug is created again. Keys rotate by `kid`: a token
whose header names a `kid` is checked with that key of TANDEM_JWT_SECRETS only; a token
without one with TANDEM_JWT_SECRET. There is no built-in secret: the gateway refuses to
start without one (see `JwtVerifier.require_keys`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg
import jwt
import orjson
from starlette.websockets import WebSocket, WebSocketState

from services.gateway.limits import BoundedTtlCache
from shared.db import tenant_tx
from shared.settings import Settings

log = logging.getLogger("tandem.auth")


class Role(StrEnum):
    """What a credential may do; GraphQL's `Viewer.role` shows this list."""

    ADMIN = "admin"
    MARKETING = "marketing"
    SALES = "sales"
    VIEWER = "viewer"
    INGEST = "ingest"
    # A Segment write key: public by design (it sits in a web page's JavaScript), so it is
    # accepted by the Segment-compatible endpoints only, for marketing touches and identity.
    WRITE_KEY = "write_key"


ROLES = tuple(r.value for r in Role)
KEY_PREFIX = "tdm"
# A share link's token (`/app/share/<token>`): read-only, for the pages the link names.
SHARE_PREFIX = "tsl"
ALGORITHM = "HS256"
# RFC 7518 3.2: an HS256 key at least as long as the hash output (32 bytes).
MIN_SECRET_BYTES = 32
# An open WebSocket re-checks its credential this often, so a revoked key or an expired
# token loses its subscriptions within 5 s (SPEC 10).
RECHECK_INTERVAL_S = 2.0
# Close code of a WebSocket whose credential stopped authenticating (4xxx: application).
WS_CREDENTIAL_REVOKED = 4401
# The running watches, referenced so that they are not garbage-collected mid-connection.
_WATCHES: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    role: str
    subject: str  # key id or JWT subject; recorded as the author of config changes
    issued_at: float | None = None  # a JWT's `iat`; None for API keys
    # A share link's pages (SharePage values): it reads only what those pages show.
    pages: frozenset[str] | None = None


class AuthError(Exception):
    """No credential, or one that does not authenticate."""


class ConfigurationError(Exception):
    """Credential settings the gateway refuses to start with."""


def new_api_key() -> tuple[str, str, bytes]:
    """Returns (key id, the key shown once to its owner, the hash that is stored).

    The key id is also the key's visible prefix (`tdm_<key id>_...`), so an operator can tell
    which stored key a leaked or unwanted key is, and revoke it by that id."""
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, key, hash_key(key)


def key_id_of(text: str) -> str:
    """The id in `abc123`, its prefix `tdm_abc123_` or a whole key `tdm_abc123_...`."""
    if text.startswith(f"{KEY_PREFIX}_"):
        return text.split("_")[1]
    return text


async def insert_key(conn: asyncpg.Connection, slug: str, role: str) -> str:
    """A new key of `role` for the tenant (stored as its hash); returns the key, to be
    shown once."""
    key_id, key, key_hash = new_api_key()
    await conn.execute(
        "INSERT INTO api_keys (tenant_id, key_id, key_hash, role) VALUES ($1, $2, $3, $4)",
        slug,
        key_id,
        key_hash,
        role,
    )
    return key


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def encode_jwt(claims: Any, secret: str, *, kid: str | None = None) -> str:
    """An HS256 token over any JSON claims (tests also sign claims no real token has)."""
    headers = {"kid": kid} if kid else None
    return jwt.api_jws.encode(orjson.dumps(claims), secret, algorithm=ALGORITHM, headers=headers)


@dataclass(frozen=True)
class JwtVerifier:
    default_secret: str | None
    secrets_by_kid: Mapping[str, str]
    audience: str | None = None
    issuer: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtVerifier:
        keys = dict(settings.jwt_secrets)
        for name, secret in [("TANDEM_JWT_SECRET", settings.jwt_secret), *keys.items()]:
            if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
                raise ConfigurationError(
                    f"JWT secret {name} is {len(secret.encode())} bytes; at least"
                    f" {MIN_SECRET_BYTES} are required (e.g. `openssl rand -hex 32`)"
                )
        return cls(settings.jwt_secret, keys, settings.jwt_audience, settings.jwt_issuer)

    def require_keys(self) -> None:
        if not self.default_secret and not self.secrets_by_kid:
            raise ConfigurationError(
                "no JWT secret configured: set TANDEM_JWT_SECRET (at least"
                f" {MIN_SECRET_BYTES} bytes, e.g. `openssl rand -hex 32`) or TANDEM_JWT_SECRETS"
                " (kid=secret,...); there is no built-in default"
            )

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        if header.get("alg") != ALGORITHM:
            raise AuthError("unsupported token algorithm")
        kid = header.get("kid")
        if kid is None:
            secret = self.default_secret
        else:
            secret = self.secrets_by_kid.get(kid) if isinstance(kid, str) else None
        if not secret:
            raise AuthError("token signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat"] + (["aud"] if self.audience else [])},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError("token issued in the future") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("bad token signature") from exc
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as exc:
            raise AuthError(f"token not for this service: {exc}") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        tenant, role = claims.get("tenant"), claims.get("role")
        if not isinstance(tenant, str) or role not in ROLES:
            raise AuthError("token lacks a tenant or a known role")
        return Principal(
            tenant_id=tenant,
            role=str(role),
            subject=str(claims.get("sub", "jwt")),
            issued_at=float(claims["iat"]),
        )


def credential_from_headers(headers: Mapping[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return str(auth[7:].strip())
    return None


# Keys that did not authenticate, remembered briefly so that a flood of them (or one bad
# key retried in a loop) costs no database lookup each; bounded, whatever is sent.
REFUSED_KEYS_MAX = 50_000
REFUSED_KEYS_TTL_S = 60.0


def refused_keys() -> BoundedTtlCache[bytes, str]:
    return BoundedTtlCache(REFUSED_KEYS_MAX, REFUSED_KEYS_TTL_S)


class TenantBirths:
    """When each tenant was created (None: no such tenant), read once per TTL_S per tenant,
    at most MAX_TENANTS remembered: what a JWT's tenant is checked against."""

    TTL_S = 5.0
    MAX_TENANTS = 10_000

    def __init__(self) -> None:
        self._born: BoundedTtlCache[str, tuple[datetime | None]] = BoundedTtlCache(
            self.MAX_TENANTS, self.TTL_S
        )

    async def created_at(self, pool: asyncpg.Pool, tenant_id: str) -> datetime | None:
        found = self._born.get(tenant_id)
        if found is None:
            async with tenant_tx(pool, tenant_id) as conn:
                when = await conn.fetchval(
                    "SELECT created_at FROM tenants WHERE tenant_id = $1", tenant_id
                )
            found = (when,)
            self._born.put(tenant_id, found)
        return found[0]

    async def check(self, pool: asyncpg.Pool, principal: Principal) -> None:
        created = await self.created_at(pool, principal.tenant_id)
        if created is None:
            raise AuthError("token of a tenant that does not exist")
        # `iat` is in whole seconds: a token issued in the second its tenant was created
        # is that tenant's.
        if principal.issued_at is not None and principal.issued_at < int(created.timestamp()):
            raise AuthError("token issued before its tenant was created (a deleted tenant's)")


async def authenticate(
    pool: asyncpg.Pool,
    credential: str | None,
    jwts: JwtVerifier,
    refused: BoundedTtlCache[bytes, str] | None = None,
    births: TenantBirths | None = None,
) -> Principal:
    # Valid keys are looked up on every request, never cached: a revoked key stops at once.
    # Keys are random, so one that was unknown never becomes valid: those are remembered.
    if not credential:
        raise AuthError("missing credential: send X-API-Key or Authorization: Bearer")
    if credential.startswith(f"{KEY_PREFIX}_"):
        digest = hash_key(credential)
        if refused is not None and refused.get(digest) is not None:
            raise AuthError("unknown or revoked API key")
        row = await pool.fetchrow(
            "SELECT tenant_id, role, key_id FROM tandem_authenticate($1)", digest
        )
        if row is None:
            if refused is not None:
                refused.put(digest, "refused")
            raise AuthError("unknown or revoked API key")
        return Principal(row["tenant_id"], row["role"], f"key:{row['key_id']}")
    if credential.startswith(f"{SHARE_PREFIX}_"):
        row = await pool.fetchrow(
            "SELECT tenant_id, link_id, pages FROM tandem_share_authenticate($1)",
            hash_key(credential),
        )
        if row is None:
            raise AuthError("unknown, revoked or expired share link")
        return Principal(
            row["tenant_id"],
            Role.VIEWER.value,
            f"share:{row['link_id']}",
            pages=frozenset(row["pages"]),
        )
    principal = jwts.verify(credential)
    if births is not None:
        await births.check(pool, principal)
    return principal


def watch_credential(
    websocket: WebSocket,
    recheck: Callable[[], Awaitable[Principal]],
    interval_s: float = RECHECK_INTERVAL_S,
) -> asyncio.Task[None]:
    """Closes an open WebSocket (code 4401) once its credential stops authenticating.

    A subscription outlives the handshake that authenticated it; without this, a revoked
    key or an expired token would keep receiving a tenant's changes for hours."""

    def connected() -> bool:
        return (
            websocket.client_state == WebSocketState.CONNECTED
            and websocket.application_state == WebSocketState.CONNECTED
        )

    async def watch() -> None:
        while True:
            await asyncio.sleep(interval_s)
            if not connected():
                return
            try:
                await recheck()
            except AuthError as exc:
                log.info("credential no longer valid; closing WebSocket", extra={"why": str(exc)})
                with contextlib.suppress(RuntimeError, OSError):
                    # A close reason is at most 123 bytes.
                    await websocket.close(WS_CREDENTIAL_REVOKED, f"credential revoked: {exc}"[:120])
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # The credential store being briefly away is no reason to drop subscribers.
                log.warning("credential re-check failed", extra={"error": repr(exc)})

    task = asyncio.create_task(watch(), name="tandem-credential-watch")
    _WATCHES.add(task)
    task.add_done_callback(_WATCHES.discard)
    return task
