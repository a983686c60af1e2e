"""The `Tandem-Signature` header (SPEC 15, the Stripe scheme):
`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the webhook's secret.

A receiver recomputes the HMAC over the timestamp and the raw body it got, compares in
constant time, and rejects a timestamp too far from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Tandem-Signature"
# Receivers should refuse signatures older than this (replay protection).
DEFAULT_TOLERANCE_S = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """True when `header` is a valid signature of `body` made within `tolerance_s` of `now`."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body).rsplit("v1=", 1)[1]
    return any(hmac.compare_digest(expected, v) for v in parts.get("v1", []))
