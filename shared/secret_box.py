"""Secrets at rest: what Tandem must use again in clear (a webhook's signing secret,
HubSpot's client secret, a CRM token) is stored sealed with AES-GCM under a key from the
environment; what only needs comparing is stored as a hash instead (API keys, Salesforce
connector secrets).

The key is `TANDEM_SECRETS_KEY` (32 random bytes as 64 hex characters, e.g. `openssl rand
-hex 32`). Each sealed value names the id of the key that sealed it (the first 8 hex
characters of the key's SHA-256), so a key can be replaced: put the old one in
`TANDEM_SECRETS_OLD_KEYS` (comma-separated), the new one in `TANDEM_SECRETS_KEY`, and run
`tandem secrets rotate`, which re-seals every stored secret under the new key.

A sealed value is bound to its place (`context`: table, column and tenant) as AES-GCM's
associated data, so a value copied into another tenant's row does not open. Values stored
before sealing existed (no `enc:v1:` prefix) are read as they are until `tandem secrets
rotate` seals them.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc:v1:"
NONCE_BYTES = 12
KEY_ENV = "TANDEM_SECRETS_KEY"
OLD_KEYS_ENV = "TANDEM_SECRETS_OLD_KEYS"

# Stored secrets by table: the columns sealed with a key, and the columns holding a hash.
# Neither kind ever leaves the database in an export; sealed ones are re-sealed by rotate.
SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    "webhooks": ("secret",),
    "connector_settings": ("secret",),
    "crm_connections": ("token",),
    "monday_boards": ("signing_secret",),
}
HASHED_COLUMNS: dict[str, tuple[str, ...]] = {
    "api_keys": ("key_hash",),
    "connector_settings": ("secret_hash",),
    # the key of the tenant's keyed hashes of erased people
    "tenants": ("erasure_key",),
}


class SecretsKeyError(Exception):
    """No usable key for sealing or opening a stored secret."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def context_for(table: str, column: str, tenant_id: str) -> str:
    return f"{table}.{column}:{tenant_id}"


def _parse_key(text: str, name: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SecretsKeyError(
            f"{name} must be 32 random bytes as 64 hex characters (`openssl rand -hex 32`)"
        )
    return key


@dataclass(frozen=True)
class SecretBox:
    """Seals under the current key; opens under it or any older key named by its id."""

    current: bytes | None
    keys: Mapping[str, bytes]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SecretBox:
        env = os.environ if env is None else env
        text = env.get(KEY_ENV, "")
        current = _parse_key(text, KEY_ENV) if text.strip() else None
        keys = {
            key_id(old): old
            for old in (
                _parse_key(part, OLD_KEYS_ENV)
                for part in env.get(OLD_KEYS_ENV, "").split(",")
                if part.strip()
            )
        }
        if current is not None:
            keys[key_id(current)] = current
        return cls(current, keys)

    @property
    def current_id(self) -> str | None:
        return None if self.current is None else key_id(self.current)

    def seal(self, plaintext: str, context: str) -> str:
        if self.current is None:
            raise SecretsKeyError(
                f"{KEY_ENV} is not set: stored secrets are encrypted with it"
                " (32 random bytes as hex, `openssl rand -hex 32`)"
            )
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.current).encrypt(nonce, plaintext.encode(), context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{PREFIX}{key_id(self.current)}:{body}"

    def open(self, stored: str, context: str) -> str:
        if not is_sealed(stored):
            return stored  # stored before sealing existed; `tandem secrets rotate` seals it
        kid, _, body = stored[len(PREFIX) :].partition(":")
        key = self.keys.get(kid)
        if key is None:
            raise SecretsKeyError(
                f"a stored secret is sealed with key {kid}, which neither {KEY_ENV} nor"
                f" {OLD_KEYS_ENV} holds"
            )
        raw = base64.urlsafe_b64decode(body)
        try:
            clear = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except InvalidTag as exc:
            raise SecretsKeyError(f"a stored secret does not open here ({context})") from exc
        return clear.decode()

    def needs_rotation(self, stored: str) -> bool:
        return not is_sealed(stored) or stored[len(PREFIX) :].split(":", 1)[0] != self.current_id


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


_BOX: SecretBox | None = None


def box() -> SecretBox:
    """The process's box, read from the environment on first use."""
    global _BOX
    if _BOX is None:
        _BOX = SecretBox.from_env()
    return _BOX
