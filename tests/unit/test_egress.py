"""Outbound requests go to the address that was checked: one lookup per request, the
connection made to that address, the Host header and TLS name still the URL's name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from shared.egress import EgressPolicy, PinnedTransport, UrlRefused, pinned_client

STANDINS = EgressPolicy.from_env({"TANDEM_EGRESS_ALLOW_NETWORKS": "127.0.0.1/32"})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A plain HTTP server on 127.0.0.1 that records each request's head."""
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, heads


async def test_a_rebinding_name_is_looked_up_once_and_reached_at_the_checked_address(
    receiver: tuple[int, list[bytes]],
) -> None:
    port, heads = receiver
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])
    lookups: list[str] = []

    async def rebinding(host: str) -> list[str]:
        # a zero-TTL name: a later lookup would answer another address
        lookups.append(host)
        return next(answers)

    async with httpx.AsyncClient(transport=PinnedTransport(STANDINS, rebinding)) as client:
        response = await client.post(f"http://hooks.example:{port}/in", content=b"{}")
    assert response.status_code == 204
    assert lookups == ["hooks.example"]
    assert f"host: hooks.example:{port}".encode() in heads[0].lower()
    # the next request looks up again, and its (now private) address is refused unsent
    async with httpx.AsyncClient(transport=PinnedTransport(STANDINS, rebinding)) as client:
        with pytest.raises(UrlRefused, match="private"):
            await client.post(f"http://hooks.example:{port}/in", content=b"{}")
    assert len(heads) == 1


async def test_a_name_with_any_refused_address_is_refused() -> None:
    async def mixed(host: str) -> list[str]:
        return ["93.184.216.34", "64:ff9b::a9fe:a9fe"]

    async with httpx.AsyncClient(transport=PinnedTransport(EgressPolicy(), mixed)) as client:
        with pytest.raises(UrlRefused, match="NAT64"):
            await client.get("https://api.example/x")


async def test_the_default_client_refuses_loopback_without_an_allow_list(
    receiver: tuple[int, list[bytes]],
) -> None:
    port, heads = receiver
    async with pinned_client(EgressPolicy()) as client:
        with pytest.raises(UrlRefused, match="loopback"):
            await client.get(f"http://127.0.0.1:{port}/")
    async with pinned_client(STANDINS) as client:
        assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 204
    assert len(heads) == 1
