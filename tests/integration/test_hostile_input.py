"""Hostile input against the running gateway (SPEC 9, 10): hypothesis throws arbitrary
bodies, near-valid event batches, lying headers, bad credentials and malformed GraphQL at
the real HTTP endpoints. Whatever arrives, the gateway answers with a client status and a
body a client can act on; it never fails with a 5xx, never hangs, never says nothing.

The tests are synchronous (blocking httpx) because hypothesis drives the examples; the
gateway is a separate process, so blocking here blocks nothing of it.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.gateway.auth import encode_jwt
from shared.settings import load_settings
from tests.integration.conftest import Platform

pytestmark = pytest.mark.integration

# Every answer the API may give to a request it did not like (or liked): SPEC 9.1 and 10.
EVENT_STATUSES = {200, 400, 401, 403, 413, 429}
GRAPHQL_STATUSES = {200, 400, 401, 403, 413, 429}
GRAPHQL_CODES = {"BAD_USER_INPUT", "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"}
TIMEOUT = httpx.Timeout(10.0)

# Each example is one or a few HTTP round trips; 60-150 of them per test keeps the module
# well under a minute while still covering every strategy branch many times.
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)


class Keys:
    """Credentials of one fresh tenant. Each test has its own key so that the per-key
    rate limiter (200/s, burst 400) rarely answers 429 even when examples run back to
    back; 429 stays an allowed answer."""

    def __init__(self, tenant: str, by_name: dict[str, str]) -> None:
        self.tenant = tenant
        self.by_name = by_name

    def __getitem__(self, name: str) -> str:
        return self.by_name[name]


@pytest.fixture(scope="module")
async def keys(platform: Platform) -> Keys:
    tenant, admin = await platform.create_tenant("fuzz")
    names = ("events", "events_batches", "events_headers", "graphql", "graphql_args")
    by_name = {"admin": admin, "viewer": await platform.api_key(tenant, "viewer")}
    for name in names:
        by_name[name] = await platform.api_key(tenant, "admin")
    return Keys(tenant, by_name)


@pytest.fixture(scope="module")
def client(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.gateway_url, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture(scope="module", autouse=True)
def worker_survives(platform: Platform) -> Iterator[None]:
    """Whatever the gateway accepted must not take the worker down."""
    yield
    assert platform.worker.alive(), f"worker died after hostile input:\n{platform.worker.tail()}"
    assert platform.gateway.alive(), f"gateway died after hostile input:\n{platform.gateway.tail()}"


# --------------------------------------------------------------------------- values

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

EXTREME_NUMBERS = st.sampled_from(
    [2**63 - 1, -(2**63), 2**64, 10**40, -(10**40), 1e308, -1e308, 5e-324, -0.0, 0, -1,
     math.nan, math.inf, -math.inf]
)  # fmt: skip
NAN_LIKE = st.sampled_from(
    ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e309", "-0", "0x10", "1_000", " 1 ",
     "null", "true", "", " ", "\x00", "\u202e", "\ufeff"]
)  # fmt: skip
BAD_DATES = st.sampled_from(
    ["2026-02-30T00:00:00Z", "2026-11-20", "2026-11-20T00:00:00", "2026-11-20T25:00:00Z",
     "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
     "2026-11-21T00:00:01Z", "2026-11-20T00:00:00+24:00", "2026-11-20T00:00:00.1234567890Z",
     "yesterday", "1700000000", "2026-11-19T10:00:00Z", "2026-11-19t10:00:00z"]
)  # fmt: skip
UNICODE = st.text(st.characters(codec="utf-8"), min_size=0, max_size=60)


@st.composite
def huge_strings(draw: st.DrawFn) -> str:
    return draw(st.sampled_from("xé\x00€😀")) * draw(st.integers(129, 300_000))


# Deep nesting is spliced into the serialised text: Python's json encoder would refuse to
# build it (recursion limit) long before the gateway's decoder gets a chance to. The marker
# is made at run time, so hypothesis (which mines a module's literals) never generates it.
_DEEP_MARK = f"deep-nesting-{secrets.token_hex(8)}"
_DEEP_RE = re.compile(rf'"{_DEEP_MARK}:(\d+)"')


def deep(depth: int) -> str:
    return f"{_DEEP_MARK}:{depth}"


def encode(value: Any) -> bytes:
    """JSON text of `value`, with NaN/Infinity literals and integers beyond 64 bits kept
    (they are hostile input too) and deep-nesting markers expanded."""
    text = json.dumps(value, allow_nan=True, ensure_ascii=False)
    text = _DEEP_RE.sub(lambda m: "[" * int(m[1]) + "]" * int(m[1]), text)
    return text.encode("utf-8", errors="surrogatepass")


hostile_values = st.one_of(
    json_values,
    EXTREME_NUMBERS,
    NAN_LIKE,
    BAD_DATES,
    UNICODE,
    huge_strings(),
    st.integers(1, 3000).map(deep),
)

# --------------------------------------------------------------------------- events

BASE_EVENTS: list[dict[str, Any]] = [
    {"type": "page_view", "lead_id": "L-fuzz-1", "channel": "paid_search",
     "properties": {"url": "https://example.com/pricing"}},
    {"type": "demo_request", "lead_id": "L-fuzz-2", "channel": "organic_search",
     "campaign_id": "c-1"},
    {"type": "identify", "lead_id": "L-fuzz-1", "anonymous_id": "anon-1",
     "properties": {"traits": {"email": "a@example.com", "company_size": 200}}},
    {"type": "opportunity_created", "lead_id": "L-fuzz-2",
     "properties": {"opportunity_id": "opp-1", "amount": 1000}},
    {"type": "deal_won", "lead_id": "L-fuzz-2", "properties": {"opportunity_id": "opp-1"}},
    {"type": "lead_rejected", "lead_id": "L-fuzz-1", "properties": {"reason": "budget"}},
    {"type": "campaign_spend", "campaign_id": "c-1", "channel": "paid_search",
     "properties": {"amount": 500}},
]  # fmt: skip
FIELDS = (
    "event_id", "tenant_id", "type", "occurred_at", "lead_id", "anonymous_id", "account_id",
    "channel", "campaign_id", "content_id", "message_id", "properties",
)  # fmt: skip
PROPERTY_KEYS = ("amount", "opportunity_id", "reason", "traits", "url", "stage", "category")


@st.composite
def near_valid_events(draw: st.DrawFn) -> Any:
    event: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(BASE_EVENTS))))
    # A small id pool so that batches carry duplicate ids.
    event["event_id"] = f"fz-{draw(st.integers(0, 5))}"
    event["occurred_at"] = draw(
        st.sampled_from(["2026-11-19T10:00:00Z", "2026-11-19T10:00:00.123+02:00"])
    )
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["set", "drop", "extra", "prop", "drop_prop"]))
        if kind == "set":
            event[draw(st.sampled_from(FIELDS))] = draw(hostile_values)
        elif kind == "drop":
            event.pop(draw(st.sampled_from(FIELDS)), None)
        elif kind == "extra":
            event[draw(st.text(min_size=1, max_size=20))] = draw(hostile_values)
        else:
            props = event.get("properties")
            if not isinstance(props, dict):
                props = event["properties"] = {}
            key = draw(st.sampled_from(PROPERTY_KEYS) | st.text(max_size=10))
            if kind == "prop":
                props[key] = draw(hostile_values)
            else:
                props.pop(key, None)
    # Now and then the event itself is not an object.
    return draw(st.just(event) | st.just(event) | st.just(event) | hostile_values)


batches = st.lists(near_valid_events(), min_size=0, max_size=25)


def post(
    client: httpx.Client, body: bytes, key: str | None, content_type: str | None = None
) -> httpx.Response:
    headers = {}
    if key is not None:
        headers["X-API-Key"] = key
    if content_type is not None:
        headers["content-type"] = content_type
    return client.post("/v1/events", content=body, headers=headers)


def check_events_answer(response: httpx.Response, sent: Any) -> None:
    """The contract of POST /v1/events for any request (SPEC 9.1)."""
    assert response.status_code in EVENT_STATUSES, (response.status_code, response.text[:500])
    body = response.json()  # every answer, error or not, is JSON
    if response.status_code != 200:
        assert isinstance(body["error"]["code"], str) and body["error"]["message"]
        return
    assert isinstance(sent, list), "only a JSON array may be answered 200"
    assert set(body) == {"accepted", "rejected"}
    rejected = body["rejected"]
    indices = [r["index"] for r in rejected]
    assert indices == sorted(set(indices)), "each rejected index once, in order"
    assert all(isinstance(i, int) and 0 <= i < len(sent) for i in indices)
    assert body["accepted"] + len(rejected) == len(sent)
    for entry in rejected:
        assert entry["errors"], entry
        for error in entry["errors"]:
            assert isinstance(error["field"], str), entry
            assert isinstance(error["reason"], str) and error["reason"], entry
        original = sent[entry["index"]]
        if isinstance(original, dict) and isinstance(original.get("event_id"), str):
            assert entry["event_id"] == original["event_id"]
    for index, event in enumerate(sent):
        if not isinstance(event, dict):
            assert index in indices, f"non-object at {index} accepted"


def _decoded(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


# Bodies at the edges of the JSON decoder and of the batch limits.
EDGE_BODIES = [
    b"", b"[]", b"{}", b"null", b"[NaN]", b"[1e400]", b"\xef\xbb\xbf[]", b'["\\ud800"]',
    b"[" * 5000 + b"]" * 5000, b"[{}]" * 2, b"[" + b"{}," * 1001 + b"{}]",
]  # fmt: skip


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        json_values.map(encode),
        st.lists(json_values, max_size=30).map(encode),
        st.sampled_from(EDGE_BODIES),
    )
)
@example(body=b"[" + b"1," * 1000 + b"1]")
def test_arbitrary_bodies(client: httpx.Client, keys: Keys, body: bytes) -> None:
    response = post(client, body, keys["events"], "application/json")
    check_events_answer(response, _decoded(body))


@FUZZ
@given(batch=batches)
# Valid but for 300 levels of nesting in `properties`: accepted, then unencodable (a 500).
@example(batch=[{**BASE_EVENTS[0], "event_id": "deep", "occurred_at": "2026-11-19T10:00:00Z",
                 "properties": {"x": deep(300)}}])  # fmt: skip
def test_near_valid_batches(client: httpx.Client, keys: Keys, batch: list[Any]) -> None:
    body = encode(batch)
    response = post(client, body, keys["events_batches"], "application/json")
    check_events_answer(response, _decoded(body))
    if len(body) > 1_048_576:
        assert response.status_code in {413, 429}


def _jwt(claims: dict[str, Any], secret: str, header: Any = None) -> str:
    def b64(value: Any) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()

    if header is None:
        return encode_jwt(claims, secret)
    token = encode_jwt(claims, secret)
    return ".".join([b64(header), *token.split(".")[1:]])


# Header values as HTTP allows them to be sent (no surrounding blanks, printable ASCII).
_ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(str.strip)


@st.composite
def credentials(draw: st.DrawFn, keys: Keys) -> tuple[dict[str, str], set[int]]:
    """Headers carrying some credential, and the statuses it allows besides 429."""
    secret = load_settings().jwt_secret
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return {"X-API-Key": keys["events_headers"]}, {200, 400, 413}
    if choice == 1:
        return {"X-API-Key": keys["viewer"]}, {403}
    if choice == 2:
        return {}, {401}
    if choice == 3:
        return {"X-API-Key": draw(st.sampled_from(["tdm_", "tdm_x_y", "tdm_" + "a" * 500]))}, {401}
    if choice == 4:
        return {"X-API-Key": draw(_ASCII)}, {401}
    if choice == 5:
        return {"Authorization": draw(_ASCII)}, {401}
    if choice == 6:
        # Dots in the right places, garbage in between.
        parts = draw(st.lists(_ASCII.filter(lambda s: "." not in s), min_size=1, max_size=4))
        return {"Authorization": "Bearer " + ".".join(parts)}, {401}
    if choice == 7:
        # Well signed, but a header or claims no real token has.
        header = draw(json_values)
        return {"Authorization": "Bearer " + _jwt({"x": 1}, secret, header)}, {401}
    if choice == 8:
        claims = draw(json_values)
        token = encode_jwt({}, secret)
        head, _, sig = token.split(".")
        payload = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
        return {"Authorization": f"Bearer {head}.{payload}.{sig}"}, {401}
    # A valid JWT of another tenant's admin, but signed with the wrong secret.
    token = encode_jwt({"tenant": keys.tenant, "role": "admin", "exp": 4_102_444_800}, "nope")
    return {"Authorization": f"Bearer {token}"}, {401}


CONTENT_TYPES = st.sampled_from(
    [None, "application/json", "text/plain", "application/x-www-form-urlencoded",
     "multipart/form-data; boundary=zzz", "application/json; charset=utf-16",
     "application/xml", "*/*", "garbage", ""]
)  # fmt: skip


@FUZZ
@given(data=st.data(), content_type=CONTENT_TYPES, batch=st.lists(near_valid_events(), max_size=5))
@example(data=None, content_type="application/json", batch=[]).via("header [] on a JWT")
def test_headers_and_credentials(
    client: httpx.Client, keys: Keys, data: Any, content_type: str | None, batch: list[Any]
) -> None:
    if data is None:
        # A JWT whose header is a JSON array rather than an object.
        secret = load_settings().jwt_secret
        headers, allowed = {"Authorization": "Bearer " + _jwt({}, secret, [])}, {401}
    else:
        headers, allowed = data.draw(credentials(keys))
    if content_type is not None:
        headers["content-type"] = content_type
    # HTTP forbids blanks around a header value; the client refuses to send them at all.
    headers = {name: value.strip() for name, value in headers.items()}
    body = encode(batch)
    response = client.post("/v1/events", content=body, headers=headers)
    check_events_answer(response, _decoded(body))
    assert response.status_code in allowed | {429}, (response.status_code, response.text[:300])


# --------------------------------------------------------------------------- GraphQL


def check_graphql_answer(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in GRAPHQL_STATUSES, (response.status_code, response.text[:500])
    body = response.json()  # a GraphQL client can always parse the answer
    assert isinstance(body, dict), body
    errors = body.get("errors") or []
    if response.status_code != 200:
        assert errors, body
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        if response.status_code == 429:
            continue
        assert code in GRAPHQL_CODES, (code, error)
        assert "Traceback" not in error["message"]
    return body


def gql(client: httpx.Client, key: str, payload: Any) -> httpx.Response:
    return client.post(
        "/graphql",
        content=encode(payload) if not isinstance(payload, bytes) else payload,
        headers={"X-API-Key": key, "content-type": "application/json"},
    )


GQL_TOKENS = st.sampled_from(
    ["{", "}", "(", ")", "[", "]", ":", "!", "$x", "$", "...", "@include(if: true)", "=",
     "query", "mutation", "subscription", "fragment F on Lead", "on", "lead", "leads", "id",
     "pipeline", "total", "metrics", "tenantConfig", "__typename", "__schema", '"L-1"',
     '"""block"""', "1", "-1", "1e999", "null", "true", "EMAIL", "\n", " ", ",", "#",
     "\u0000", "é"]
)  # fmt: skip
random_queries = st.one_of(
    st.text(max_size=200),
    st.lists(GQL_TOKENS, max_size=60).map(" ".join),
)


def _deep_query(depth: int) -> str:
    inner = "name"
    for _ in range(depth):
        inner = f"ofType {{ {inner} }}"
    return f"{{ __schema {{ types {{ fields {{ type {{ {inner} }} }} }} }} }}"


def _aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: pipeline {{ total }}" for i in range(count)) + " }"


def _tokens(count: int) -> str:
    return "{ pipeline { " + "total " * count + "} }"


@FUZZ
@given(
    payload=st.one_of(
        st.builds(lambda q: {"query": q}, random_queries),
        st.builds(lambda n: {"query": _deep_query(n)}, st.integers(1, 60)),
        st.builds(lambda n: {"query": _aliases(n)}, st.integers(1, 200)),
        st.builds(lambda n: {"query": _tokens(n)}, st.integers(1, 40_000)),
        st.builds(
            lambda q, v, o: {"query": q, "variables": v, "operationName": o},
            st.just("query Q($id: ID!) { lead(id: $id) { id } }") | random_queries,
            json_values,
            json_values,
        ),
        json_values,
        st.binary(max_size=300),
    )
)
@example(payload=b"not json at all")
@example(payload=b"\x00" * 17)  # not UTF-8 to the JSON decoder: was a 500
@example(payload=True)  # JSON, but not an object: was a 500
@example(payload=None)
@example(payload={"query": "{ lead(id: 1 { id } }"})
@example(payload={"query": "{ nosuchfield }"})
@example(payload={"query": "query { pipeline { total } } query { pipeline { total } }"})
@example(payload={"query": "mutation { updateIcp }"})
@example(payload={"query": "subscription { leadChanges { leadId } }"})
@example(payload={})
@example(payload=[{"query": "{ pipeline { total } }"}])
@example(payload={"query": None})
@example(payload={"query": "{ pipeline { total } }", "variables": []})
def test_graphql_documents(client: httpx.Client, keys: Keys, payload: Any) -> None:
    check_graphql_answer(gql(client, keys["graphql"], payload))


DATE_LIKE = BAD_DATES | st.none() | st.integers() | UNICODE | json_values
ENUM_LIKE = st.sampled_from(["LINEAR", "PIPELINE", "CHANNEL", "linear", "", "NOPE"]) | UNICODE
CURSORS = st.one_of(
    UNICODE,
    st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    UNICODE.map(lambda s: base64.urlsafe_b64encode(("lead:" + s).encode()).decode()),
    st.just(base64.urlsafe_b64encode(b"lead:\x00").decode()),
    huge_strings(),
)

ARGUMENT_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("query Q($id: ID!) { lead(id: $id) { id stage transitions { toStage } } }",
     {"id": UNICODE | huge_strings() | json_values}),
    ("query Q($first: Int, $after: String, $stage: Stage, $fg: FitGrade) {"
     " leads(first: $first, after: $after, stage: $stage, fitGrade: $fg) {"
     " totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }",
     {"first": EXTREME_NUMBERS | st.integers() | json_values, "after": CURSORS | json_values,
      "stage": ENUM_LIKE, "fg": ENUM_LIKE}),
    ("query Q($from: DateTime!, $to: DateTime!) { metrics(from: $from, to: $to) {"
     " leadsCreated revenue winRate cac slaCompliance pipelineVelocity } }",
     {"from": DATE_LIKE, "to": DATE_LIKE}),
    ("query Q($from: DateTime!, $to: DateTime!) { sourceQuality(from: $from, to: $to) {"
     " channel leads } }",
     {"from": DATE_LIKE, "to": DATE_LIKE}),
    ("query Q($m: AttributionModel!, $k: AttributionKind!, $g: AttributionGroup!,"
     " $from: DateTime!, $to: DateTime!) {"
     " attribution(model: $m, kind: $k, groupBy: $g, from: $from, to: $to) { key credit } }",
     {"m": ENUM_LIKE, "k": ENUM_LIKE, "g": ENUM_LIKE, "from": DATE_LIKE, "to": DATE_LIKE}),
    ("query Q($m: String!, $k: AttributionKind!, $g: AttributionGroup!,"
     " $from: DateTime!, $to: DateTime!) {"
     " customAttribution(model: $m, kind: $k, groupBy: $g, from: $from, to: $to) { key } }",
     {"m": ENUM_LIKE | huge_strings(), "k": ENUM_LIKE, "g": ENUM_LIKE, "from": DATE_LIKE,
      "to": DATE_LIKE}),
    ("query Q($k: AttributionKind!, $g: AttributionGroup!, $from: DateTime!, $to: DateTime!) {"
     " attributionComparison(kind: $k, groupBy: $g, from: $from, to: $to) { key } }",
     {"k": ENUM_LIKE, "g": ENUM_LIKE, "from": DATE_LIKE, "to": DATE_LIKE}),
]  # fmt: skip

# Valid values of each variable, so that one bad variable at a time reaches the resolver.
GOOD_VALUES = {
    "from": "2026-11-01T00:00:00Z",
    "to": "2026-11-21T00:00:00Z",
    "m": "LINEAR",
    "k": "PIPELINE",
    "g": "CHANNEL",
    "first": 10,
}


@st.composite
def argument_requests(draw: st.DrawFn) -> dict[str, Any]:
    query, variables = draw(st.sampled_from(ARGUMENT_QUERIES))
    values = {name: GOOD_VALUES.get(name) for name in variables}
    # Either every variable is hostile, or just one (the others valid).
    hostile = list(variables) if draw(st.booleans()) else [draw(st.sampled_from(list(variables)))]
    for name in hostile:
        if draw(st.integers(0, 9)) == 0:
            values.pop(name, None)
        else:
            values[name] = draw(variables[name])
    return {"query": query, "variables": values}


@settings(FUZZ, max_examples=150)
@given(request=argument_requests())
@example(request={"query": ARGUMENT_QUERIES[0][0], "variables": {"id": "L-\x00"}})
@example(
    request={
        "query": ARGUMENT_QUERIES[1][0],
        "variables": {"after": base64.urlsafe_b64encode(b"lead:\x00").decode()},
    }
)
@example(request={"query": ARGUMENT_QUERIES[1][0], "variables": {"first": 2**31}})
@example(request={"query": ARGUMENT_QUERIES[1][0], "variables": {"first": -1}})
@example(
    request={
        "query": ARGUMENT_QUERIES[2][0],
        "variables": {"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"},
    }
)
@example(
    request={
        "query": ARGUMENT_QUERIES[4][0],
        "variables": {**GOOD_VALUES, "from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59Z"},
    }
)
def test_graphql_arguments(client: httpx.Client, keys: Keys, request: dict[str, Any]) -> None:
    check_graphql_answer(gql(client, keys["graphql_args"], request))
