"""A webhook receiver: records every request and answers as its test scripts it (a status
code, or hanging until released)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tests.standins.http import Answer, Request, Served, Server

Received = Request
# Given the request (and how many came before it), the status to answer with.
Script = Callable[[Received, int], Awaitable[int]]


async def always_ok(request: Received, index: int) -> int:
    return 200


@dataclass
class Receiver(Served):
    script: Script = always_ok
    requests: list[Received] = field(default_factory=list)
    answered: list[tuple[Received, int]] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    server: Server | None = None

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook"

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()

    async def wait_until(self, predicate: Callable[[list[Received]], bool], timeout: float) -> None:
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: predicate(self.requests)), timeout
            )

    async def _handle(self, request: Request) -> Answer:
        index = len(self.requests)
        async with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
        status = await self.script(request, index)
        self.answered.append((request, status))
        return Answer(status, b"ok")
