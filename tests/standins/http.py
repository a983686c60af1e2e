"""A minimal HTTP/1.1 server on loopback for the stand-ins: keep-alive, Content-Length
bodies, and a handler that sees each request and returns the answer."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Self

import orjson


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None

    @classmethod
    def of_json(cls, status: int, doc: Any, headers: dict[str, str] | None = None) -> Answer:
        return cls(
            status, orjson.dumps(doc), {"content-type": "application/json", **(headers or {})}
        )


Handler = Callable[[Request], Awaitable[Answer]]


class Server:
    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._serve, sock=sock)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                answer = await self._handler(Request(method, path, headers, body))
                extra = "".join(f"{k}: {v}\r\n" for k, v in (answer.headers or {}).items())
                writer.write(
                    f"HTTP/1.1 {answer.status} X\r\ncontent-length: {len(answer.body)}\r\n"
                    f"{extra}\r\n".encode()
                    + answer.body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


class Served:
    """A stand-in answered by its own loopback Server: `start` it, point the code under test
    at `base_url`, stop its `server`."""

    server: Server | None

    async def _handle(self, request: Request) -> Answer:
        raise NotImplementedError

    async def start(self) -> Self:
        self.server = Server(self._handle)
        await self.server.start()
        return self

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return self.server.base_url


class RecordsRefusals(Served):
    """A stand-in that keeps every refusal it answered (other than a 429, which the caller is
    expected to retry) in `refused`, for a test to show the request that was malformed."""

    refused: list[tuple[int, str]]

    def _answer(self, request: Request) -> Answer:
        raise NotImplementedError

    async def _handle(self, request: Request) -> Answer:
        answer = self._answer(request)
        if answer.status >= 400 and answer.status != 429:
            self.refused.append((answer.status, answer.body.decode()))
        return answer
