"""What every gateway request shares: settings, the pool, the producer and limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from services.gateway.auth import (
    AuthError,
    JwtVerifier,
    Principal,
    TenantBirths,
    authenticate,
    credential_from_headers,
    refused_keys,
)
from services.gateway.limits import RateLimiter, rate_key
from services.gateway.metrics import AUTH_FAILURES
from services.gateway.quotas import IntakeQuotas
from shared.db import create_pool
from shared.kafka import TOUCHPOINTS, make_producer
from shared.records import Record
from shared.settings import Settings
from shared.tracing import kafka_headers

log = logging.getLogger("tandem.gateway")

SEND_DEADLINE_S = 4.5
# Failed authentications per client address: checked before any credential is, so a flood
# of guesses from one address is refused without a database lookup.
AUTH_FAILURES_PER_S = 10.0
AUTH_FAILURES_BURST = 100.0


class GatewayContext:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jwt = JwtVerifier.from_settings(settings)
        self.limiter = RateLimiter(rate=200.0, burst=400.0)
        self.failures = RateLimiter(rate=AUTH_FAILURES_PER_S, burst=AUTH_FAILURES_BURST)
        self.refused = refused_keys()
        self.births = TenantBirths()
        self.quotas = IntakeQuotas()
        self.pool: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self._producer_task: asyncio.Task[None] | None = None
        self._partitions: int | None = None

    async def start(self) -> None:
        self.pool = await create_pool(self.settings.database_url, max_size=20)
        self._producer_task = asyncio.create_task(self._start_producer())

    async def _start_producer(self) -> None:
        # The gateway comes up even while Kafka is down; ingestion answers 503 until it is back.
        while True:
            producer = make_producer(self.settings.kafka_bootstrap)
            try:
                await producer.start()
            except KafkaConnectionError as exc:
                log.warning("kafka not reachable yet", extra={"error": repr(exc)})
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(1)
                continue
            self.producer = producer
            return

    async def stop(self) -> None:
        if self._producer_task:
            self._producer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._producer_task
        if self.producer:
            await self.producer.stop()
        if self.pool:
            await self.pool.close()

    async def authenticate(self, credential: str | None) -> Principal:
        """The credential's principal (AuthError if none), with the gateway's bounded
        memory of refused keys and of when tenants were created."""
        assert self.pool is not None
        return await authenticate(self.pool, credential, self.jwt, self.refused, self.births)

    def address_refused(self, request: Request) -> Response | None:
        """429 when the caller's address failed to authenticate too often lately."""
        wait = self.failures.wait(client_address(request))
        if not wait:
            return None
        AUTH_FAILURES.labels("address_limited").inc()
        return JSONResponse(
            {
                "error": {
                    "code": "RATE_LIMITED",
                    "message": "too many failed authentications from this address",
                }
            },
            429,
            headers={"Retry-After": str(max(1, round(wait)))},
        )

    def authentication_failed(self, request: Request) -> None:
        self.failures.acquire(client_address(request))

    async def principal(self, request: Request) -> Principal | Response:
        assert self.pool is not None
        refused = self.address_refused(request)
        if refused is not None:
            return refused
        credential = credential_from_headers(request.headers)
        try:
            principal = await self.authenticate(credential)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            log.warning("credential store unavailable", extra={"error": repr(exc)})
            AUTH_FAILURES.labels("unavailable").inc()
            return JSONResponse(
                {"error": {"code": "UNAVAILABLE", "message": "credential store unavailable"}},
                503,
                headers={"Retry-After": "5"},
            )
        except AuthError as exc:
            self.authentication_failed(request)
            AUTH_FAILURES.labels("unauthenticated").inc()
            return JSONResponse(
                {"error": {"code": "UNAUTHENTICATED", "message": str(exc)}},
                401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        # Per tenant and credential: JWTs without a subject do not share one bucket.
        wait = self.limiter.acquire(
            f"{principal.tenant_id}/{rate_key(principal.subject, credential)}"
        )
        if wait:
            AUTH_FAILURES.labels("rate_limited").inc()
            return JSONResponse(
                {"error": {"code": "RATE_LIMITED", "message": "too many requests for this key"}},
                429,
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        return principal

    async def touchpoint_partitions(self) -> int:
        if self._partitions is None:
            producer = self._require_producer()
            found = await asyncio.wait_for(producer.partitions_for(TOUCHPOINTS), SEND_DEADLINE_S)
            self._partitions = len(found)
        return self._partitions

    async def publish_events(self, records: Sequence[Record], topic: str = TOUCHPOINTS) -> None:
        producer = self._require_producer()

        # The request's trace continues in the workers through the records' headers.
        headers = kafka_headers()

        async def send_all() -> None:
            futures = [
                await producer.send(
                    topic, r.value, key=r.key, partition=r.partition, headers=headers
                )
                for r in records
            ]
            await asyncio.gather(*futures)

        try:
            await asyncio.wait_for(send_all(), SEND_DEADLINE_S)
        except (KafkaError, TimeoutError):
            await self._abandon_producer(producer)
            raise

    async def _abandon_producer(self, producer: AIOKafkaProducer) -> None:
        """Drops a producer with batches still queued, and starts a fresh one.

        aiokafka keeps a batch for a partition without a reachable leader until the leader
        returns, then sends it: a request answered 503 would appear later. Cancelling the
        sender fails those batches instead, so 503 means "nothing of it was accepted"."""
        if self.producer is not producer:
            return
        self.producer = None
        self._partitions = None
        log.warning("kafka unreachable; discarding unsent batches and reconnecting")
        await _discard(producer)
        self._producer_task = asyncio.create_task(self._start_producer())

    def _require_producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            raise KafkaConnectionError("producer not connected yet")
        return self.producer


def client_address(request: HTTPConnection) -> str:
    return request.client.host if request.client else "unknown"


async def _discard(producer: AIOKafkaProducer) -> None:
    if producer._sender is not None:
        await producer._sender.close()
    producer._closed = True
    await producer.client.close()
