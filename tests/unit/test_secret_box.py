"""Sealing of stored secrets: AES-GCM under a key named by its id, bound to its place."""

from __future__ import annotations

import pytest

from shared.secret_box import SecretBox, SecretsKeyError, key_id

KEY_A = "11" * 32
KEY_B = "22" * 32


def test_sealed_value_opens_only_in_its_place_and_hides_the_clear_text() -> None:
    box = SecretBox.from_env({"TANDEM_SECRETS_KEY": KEY_A})
    sealed = box.seal("pat-123-secret", "crm_connections.token:acme")
    assert "pat-123" not in sealed
    assert sealed.startswith(f"enc:v1:{key_id(bytes.fromhex(KEY_A))}:")
    assert box.open(sealed, "crm_connections.token:acme") == "pat-123-secret"
    # copied into another tenant's row, it does not open
    with pytest.raises(SecretsKeyError):
        box.open(sealed, "crm_connections.token:other")
    # two seals of one value differ (a fresh nonce each time)
    assert box.seal("x", "c") != box.seal("x", "c")


def test_rotation_opens_with_old_keys_and_seals_with_the_new() -> None:
    old = SecretBox.from_env({"TANDEM_SECRETS_KEY": KEY_A})
    sealed = old.seal("whsec_abc", "webhooks.secret:acme")
    new = SecretBox.from_env({"TANDEM_SECRETS_KEY": KEY_B, "TANDEM_SECRETS_OLD_KEYS": KEY_A})
    assert new.needs_rotation(sealed) and not old.needs_rotation(sealed)
    assert new.open(sealed, "webhooks.secret:acme") == "whsec_abc"
    assert not new.needs_rotation(new.seal("whsec_abc", "webhooks.secret:acme"))
    # without the old key, the value names a key nobody holds
    alone = SecretBox.from_env({"TANDEM_SECRETS_KEY": KEY_B})
    with pytest.raises(SecretsKeyError, match="sealed with key"):
        alone.open(sealed, "webhooks.secret:acme")
    # a value stored before sealing reads as it is, and is due for sealing
    assert new.open("legacy-clear", "c") == "legacy-clear" and new.needs_rotation("legacy-clear")


def test_no_key_or_a_short_key_is_refused() -> None:
    with pytest.raises(SecretsKeyError, match="not set"):
        SecretBox.from_env({}).seal("x", "c")
    with pytest.raises(SecretsKeyError, match="64 hex"):
        SecretBox.from_env({"TANDEM_SECRETS_KEY": "abcd"})
