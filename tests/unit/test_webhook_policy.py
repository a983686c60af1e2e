"""Webhook signatures (shared/webhooks.py) and the outbound URL policy (shared/egress.py),
as the delivery service and the webhook mutations use them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.egress import (
    EgressPolicy,
    UrlRefused,
    check_address,
    check_syntax,
    check_url,
)
from shared.webhooks import signature, verify

LOOPBACK = EgressPolicy.from_env({"TANDEM_EGRESS_ALLOW_NETWORKS": "127.0.0.1/32,::1/128"})


def test_signature_is_the_stripe_scheme() -> None:
    # HMAC-SHA256 of "t.body", hex, as `t=<unix>,v1=<hex>`.
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1_700_000_000, body) == f"t=1700000000,v1={expected}"


@given(st.binary(max_size=200), st.text(min_size=1, max_size=20))
def test_signature_verifies_only_the_same_body_and_secret(body: bytes, secret: str) -> None:
    header = signature(secret, 1_000, body)
    assert verify(secret, header, body, now=1_010)
    assert not verify(secret + "x", header, body, now=1_010)
    assert not verify(secret, header, body + b"x", now=1_010)
    assert not verify(secret, header, body, now=1_000 + 301)  # too old: a replay


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "http:///path",
        "https://user:pw@example.com/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "javascript:alert(1)",
    ],
)
def test_malformed_or_metadata_urls_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_syntax(url)


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.5.5",
        "fe80::1",
        "fd00::1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:127.0.0.2",
        # NAT64 hands the embedded IPv4 address to a gateway: refused whole
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::5db8:d822",
        "64:ff9b:1::a00:1",
        # 6to4 and Teredo carrying a private or link-local IPv4 address
        "2002:a00:1::1",
        "2002:a9fe:a9fe::1",
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",
    ],
)
def test_private_link_local_and_metadata_addresses_are_refused(address: str) -> None:
    with pytest.raises(UrlRefused):
        check_address(address, LOOPBACK)


def test_special_networks_only_by_an_explicit_allow_list() -> None:
    with pytest.raises(UrlRefused):
        check_address("127.0.0.1", EgressPolicy())
    check_address("127.0.0.1", LOOPBACK)
    check_address("::1", LOOPBACK)
    # allowing the stand-ins' address allows no other loopback or private address
    with pytest.raises(UrlRefused):
        check_address("127.0.0.2", LOOPBACK)
    with pytest.raises(UrlRefused):
        check_address("10.1.2.3", LOOPBACK)
    check_address("10.1.2.3", EgressPolicy.from_env({"TANDEM_WEBHOOK_ALLOW_PRIVATE": "1"}))
    check_address("93.184.216.34", EgressPolicy())
    check_address("2002:5db8:d822::1", EgressPolicy())  # 6to4 of a public address


async def test_literal_addresses_are_checked_after_resolution() -> None:
    with pytest.raises(UrlRefused):
        await check_url("http://169.254.169.254/latest", LOOPBACK)
    with pytest.raises(UrlRefused):
        await check_url("http://localhost:9/x", EgressPolicy())
    await check_url("http://127.0.0.1:9/x", LOOPBACK)
