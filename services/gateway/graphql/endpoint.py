"""/graphql on the gateway: the credential is checked before strawberry sees the request
(HTTP 401 without one), GraphiQL answers a browser's GET, and WebSockets speak
graphql-transport-ws with the credential in connection_init or the handshake headers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from services.gateway.auth import (
    AuthError,
    Principal,
    credential_from_headers,
    watch_credential,
)
from services.gateway.bodies import read_limited
from services.gateway.context import GatewayContext, client_address
from services.gateway.graphql.core.answer_cache import OverviewCache
from services.gateway.graphql.core.context import RequestContext
from services.gateway.graphql.core.errors import BAD_USER_INPUT
from services.gateway.graphql.core.hub import LeadChangeHub
from services.gateway.graphql.schema import schema
from services.gateway.graphql.sockets import (
    INITS_BURST,
    INITS_PER_S,
    WS_TOO_MANY,
    SharedCheck,
    SocketSlots,
)
from services.gateway.limits import GraphQLLimits, RateLimiter, SharedRateLimiter, rate_key
from services.gateway.web import graphiql_html

MAX_BODY_BYTES = 256 * 1024
_PRINCIPAL = "tandem.principal"
_SOCKET = "tandem.socket"
# Headers of the gateway's 401 and 429 answers that keep their meaning on /graphql.
_PASSED_HEADERS = ("www-authenticate", "retry-after")
_CREDENTIAL_PARAMS = ("apiKey", "x-api-key", "X-API-Key", "authorization", "Authorization")


def error_response(status: int, code: str, message: str, headers: dict[str, str]) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def credential_from_params(params: dict[str, Any] | None) -> str | None:
    for name in _CREDENTIAL_PARAMS:
        value = (params or {}).get(name)
        if isinstance(value, str) and value:
            return value[7:].strip() if value.lower().startswith("bearer ") else value
    return None


def is_ide_request(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return (
        request.method == "GET"
        and "query" not in request.query_params
        and ("text/html" in accept or "*/*" in accept)
    )


class TandemGraphQL(GraphQL[RequestContext, None]):
    def __init__(
        self,
        gateway: GatewayContext,
        hub: LeadChangeHub,
        limits: GraphQLLimits,
        rate_limiter: SharedRateLimiter,
        overview: OverviewCache,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            keep_alive=True,
            keep_alive_interval=15,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.gateway = gateway
        self.hub = hub
        self.limits = limits
        self.rate_limiter = rate_limiter
        self.overview = overview
        self.slots = SocketSlots(limits.sockets_per_credential, limits.sockets_per_tenant)
        self.inits = RateLimiter(rate=INITS_PER_S, burst=INITS_BURST)
        self.shared_check = SharedCheck()

    @property
    def graphql_ide_html(self) -> str:
        # Served from the gateway itself: the CDN the stock page names may be unreachable.
        return graphiql_html()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as exc:
            # Strawberry answers a body it cannot read as GraphQL (not JSON, no query, a
            # batch) in plain text; clients parse `errors[].extensions.code` (SPEC 10).
            response = error_response(exc.status_code, BAD_USER_INPUT, exc.reason, {})
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        principal: Principal | None = request.scope.get(_PRINCIPAL)
        context = RequestContext(self.gateway, self.hub, request, response, principal)
        context.limits, context.rate_limiter = self.limits, self.rate_limiter
        context.overview = self.overview
        if principal is not None:
            credential = credential_from_headers(request.headers)
            context.rate_key = rate_key(principal.subject, credential)
        return context

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket, holding its slot from its admission (on_ws_connect) to its end. A
        socket refused for a limit is closed with WS_TOO_MANY instead of strawberry's 4403."""
        state: dict[str, Any] = {}
        scope[_SOCKET] = state

        async def send_with_code(message: Message) -> None:
            if message["type"] == "websocket.close" and "close" in state:
                code, reason = state["close"]
                message = {**message, "code": code, "reason": reason}
            await send(message)

        try:
            await super().__call__(scope, receive, send_with_code)
        finally:
            if "slot" in state:
                self.slots.give_back(*state["slot"])

    def _refuse(self, state: dict[str, Any], reason: str) -> ConnectionRejectionError:
        state["close"] = (WS_TOO_MANY, reason[:120])
        return ConnectionRejectionError({"code": "RATE_LIMITED", "message": reason})

    async def on_ws_connect(self, context: RequestContext) -> None:
        websocket = context.request
        assert isinstance(websocket, WebSocket)
        state: dict[str, Any] = websocket.scope.setdefault(_SOCKET, {})
        address = client_address(websocket)
        # Each connection_init authenticates: per address, both are bounded first.
        if self.inits.acquire(address) or self.gateway.failures.wait(address):
            raise self._refuse(state, "too many connection_init messages from this address")
        credential = credential_from_params(context.connection_params) or credential_from_headers(
            websocket.headers
        )
        try:
            context.principal = await self.gateway.authenticate(credential)
        except AuthError as exc:
            self.gateway.failures.acquire(address)
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": str(exc)}
            ) from exc
        # Every operation of the connection counts against the credential's rate limit.
        context.rate_key = rate_key(context.principal.subject, credential)
        refused = self.slots.take(context.principal.tenant_id, context.rate_key)
        if refused is not None:
            raise self._refuse(state, refused)
        state["slot"] = (context.principal.tenant_id, context.rate_key)

        def recheck() -> Awaitable[Principal]:
            return self.gateway.authenticate(credential)

        # Subscriptions end (close code 4401) within 5 s of the key's revocation or expiry;
        # the sockets of one credential share each check.
        watch_credential(websocket, lambda: self.shared_check.check(credential or "", recheck))


