"""Which webhook URLs Tandem may call: http(s) with a host whose addresses are public.

Link-local (169.254/16, fe80::/10, which holds the cloud metadata services), private,
reserved and multicast addresses are refused unless the operator allows private networks;
loopback only when local development allows it. Host names are resolved and every address
they resolve to must pass, both when a webhook is saved and before each attempt (a name may
be re-pointed later).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

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


def check_address(address: str, *, allow_loopback: bool, allow_private: bool) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        if not allow_loopback:
            raise UrlRefused(f"url resolves to a loopback address ({ip})")
        return
    if ip.is_unspecified or ip.is_multicast:
        raise UrlRefused(f"url resolves to a non-routable address ({ip})")
    if not ip.is_global and not allow_private:
        # Covers private, link-local (metadata), reserved and shared address space.
        raise UrlRefused(f"url resolves to a private or link-local address ({ip})")


async def check_url(url: str, *, allow_loopback: bool, allow_private: bool) -> None:
    """Raises UrlRefused unless every address the URL's host resolves to is allowed."""
    host = check_syntax(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UrlRefused(f"url host does not resolve: {host}") from exc
    for info in infos:
        check_address(str(info[4][0]), allow_loopback=allow_loopback, allow_private=allow_private)
