"""Outbound webhooks (SPEC 15), what both the gateway (saving a subscription) and the
delivery service (sending to it) need: the event types, the URL policy and the signature.

URLs: http(s) with a host whose addresses are public. Link-local (169.254/16, fe80::/10,
which holds the cloud metadata services), private, reserved and multicast addresses are
refused unless the operator allows private networks (TANDEM_WEBHOOK_ALLOW_PRIVATE); loopback
only when local development allows it (TANDEM_WEBHOOK_ALLOW_LOOPBACK). Host names are
resolved and every address they resolve to must pass, both when a webhook is saved and
before each attempt (a name may be re-pointed later).

Signature, the Stripe scheme: `Tandem-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>">` under the webhook's secret. A receiver recomputes the HMAC over the
timestamp and the raw body it got, compares in constant time, and rejects a timestamp too
far from its clock (replays).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit


class WebhookEventType(StrEnum):
    """What a webhook can subscribe to: the delivery service's events and the GraphQL enum
    (which shows the names) are this one list; the value is a body's `type`."""

    LEAD_STAGE_CHANGED = "lead.stage_changed"
    LEAD_MQL = "lead.mql"
    LEAD_SCORE_CHANGED = "lead.score_changed"
    SLA_BREACHED = "sla.breached"
    DEAL_WON = "deal.won"
    DEAL_LOST = "deal.lost"
    ACTION_ITEM_DUE = "action_item.due"
    REVIEW_WINS = "review.wins"


WEBHOOK_EVENT_TYPES = tuple(t.value for t in WebhookEventType)


@dataclass(frozen=True)
class UrlPolicy:
    allow_loopback: bool = False
    allow_private: bool = False

    @classmethod
    def from_env(cls) -> UrlPolicy:
        def flag(name: str) -> bool:
            return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")

        return cls(flag("TANDEM_WEBHOOK_ALLOW_LOOPBACK"), flag("TANDEM_WEBHOOK_ALLOW_PRIVATE"))


# Names of metadata services that resolve to link-local addresses inside clouds.
_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


class UrlRefused(ValueError):
    """The URL is malformed or points where Tandem must not send."""


def check_syntax(url: str) -> str:
    """The URL's host, if its shape is acceptable."""
    if len(url) > 2048:
        raise UrlRefused("url is longer than 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"url is not valid: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("url scheme must be http or https")
    host = parts.hostname
    if not host:
        raise UrlRefused("url has no host")
    if parts.username or parts.password:
        raise UrlRefused("url must not carry credentials")
    if port == 0:
        raise UrlRefused("url port must not be 0")
    if host.lower().rstrip(".") in _METADATA_HOSTS:
        raise UrlRefused("url host is a cloud metadata service")
    return host


def check_address(address: str, policy: UrlPolicy) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        if not policy.allow_loopback:
            raise UrlRefused(f"url resolves to a loopback address ({ip})")
        return
    if ip.is_unspecified or ip.is_multicast:
        raise UrlRefused(f"url resolves to a non-routable address ({ip})")
    if not ip.is_global and not policy.allow_private:
        # Covers private, link-local (metadata), reserved and shared address space.
        raise UrlRefused(f"url resolves to a private or link-local address ({ip})")


async def check_url(url: str, policy: UrlPolicy) -> None:
    """Raises UrlRefused unless every address the URL's host resolves to is allowed."""
    host = check_syntax(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UrlRefused(f"url host does not resolve: {host}") from exc
    for info in infos:
        check_address(str(info[4][0]), policy)


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