class GraphQLApp:
    """The ASGI app mounted at /graphql; owns the process's lead-change consumer and the
    overview fields' shared answers."""

    def __init__(self, gateway: GatewayContext) -> None:
        self.gateway = gateway
        self.hub = LeadChangeHub(gateway.settings.kafka_bootstrap)
        limits = GraphQLLimits.from_env()
        self.rate_limiter = SharedRateLimiter(
            lambda: gateway.pool, limits.rate_limit, limits.rate_window_s
        )
        self.overview = OverviewCache(lambda: gateway.pool)
        self.view = TandemGraphQL(gateway, self.hub, limits, self.rate_limiter, self.overview)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            if not is_ide_request(request):
                outcome = await self.authenticate(request)
                if isinstance(outcome, Response):
                    await outcome(scope, receive, send)
                    return
                scope[_PRINCIPAL] = outcome
                body = await read_limited(request, MAX_BODY_BYTES)
                if body is None:
                    too_large = error_response(
                        413, BAD_USER_INPUT, f"request body over {MAX_BODY_BYTES} bytes", {}
                    )
                    await too_large(scope, receive, send)
                    return
                problem = _body_problem(request, body)
                if problem:
                    await error_response(400, BAD_USER_INPUT, problem, {})(scope, receive, send)
                    return
                receive = _replay(body, receive)
        await self.view(scope, receive, send)

    async def authenticate(self, request: Request) -> Principal | Response:
        outcome = await self.gateway.principal(request)
        if isinstance(outcome, Principal):
            return outcome
        # Same status and headers, in the GraphQL error shape clients already parse.
        error = orjson.loads(bytes(outcome.body))["error"]
        headers = {k: v for k, v in outcome.headers.items() if k.lower() in _PASSED_HEADERS}
        return error_response(outcome.status_code, error["code"], error["message"], headers)

    async def aclose(self) -> None:
        await self.hub.aclose()


def _body_problem(request: Request, body: bytes) -> str | None:
    """Why a JSON body is no GraphQL request, checked before strawberry reads it: it calls
    `.get` on a scalar or null, and its decoder raises UnicodeDecodeError on bytes that are
    not UTF-8 (both a 500). Objects and batches are left to strawberry."""
    if request.method != "POST" or "application/json" not in request.headers.get(
        "content-type", ""
    ):
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "Unable to parse request body as JSON"
    if not isinstance(parsed, dict | list):
        return "the body must be a JSON object: {query, variables, operationName}"
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands the body already read to the view, then the client's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
