"""Kafka clients authenticate as their own principal when the deployment says so (SASL/SCRAM
over TLS in production), and speak plaintext to the local one-broker stack."""

from __future__ import annotations

import ssl

import faust
import pytest

from shared.kafka import faust_credentials, security_options

SASL = {
    "TANDEM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "TANDEM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "TANDEM_KAFKA_SASL_USERNAME": "tandem-gateway",
    "TANDEM_KAFKA_SASL_PASSWORD": "from-the-secret",
}


def test_plaintext_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SASL:
        monkeypatch.delenv(name, raising=False)
    assert security_options() == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials() is None


def test_sasl_scram_over_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SASL.items():
        monkeypatch.setenv(name, value)
    options = security_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "tandem-gateway",
        "from-the-secret",
    )
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    credentials = faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "tandem-gateway"


def test_sasl_without_a_password_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SASL.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TANDEM_KAFKA_SASL_PASSWORD")
    with pytest.raises(RuntimeError, match="TANDEM_KAFKA_SASL_PASSWORD"):
        security_options()
