"""Where Tandem may send requests (webhooks, Slack, CRM and Monday.com APIs), and sending
them only there.

A URL's host is resolved once, every address it resolves to is checked, and the request
goes to the checked address itself (`PinnedTransport`), with the Host header and the TLS
server name (SNI, and the certificate check) still the URL's host name. Checking a name and
then letting the HTTP client resolve it again would let a name with a zero TTL answer a
public address to the check and 127.0.0.1 or 10.x to the connection (DNS rebinding).

Refused: loopback, private, link-local (cloud metadata), shared (100.64/10), reserved,
unspecified and multicast addresses, and the IPv6 forms that carry an IPv4 address to one
of them (IPv4-mapped, 6to4, Teredo) or hand it to a NAT64 gateway (64:ff9b::/96 and the
local-use 64:ff9b:1::/48 are refused whole: what they reach depends on the gateway).

Exceptions are explicit networks, never a switch that opens everything:
`TANDEM_EGRESS_ALLOW_NETWORKS` (e.g. `127.0.0.1/32,::1/128` for the local stack's and the
tests' stand-in servers). `TANDEM_WEBHOOK_ALLOW_LOOPBACK=1` is kept as the allow-list
of the loopback networks, `TANDEM_WEBHOOK_ALLOW_PRIVATE=1` as that of the private ones.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Awaitable[list[str]]]

ALLOW_ENV = "TANDEM_EGRESS_ALLOW_NETWORKS"
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
NAT64_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48"))
# Names of metadata services that resolve to link-local addresses inside clouds.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


class UrlRefused(ValueError):
    """The URL is malformed or points where Tandem must not send."""


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class EgressPolicy:
    """The special networks requests may reach anyway (empty in production)."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EgressPolicy:
        env = os.environ if env is None else env
        names = [n.strip() for n in env.get(ALLOW_ENV, "").split(",") if n.strip()]
        if _flag(env, "TANDEM_WEBHOOK_ALLOW_LOOPBACK"):
            names += LOOPBACK_NETWORKS
        if _flag(env, "TANDEM_WEBHOOK_ALLOW_PRIVATE"):
            names += PRIVATE_NETWORKS
        try:
            return cls(tuple(ipaddress.ip_network(n, strict=False) for n in names))
        except ValueError as exc:
            raise ValueError(f"{ALLOW_ENV}: {exc}") from exc

    def allows(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allowed)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address hands traffic to (mapped, 6to4, Teredo client)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_problem(address: str, policy: EgressPolicy) -> str | None:
    """Why a request must not go to `address`, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if policy.allows(ip):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in NAT64_NETWORKS):
            return f"a NAT64 address ({ip})"
        inner = _embedded_v4(ip)
        if inner is not None:
            problem = address_problem(str(inner), policy)
            return None if problem is None else f"{problem} inside {ip}"
    if ip.is_loopback:
        return f"a loopback address ({ip})"
    if ip.is_unspecified or ip.is_multicast:
        return f"a non-routable address ({ip})"
    if not ip.is_global:
        # Covers private, link-local (metadata), reserved and shared address space.
        return f"a private or link-local address ({ip})"
    return None


def check_address(address: str, policy: EgressPolicy) -> None:
    problem = address_problem(address, policy)
    if problem is not None:
        raise UrlRefused(f"url resolves to {problem}")


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
    if host.lower().rstrip(".") in METADATA_HOSTS:
        raise UrlRefused("url host is a cloud metadata service")
    return host


def check_stored_url(url: str, policy: EgressPolicy) -> None:
    """What can be checked of a URL without a lookup (its shape, and its address when it is
    written as one): for a URL saved now and resolved only when a request is sent."""
    host = check_syntax(url)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return
    check_address(host, policy)


async def system_resolver(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve_checked(
    host: str, policy: EgressPolicy, resolver: Resolver = system_resolver
) -> str:
    """The one address a request to `host` goes to; every address the host resolves to must
    be allowed (a name with one bad address is refused, not half-used)."""
    try:
        addresses = await resolver(host)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"url host does not resolve: {host}") from exc
    if not addresses:
        raise UrlRefused(f"url host does not resolve: {host}")
    for address in addresses:
        check_address(address, policy)
    return addresses[0].split("%", 1)[0]


async def check_url(url: str, policy: EgressPolicy, resolver: Resolver = system_resolver) -> None:
    """Raises UrlRefused unless the URL's shape and every address of its host are allowed
    (when the URL is stored; each request is checked again by PinnedTransport)."""
    await resolve_checked(check_syntax(url), policy, resolver)


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends each request to the address it checked: one lookup,
    one check, and the connection made to that address, with Host and SNI kept."""

    def __init__(
        self,
        policy: EgressPolicy,
        resolver: Resolver = system_resolver,
        limits: httpx.Limits | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpx.AsyncHTTPTransport(limits=limits or httpx.Limits())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = check_syntax(str(request.url))
        address = await resolve_checked(host, self._policy, self._resolver)
        extensions = dict(request.extensions)
        if request.url.scheme == "https":
            extensions.setdefault("sni_hostname", host)
        # httpx set Host from the URL's name already; the connection goes to the address.
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=address),
            headers=request.headers,
            stream=request.stream,
            extensions=extensions,
        )
        return await self._inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self._inner.aclose()


def pinned_client(
    policy: EgressPolicy, *, limits: httpx.Limits | None = None, **options: Any
) -> httpx.AsyncClient:
    """An httpx client whose every request goes through PinnedTransport; `limits` sizes its
    connection pool, `options` are the client's (timeout, follow_redirects)."""
    return httpx.AsyncClient(transport=PinnedTransport(policy, limits=limits), **options)
