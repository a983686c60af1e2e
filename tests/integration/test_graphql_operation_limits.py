"""The GraphQL limits that need the database and real gateways (SPEC 10): a statement over
the request's timeout, rate limits per tenant and credential that hold in total across two
gateway replicas over HTTP and WebSocket, and the subscriptions one connection may run."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from services.gateway.auth import Principal
from services.gateway.context import GatewayContext
from services.gateway.graphql.core.context import RequestContext
from services.gateway.graphql.core.hub import LeadChangeHub
from services.gateway.graphql.core.limits import MAX_SUBSCRIPTIONS_PER_CONNECTION
from services.gateway.graphql.schema import schema
from services.gateway.limits import SharedRateLimiter
from shared.db import create_pool
from shared.settings import load_settings
from tests.integration.conftest import Platform, Process, _free_port
from tests.integration.test_graphql_api import post_graphql

WS_PER_CREDENTIAL = 20
RATE_LIMIT = 250  # per credential and window; each replica reserves 2 at a time
CHEAP = '{ lead(id: "nobody") { id } }'


@asynccontextmanager
async def ws_session(url: str, key: str) -> AsyncIterator[ClientConnection]:
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            orjson.dumps({"type": "connection_init", "payload": {"apiKey": key}}).decode()
        )
        ack = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        yield ws


async def operation_error(ws: ClientConnection, op_ids: Collection[str]) -> dict[str, Any]:
    """The first error the gateway answers for one of the operations `op_ids`."""
    while True:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        if message.get("id") not in op_ids or message["type"] not in ("next", "error"):
            continue
        payload = message.get("payload")
        errors = payload if message["type"] == "error" else (payload or {}).get("errors")
        assert errors, message
        return dict(errors[0])


async def test_a_statement_over_the_timeout_answers_a_typed_error(platform: Platform) -> None:
    tenant, admin = await platform.create_tenant("gql-timeout")
    created = await post_graphql(
        platform.gateway_url,
        admin,
        'mutation { createMessage(input: {kind: VALUE, text: "Fast answers"}) { id } }',
    )
    assert "errors" not in created.json(), created.text
    message_id = created.json()["data"]["createMessage"]["id"]
    # Another transaction holds the message's row: approving it waits on the lock past the
    # gateway's statement timeout (5 s by default).
    async with platform.admin.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT 1 FROM messages WHERE tenant_id = $1 AND message_id = $2 FOR UPDATE",
            tenant,
            message_id,
        )
        response = await post_graphql(
            platform.gateway_url,
            admin,
            "mutation($id: ID!) { approveMessage(id: $id) { status } }",
            {"id": message_id},
        )
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "STATEMENT_TIMEOUT"
    assert error["path"] == ["approveMessage"]
    assert "statement timeout" in error["message"]
    # The refused write left nothing behind: the message is still a draft at version 1.
    after = await post_graphql(
        platform.gateway_url, admin, "query($id: ID!) { message(id: $id) { status version } }",
        {"id": message_id},
    )  # fmt: skip
    assert after.json()["data"]["message"] == {"status": "DRAFT", "version": 1}


@pytest.fixture
async def replicas(platform: Platform, logs_dir: Path) -> AsyncIterator[list[str]]:
    """Two more gateways sharing the database, with a low GraphQL rate limit."""
    env = {
        **platform.gateway.env,
        "TANDEM_GRAPHQL_RATE_LIMIT": str(RATE_LIMIT),
        # A day-long window: the test never straddles two windows in practice.
        "TANDEM_GRAPHQL_RATE_WINDOW_S": "86400",
    }
    tandem = str(Path(sys.executable).with_name("tandem"))
    started: list[tuple[Process, str]] = []
    for name in ("replica-a", "replica-b"):
        port = _free_port()
        process = Process(
            name, [tandem, "gateway", "--port", str(port)], env, logs_dir / f"{name}.log"
        )
        process.start()
        started.append((process, f"http://127.0.0.1:{port}"))
    try:
        async with httpx.AsyncClient() as client:
            for process, url in started:

                async def ready(url: str = url) -> bool:
                    try:
                        return (await client.get(f"{url}/readyz")).status_code == 200
                    except httpx.HTTPError:
                        return False

                await platform.wait_for(ready, 60, f"{process.name} to be ready")
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.kill(signal.SIGTERM)


async def test_the_rate_limit_holds_in_total_across_replicas_and_websockets(
    platform: Platform, replicas: list[str]
) -> None:
    tenant, _ = await platform.create_tenant("gql-rate")
    key = await platform.api_key(tenant, "viewer")
    allowed = refused = 0
    for attempt in range(RATE_LIMIT + 50):
        response = await post_graphql(replicas[attempt % 2], key, CHEAP)
        if response.status_code == 429:
            refused += 1
            [error] = response.json()["errors"]
            assert error["extensions"]["code"] == "RATE_LIMITED"
            assert int(response.headers["retry-after"]) >= 1
        else:
            assert response.status_code == 200 and "errors" not in response.json(), response.text
            allowed += 1
    assert (allowed, refused) == (RATE_LIMIT, 50)

    # Operations over a WebSocket count against the same credential's limit.
    async with ws_session(replicas[0], key) as ws:
        await ws.send(
            orjson.dumps({"id": "q", "type": "subscribe", "payload": {"query": CHEAP}}).decode()
        )
        error = await operation_error(ws, {"q"})
        assert error["extensions"]["code"] == "RATE_LIMITED"

    # Another credential of the same tenant has a limit of its own.
    other = await platform.api_key(tenant, "viewer")
    response = await post_graphql(replicas[1], other, CHEAP)
    assert response.status_code == 200 and "errors" not in response.json()


async def test_a_connection_runs_a_bounded_number_of_subscriptions(platform: Platform) -> None:
    tenant, _ = await platform.create_tenant("gql-subs")
    key = await platform.api_key(tenant, "viewer")
    query = "subscription($id: ID) { leadChanges(leadId: $id) { leadId } }"
    ids = [f"s{n}" for n in range(MAX_SUBSCRIPTIONS_PER_CONNECTION + 1)]
    async with ws_session(platform.gateway_url, key) as ws:
        for op_id in ids:
            subscribe = {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": {"id": f"L-{op_id}"}},
            }
            await ws.send(orjson.dumps(subscribe).decode())
        # One more than the bound: one of them (whichever starts last) is refused.
        error = await operation_error(ws, ids)
        assert error["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS", error
        assert error["extensions"]["limit"] == MAX_SUBSCRIPTIONS_PER_CONNECTION


async def test_two_replicas_admit_the_limit_exactly_and_refuse_without_a_store(
    platform: Platform,
) -> None:
    tenant, _ = await platform.create_tenant("gql-shared")
    pool = await create_pool(platform.database_url)
    try:
        # Two limiters are two replicas; each reserves 2 operations at a time of 250.
        replicas = [SharedRateLimiter(lambda: pool, RATE_LIMIT, 86_400) for _ in range(2)]
        waits = [await replicas[n % 2].acquire(tenant, "key:shared") for n in range(RATE_LIMIT + 9)]
        # The last allowance reserved may be spent after the other replica's first refusal.
        assert waits.count(0.0) == RATE_LIMIT
        assert all(w > 0 for w in waits[RATE_LIMIT + 1 :])
    finally:
        await pool.close()

    # With its store gone, an operation is refused as unavailable, not run uncounted.
    context = RequestContext(
        gateway=GatewayContext(load_settings()),
        hub=LeadChangeHub("127.0.0.1:1"),
        request=None,  # type: ignore[arg-type]
        response=None,
        principal=Principal(tenant, "viewer", "key:gone"),
        rate_limiter=SharedRateLimiter(lambda: pool, RATE_LIMIT, 60),
        rate_key="key:gone",
    )
    result = await schema.execute(CHEAP, context_value=context)
    assert result.errors and (result.errors[0].extensions or {})["code"] == "SERVICE_UNAVAILABLE"


async def _init(ws: ClientConnection, key: str) -> dict[str, Any]:
    """connection_init's answer: the ack, or the close the gateway answers it with."""
    await ws.send(orjson.dumps({"type": "connection_init", "payload": {"apiKey": key}}).decode())
    try:
        return dict(orjson.loads(await asyncio.wait_for(ws.recv(), 10)))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return {"closed": closed.rcvd.code, "reason": closed.rcvd.reason}


async def test_websockets_per_credential_are_capped_and_large_messages_refused(
    platform: Platform,
) -> None:
    tenant, _ = await platform.create_tenant("gql-sockets")
    key = await platform.api_key(tenant, "viewer")
    url = platform.gateway_url.replace("http://", "ws://") + "/graphql"
    opened: list[ClientConnection] = []
    try:
        for _ in range(WS_PER_CREDENTIAL):
            ws = await connect(
                url, subprotocols=["graphql-transport-ws"], local_addr=("127.0.0.6", 0)
            )  # type: ignore[list-item]
            opened.append(ws)
            assert (await _init(ws, key))["type"] == "connection_ack"
        async with connect(
            url, subprotocols=["graphql-transport-ws"], local_addr=("127.0.0.6", 0)
        ) as extra:  # type: ignore[list-item]
            refused = await _init(extra, key)
        assert refused["closed"] == 4429 and "per credential" in refused["reason"]
        # another credential of the tenant has sockets of its own
        other = await platform.api_key(tenant, "viewer")
        async with ws_session(platform.gateway_url, other) as ws:
            # a message over 256 KiB closes the socket (1009: message too big)
            payload = {"query": CHEAP, "variables": {"p": "x" * (300 * 1024)}}
            big = {"id": "big", "type": "subscribe", "payload": payload}
            await ws.send(orjson.dumps(big).decode())
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        # a socket closed gives its slot back
        await opened.pop().close()

        async def slot_free() -> bool:
            async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                return (await _init(ws, key)).get("type") == "connection_ack"

        await platform.wait_for(slot_free, 10, "the closed socket's slot")
    finally:
        for ws in opened:
            await ws.close()


async def test_connection_inits_are_rate_limited_per_address(platform: Platform) -> None:
    url = platform.gateway_url.replace("http://", "ws://") + "/graphql"
    codes = []
    for _ in range(60):
        async with connect(
            url, subprotocols=["graphql-transport-ws"], local_addr=("127.0.0.7", 0)
        ) as ws:  # type: ignore[list-item]
            answer = await _init(ws, "tdm_nobody_guess")
        codes.append(answer.get("closed"))
        if answer.get("closed") == 4429:
            break
    # bad keys are refused (4403) until the address has used up its connection_inits
    assert codes[0] == 4403 and codes[-1] == 4429, codes
