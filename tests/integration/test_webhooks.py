"""SPEC 15 webhooks end to end: events through the real gateway, Kafka and worker; the
delivery process reads the derived topics and calls local receivers (worker clock pinned
at 2026-11-20T00:00Z)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastjsonschema
import httpx
import pytest

from shared.webhooks import verify
from tests.integration.conftest import Platform
from tests.integration.test_graphql_api import gql
from tests.standins.delivery import Delivery, add_webhook, delivery, delivery_rows
from tests.standins.receiver import Received, Receiver

__all__ = ["delivery"]  # the fixture, used by name

NOW = datetime(2026, 11, 20, tzinfo=UTC)
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "webhooks"
WAIT_S = 90


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def demo_request(lead: str, at: datetime) -> dict[str, Any]:
    # Fast-tracks the lead to MQL under the default config.
    return {
        "event_id": f"{lead}-demo",
        "type": "demo_request",
        "occurred_at": _iso(at),
        "lead_id": lead,
        "channel": "paid_search",
        "campaign_id": "c-hooks",
    }


def validator(event_type: str) -> Any:
    return fastjsonschema.compile(json.loads((SCHEMAS / f"{event_type}.schema.json").read_text()))


def of_type(requests: list[Received], event_type: str) -> list[Received]:
    return [r for r in requests if r.headers.get("tandem-event-type") == event_type]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver answering 200 to everything, stopped after the test."""
    started = await Receiver().start()
    try:
        yield started
    finally:
        await started.stop()


def assert_signed(request: Received, secret: str) -> None:
    header = request.headers["tandem-signature"]
    assert verify(secret, header, request.body, now=int(time.time()))
    assert not verify(secret + "x", header, request.body, now=int(time.time()))
    assert not verify(secret, header, request.body + b" ", now=int(time.time()))


async def test_mql_reaches_receiver_signed_and_valid(
    platform: Platform, delivery: Delivery, receiver: Receiver
) -> None:
    tenant, key = await platform.create_tenant("hook")
    _, secret = await add_webhook(platform.admin, tenant, receiver.url, ["lead.mql"])
    await platform.post_events(key, [demo_request("L-mql", NOW - timedelta(hours=1))])
    await receiver.wait_until(lambda rs: bool(of_type(rs, "lead.mql")), WAIT_S)
    (request,) = of_type(receiver.requests, "lead.mql")
    assert_signed(request, secret)
    body = request.json()
    validator("lead.mql")(body)
    assert body["tenant_id"] == tenant
    assert body["data"]["lead"]["id"] == "L-mql"
    assert body["data"]["lead"]["url"] == "http://dashboard.test/app/#/leads/L-mql"
    assert body["data"]["to_stage"] == "MQL"
    assert request.headers["idempotency-key"] == body["id"]
    assert request.headers["tandem-delivery-attempt"] == "1"


async def test_sla_breach_reaches_json_and_slack_receivers(
    platform: Platform, delivery: Delivery
) -> None:
    tenant, key = await platform.create_tenant("hook")
    plain, slack = await Receiver().start(), await Receiver().start()
    try:
        _, secret = await add_webhook(platform.admin, tenant, plain.url, ["sla.breached"])
        _, slack_secret = await add_webhook(
            platform.admin, tenant, slack.url, ["sla.breached"], slack=True
        )
        # MQL three days before the pinned clock, never answered: the 24 h response and
        # 72 h disposition limits are both missed.
        await platform.post_events(key, [demo_request("L-late", NOW - timedelta(days=3, hours=1))])
        await plain.wait_until(lambda rs: len(of_type(rs, "sla.breached")) >= 2, WAIT_S)
        await slack.wait_until(lambda rs: len(of_type(rs, "sla.breached")) >= 2, WAIT_S)

        check = validator("sla.breached")
        kinds = set()
        for request in of_type(plain.requests, "sla.breached"):
            assert_signed(request, secret)
            body = request.json()
            check(body)
            assert body["data"]["lead"]["id"] == "L-late"
            assert body["data"]["owner_team"] == "SALES"
            kinds.add(body["data"]["kind"])
        assert kinds == {"RESPONSE", "DISPOSITION"}

        message = of_type(slack.requests, "sla.breached")[0]
        assert_signed(message, slack_secret)
        blocks = message.json()["blocks"]
        text = json.dumps(blocks)
        assert blocks[0] == {
            "type": "header",
            "text": {"type": "plain_text", "text": "SLA breached"},
        }
        assert "L-late" in text and "Owner team" in text and "SALES" in text
        assert "deadline 2026-11-1" in text
        button = next(b for b in blocks if b["type"] == "actions")["elements"][0]
        assert button["url"] == "http://dashboard.test/app/#/leads/L-late"
    finally:
        await plain.stop()
        await slack.stop()


async def test_receiver_failing_twice_gets_third_attempt_with_same_id(
    platform: Platform, delivery: Delivery
) -> None:
    tenant, key = await platform.create_tenant("hook")

    async def fail_twice(request: Received, index: int) -> int:
        return 500 if index < 2 else 200

    receiver = await Receiver(script=fail_twice).start()
    try:
        webhook_id, secret = await add_webhook(platform.admin, tenant, receiver.url, ["lead.mql"])
        await platform.post_events(key, [demo_request("L-retry", NOW - timedelta(hours=1))])
        await receiver.wait_until(lambda rs: len(rs) >= 3, WAIT_S)

        async def recorded() -> bool:
            rows = await delivery_rows(platform.admin, webhook_id)
            return bool(rows) and rows[0]["status"] == "DELIVERED"

        await platform.wait_for(recorded, WAIT_S, "the delivery to be recorded as delivered")
        first, second, third = receiver.requests[:3]
        assert {r.headers["idempotency-key"] for r in receiver.requests} == {
            first.headers["idempotency-key"]
        }
        assert first.body == second.body == third.body
        assert [r.headers["tandem-delivery-attempt"] for r in (first, second, third)] == [
            "1",
            "2",
            "3",
        ]
        for request in (first, second, third):
            assert_signed(request, secret)
        (row,) = await delivery_rows(platform.admin, webhook_id)
        assert row["codes"] == [500, 500, 200]
        assert row["attempts"] == 3
        assert len(receiver.requests) == 3
    finally:
        await receiver.stop()


async def test_hanging_receiver_does_not_delay_another(
    platform: Platform, delivery: Delivery
) -> None:
    tenant, key = await platform.create_tenant("hook")
    release = asyncio.Event()

    async def hang(request: Received, index: int) -> int:
        await release.wait()
        return 200

    stuck, healthy = await Receiver(script=hang).start(), await Receiver().start()
    try:
        await add_webhook(platform.admin, tenant, stuck.url, ["lead.mql"])
        await add_webhook(platform.admin, tenant, healthy.url, ["lead.mql"])
        leads = [f"L-{i}" for i in range(12)]
        await platform.post_events(
            key, [demo_request(lead, NOW - timedelta(hours=1)) for lead in leads]
        )
        await healthy.wait_until(lambda rs: len(of_type(rs, "lead.mql")) >= len(leads), WAIT_S)
        # Every event reached the healthy receiver while the stuck one had not answered a
        # single request: its attempts never held the other's up.
        assert stuck.requests, "the stuck receiver was called"
        assert stuck.answered == []
        got = {r.json()["data"]["lead"]["id"] for r in of_type(healthy.requests, "lead.mql")}
        assert got == set(leads)
    finally:
        release.set()
        await stuck.stop()
        await healthy.stop()


async def test_restart_loses_and_duplicates_nothing_beyond_at_least_once(
    platform: Platform, delivery: Delivery, receiver: Receiver
) -> None:
    tenant, key = await platform.create_tenant("hook")
    webhook_id, _ = await add_webhook(platform.admin, tenant, receiver.url, ["lead.mql"])
    leads = [f"L-{i}" for i in range(200)]
    await platform.post_events(
        key, [demo_request(lead, NOW - timedelta(hours=1)) for lead in leads]
    )
    await receiver.wait_until(lambda rs: len(rs) >= 20, WAIT_S)
    delivery.restart()  # SIGKILL mid-stream, then a new process
    await receiver.wait_until(
        lambda rs: {r.json()["data"]["lead"]["id"] for r in rs} >= set(leads), WAIT_S
    )

    async def all_recorded() -> bool:
        rows = await delivery_rows(platform.admin, webhook_id)
        return len(rows) == len(leads) and all(r["status"] == "DELIVERED" for r in rows)

    await platform.wait_for(all_recorded, WAIT_S, "every delivery recorded as delivered")
    ids = Counter(r.headers["idempotency-key"] for r in receiver.requests)
    assert len(ids) == len(leads)
    # At least once: only attempts in flight at the kill (at most the per-endpoint
    # concurrency, 4) can reach the receiver twice, always with the same id.
    repeated = sum(n - 1 for n in ids.values())
    assert repeated <= 4, ids.most_common(5)


async def graphql(platform: Platform, key: str, query: str, **variables: Any) -> dict[str, Any]:
    """The whole answer, errors included."""
    return dict((await gql(platform, key, query, variables)).json())


CREATE = """
mutation($input: WebhookInput!) {
  createWebhook(input: $input) {
    secret
    webhook { id url eventTypes slackFormat scoreThreshold enabled }
  }
}
"""
DELIVERIES = """
query($webhookId: ID, $first: Int, $after: String) {
  webhookDeliveries(webhookId: $webhookId, first: $first, after: $after) {
    edges { cursor node { id eventId eventType status attemptCount body
                          attempts { attempt statusCode latencyMs error } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_graphql_manages_webhooks_and_shows_deliveries(
    platform: Platform, delivery: Delivery, receiver: Receiver
) -> None:
    _, key = await platform.create_tenant("hook")
    created = await graphql(
        platform,
        key,
        CREATE,
        input={"url": receiver.url, "eventTypes": ["LEAD_MQL", "LEAD_STAGE_CHANGED"]},
    )
    assert "errors" not in created, created
    hook = created["data"]["createWebhook"]["webhook"]
    secret = created["data"]["createWebhook"]["secret"]
    assert hook["eventTypes"] == ["LEAD_MQL", "LEAD_STAGE_CHANGED"]
    assert hook["scoreThreshold"] == 10 and hook["enabled"] and not hook["slackFormat"]

    listed = await graphql(platform, key, "{ webhooks { id url } }")
    assert listed["data"]["webhooks"] == [{"id": hook["id"], "url": receiver.url}]
    assert "secret" not in str(listed)

    await platform.post_events(key, [demo_request("L-gql", NOW - timedelta(hours=1))])
    # The first event creates the lead and fast-tracks it: one transition to MQL.
    await receiver.wait_until(lambda rs: len(rs) >= 2, WAIT_S)
    for request in receiver.requests:
        assert_signed(request, secret)

    async def all_delivered() -> bool:
        page = await graphql(platform, key, DELIVERIES, webhookId=hook["id"])
        edges = page["data"]["webhookDeliveries"]["edges"]
        return len(edges) == 2 and all(e["node"]["status"] == "DELIVERED" for e in edges)

    await platform.wait_for(all_delivered, WAIT_S, "two delivered deliveries in GraphQL")
    first = await graphql(platform, key, DELIVERIES, webhookId=hook["id"], first=1)
    page = first["data"]["webhookDeliveries"]
    assert len(page["edges"]) == 1 and page["pageInfo"]["hasNextPage"]
    rest = await graphql(
        platform, key, DELIVERIES, webhookId=hook["id"], after=page["pageInfo"]["endCursor"]
    )
    nodes = [e["node"] for e in page["edges"]] + [
        e["node"] for e in rest["data"]["webhookDeliveries"]["edges"]
    ]
    assert len({n["id"] for n in nodes}) == 2
    assert {n["eventType"] for n in nodes} == {"lead.stage_changed", "lead.mql"}
    for node in nodes:
        (attempt,) = node["attempts"]
        assert attempt["statusCode"] == 200 and attempt["attempt"] == 1
        assert attempt["latencyMs"] >= 0 and attempt["error"] is None
        assert json.loads(node["body"])["id"] == node["eventId"]

    rotated = await graphql(
        platform,
        key,
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
        id=hook["id"],
    )
    assert rotated["data"]["rotateWebhookSecret"]["secret"] not in ("", secret)
    updated = await graphql(
        platform,
        key,
        "mutation($id: ID!, $input: WebhookUpdateInput!) {"
        " updateWebhook(id: $id, input: $input) { enabled scoreThreshold eventTypes } }",
        id=hook["id"],
        input={"enabled": False, "scoreThreshold": 25},
    )
    assert updated["data"]["updateWebhook"] == {
        "enabled": False,
        "scoreThreshold": 25,
        "eventTypes": ["LEAD_MQL", "LEAD_STAGE_CHANGED"],
    }
    deleted = await graphql(
        platform, key, "mutation($id: ID!) { deleteWebhook(id: $id) }", id=hook["id"]
    )
    assert deleted["data"]["deleteWebhook"] is True
    gone = await graphql(
        platform, key, "mutation($id: ID!) { deleteWebhook(id: $id) }", id=hook["id"]
    )
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_graphql_refuses_bad_urls_and_non_admins(platform: Platform) -> None:
    tenant, key = await platform.create_tenant("hook")
    for url, problem in [
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("ftp://example.com/hook", "scheme"),
        ("http://10.0.0.8/hook", "private"),
    ]:
        answer = await graphql(
            platform, key, CREATE, input={"url": url, "eventTypes": ["SLA_BREACHED"]}
        )
        (error,) = answer["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["fields"][0]["path"] == "input.url"
        assert problem in error["message"]
    no_types = await graphql(
        platform, key, CREATE, input={"url": "http://127.0.0.1:9/x", "eventTypes": []}
    )
    assert no_types["errors"][0]["extensions"]["fields"][0]["path"] == "input.eventTypes"
    marketing = await platform.api_key(tenant, "marketing")
    denied = await graphql(platform, marketing, "{ webhooks { id } }")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    count = await platform.admin.fetchval(
        "SELECT count(*) FROM webhooks WHERE tenant_id = $1", tenant
    )
    assert count == 0


def touch(lead: str, kind: str, at: datetime, **properties: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"{lead}-{kind}",
        "type": kind,
        "occurred_at": _iso(at),
        "lead_id": lead,
    }
    if properties:
        event["properties"] = properties
    return event


async def test_score_changes_respect_the_threshold(
    platform: Platform, delivery: Delivery, receiver: Receiver
) -> None:
    tenant, key = await platform.create_tenant("hook")
    webhook_id, _ = await add_webhook(
        platform.admin, tenant, receiver.url, ["lead.score_changed"], threshold=10
    )
    at = NOW - timedelta(hours=3)
    steps = [
        (demo_request("L-s", at), 30),  # 0 → 30: told
        (touch("L-s", "email_click", at + timedelta(minutes=1)), 33),  # +3: quiet
        (touch("L-s", "content_download", at + timedelta(minutes=2)), 41),  # +11: told
    ]
    for event, score in steps:
        await platform.post_events(key, [event])

        async def scored(expected: int = score) -> bool:
            lead = (await platform.leads(tenant)).get("L-s")
            return lead is not None and lead["score"] == expected

        await platform.wait_for(scored, WAIT_S, f"score {score}")
    await receiver.wait_until(lambda rs: len(rs) >= 2, WAIT_S)
    told = [
        (r.json()["data"]["previous_score"], r.json()["data"]["score"]) for r in receiver.requests
    ]
    assert sorted(told, key=lambda t: t[1]) == [(None, 30), (30, 41)]
    for request in receiver.requests:
        validator("lead.score_changed")(request.json())
    assert len(await delivery_rows(platform.admin, webhook_id)) == 2


async def test_deals_won_and_lost_carry_their_opportunity(
    platform: Platform, delivery: Delivery, receiver: Receiver
) -> None:
    tenant, key = await platform.create_tenant("hook")
    await add_webhook(platform.admin, tenant, receiver.url, ["deal.won", "deal.lost"])
    at = NOW - timedelta(days=2)
    await platform.post_events(
        key,
        [
            demo_request("L-w", at),
            touch(
                "L-w",
                "opportunity_created",
                at + timedelta(hours=1),
                opportunity_id="o-w",
                amount=1000,
            ),
            touch("L-w", "deal_won", at + timedelta(hours=2), opportunity_id="o-w", amount=1200),
            demo_request("L-l", at),
            touch(
                "L-l",
                "opportunity_created",
                at + timedelta(hours=1),
                opportunity_id="o-l",
                amount=500,
            ),
            touch(
                "L-l",
                "deal_lost",
                at + timedelta(hours=2),
                opportunity_id="o-l",
                reason="budget",
                competitor="Acme",
            ),
        ],
    )
    await receiver.wait_until(lambda rs: len(rs) >= 2, WAIT_S)
    bodies = {r.json()["type"]: r.json() for r in receiver.requests}
    assert set(bodies) == {"deal.won", "deal.lost"}
    for event_type, body in bodies.items():
        validator(event_type)(body)
    won, lost = bodies["deal.won"]["data"], bodies["deal.lost"]["data"]
    assert won["lead"]["id"] == "L-w" and won["to_stage"] == "CUSTOMER"
    assert won["opportunity"]["id"] == "o-w" and won["opportunity"]["won_amount"] == 1200
    assert lost["lead"]["id"] == "L-l" and lost["to_stage"] == "CLOSED_LOST"
    assert lost["opportunity"]["id"] == "o-l"
    assert lost["opportunity"]["lost_reason"] == "budget"


async def test_overdue_action_item_is_announced_once(
    platform: Platform, delivery: Delivery, receiver: Receiver
) -> None:
    tenant, key = await platform.create_tenant("hook")
    webhook_id, secret = await add_webhook(
        platform.admin, tenant, receiver.url, ["action_item.due"]
    )
    created = await graphql(
        platform,
        key,
        "mutation($input: ActionItemInput!) { createActionItem(input: $input) { id } }",
        input={
            "title": "Fix lead routing",
            "owner": "kim",
            "team": "SALES",
            "weekStart": "2026-11-16",
            "dueDate": "2026-11-18",
        },
    )
    item_id = created["data"]["createActionItem"]["id"]
    await graphql(
        platform,
        key,
        "mutation($input: ActionItemInput!) { createActionItem(input: $input) { id } }",
        input={
            "title": "Not due yet",
            "owner": "kim",
            "team": "SALES",
            "weekStart": "2026-11-16",
            "dueDate": "2026-11-27",
        },
    )
    await receiver.wait_until(lambda rs: len(rs) >= 1, WAIT_S)
    (request,) = receiver.requests
    assert_signed(request, secret)
    body = request.json()
    validator("action_item.due")(body)
    assert body["data"]["action_item"]["id"] == item_id
    assert body["data"]["action_item"]["due_date"] == "2026-11-18"

    # The status is recorded once the receiver has answered, a moment after it got the
    # request.
    async def recorded() -> bool:
        rows = await delivery_rows(platform.admin, webhook_id)
        return any(r["status"] == "DELIVERED" for r in rows)

    await platform.wait_for(recorded, WAIT_S, "the delivery to be recorded as delivered")
    # Swept every second, recorded once: the (webhook, event) key holds.
    rows = await delivery_rows(platform.admin, webhook_id)
    assert [r["status"] for r in rows] == ["DELIVERED"]
    assert len(receiver.requests) == 1


async def test_metrics_count_deliveries_and_the_backlog(
    platform: Platform, delivery: Delivery, receiver: Receiver
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    tenant, key = await platform.create_tenant("hook")
    await add_webhook(platform.admin, tenant, receiver.url, ["lead.mql"])
    await platform.post_events(key, [demo_request("L-m", NOW - timedelta(hours=1))])
    await receiver.wait_until(lambda rs: len(rs) >= 1, WAIT_S)

    async def scrape() -> dict[str, float]:
        async with httpx.AsyncClient(base_url=delivery.metrics_url) as client:
            text = (await client.get("/metrics")).text
        return {
            f"{s.name}{sorted(s.labels.items())}": s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    async def counted() -> bool:
        return (await scrape()).get(
            "tandem_webhook_deliveries_total[('event_type', 'lead.mql')]", 0
        ) >= 1

    await platform.wait_for(counted, WAIT_S, "the delivery counted")
    samples = await scrape()
    for gauge in (
        "tandem_webhook_pending[]",
        "tandem_webhook_retry_queue_depth[]",
        "tandem_webhook_oldest_pending_age_seconds[]",
    ):
        assert gauge in samples and samples[gauge] >= 0


async def test_delivery_logs_are_purged_after_the_retention_period(platform: Platform) -> None:
    """Finished deliveries older than the retention period go with their attempts; newer
    ones, and any still pending however old, stay."""
    from services.delivery.sweeps import purge_delivery_logs
    from shared.db import create_pool

    tenant, _ = await platform.create_tenant("retention")
    webhook_id, _ = await add_webhook(platform.admin, tenant, "http://127.0.0.1:9/x", ["lead.mql"])
    now = datetime.now(UTC)
    rows = {"old-done": ("DELIVERED", 40), "old-failed": ("FAILED", 31),
            "recent": ("DELIVERED", 5), "old-pending": ("PENDING", 45)}  # fmt: skip
    for delivery_id, (status, age_days) in rows.items():
        at = now - timedelta(days=age_days)
        await platform.admin.execute(
            "INSERT INTO webhook_deliveries (tenant_id, delivery_id, webhook_id, event_id,"
            " event_type, body, status, attempts, created_at, next_attempt_at, completed_at)"
            " VALUES ($1, $2, $3, $2, 'lead.mql', '{}', $4, 1, $5::timestamptz, $5,"
            " CASE WHEN $4::text = 'PENDING' THEN NULL ELSE $5::timestamptz END)",
            tenant, delivery_id, webhook_id, status, at,
        )  # fmt: skip
        await platform.admin.execute(
            "INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, started_at,"
            " status_code, latency_ms) VALUES ($1, $2, 1, $3, 200, 5)",
            tenant, delivery_id, at,
        )  # fmt: skip
    pool = await create_pool(platform.database_url, max_size=2)
    try:
        # the application's role: the purge needs no owner credentials
        assert await purge_delivery_logs(pool, 30, now) >= 2
    finally:
        await pool.close()
    left = await platform.admin.fetch(
        "SELECT delivery_id FROM webhook_deliveries WHERE tenant_id = $1 ORDER BY 1", tenant
    )
    assert [r["delivery_id"] for r in left] == ["old-pending", "recent"]
    attempts = await platform.admin.fetch(
        "SELECT delivery_id FROM webhook_attempts WHERE tenant_id = $1 ORDER BY 1", tenant
    )
    assert [r["delivery_id"] for r in attempts] == ["old-pending", "recent"]


async def test_a_secret_sealed_under_a_missing_key_is_retried_never_sent_unsigned(
    platform: Platform, delivery: Delivery, receiver: Receiver
) -> None:
    tenant, _ = await platform.create_tenant("unsealable")
    webhook_id, _ = await add_webhook(platform.admin, tenant, receiver.url, ["lead.mql"])
    # sealed by a key this deployment does not hold (an old key dropped too early)
    await platform.admin.execute(
        "UPDATE webhooks SET secret = 'enc:v1:0badc0de:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'"
        " WHERE tenant_id = $1 AND webhook_id = $2",
        tenant,
        webhook_id,
    )
    await platform.admin.execute(
        "INSERT INTO webhook_deliveries (tenant_id, delivery_id, webhook_id, event_id,"
        " event_type, body) VALUES ($1, 'd-unsealable', $2, 'e-1', 'lead.mql', '{}')",
        tenant,
        webhook_id,
    )

    async def attempted() -> bool:
        rows = await delivery_rows(platform.admin, webhook_id)
        return bool(rows and rows[0]["attempts"] >= 1)

    await platform.wait_for(attempted, 60, "an attempt of the delivery")
    [row] = await delivery_rows(platform.admin, webhook_id)
    assert row["status"] == "PENDING"
    assert "signing secret cannot be opened" in row["last_error"]
    assert receiver.requests == []


async def test_last_weeks_wins_reach_json_and_slack_receivers_once(
    platform: Platform, delivery: Delivery
) -> None:
    tenant, key = await platform.create_tenant("hook")
    # Last week (the clock is pinned to Friday 2026-11-20): a deal won after a campaign
    # touch, and an MQL answered in two hours.
    events = [
        {
            "event_id": "w-1",
            "type": "page_view",
            "occurred_at": "2026-10-01T00:00:00Z",
            "lead_id": "L-win",
            "channel": "webinar",
            "campaign_id": "autumn-webinar",
        },
        {
            "event_id": "w-2",
            "type": "opportunity_created",
            "occurred_at": "2026-10-02T00:00:00Z",
            "lead_id": "L-win",
            "properties": {"opportunity_id": "o-win", "amount": 900},
        },
        {
            "event_id": "w-3",
            "type": "deal_won",
            "occurred_at": "2026-11-12T00:00:00Z",
            "lead_id": "L-win",
            "properties": {"opportunity_id": "o-win", "amount": 1500},
        },
        demo_request("L-fast", datetime(2026, 11, 10, 9, tzinfo=UTC)),
        {
            "event_id": "f-2",
            "type": "sales_call",
            "occurred_at": "2026-11-10T11:00:00Z",
            "lead_id": "L-fast",
        },
    ]
    await platform.post_events(key, events)
    await platform.wait_events(tenant, len(events))
    plain, slack = await Receiver().start(), await Receiver().start()
    try:
        _, secret = await add_webhook(platform.admin, tenant, plain.url, ["review.wins"])
        await add_webhook(platform.admin, tenant, slack.url, ["review.wins"], slack=True)
        await plain.wait_until(lambda rs: len(of_type(rs, "review.wins")) >= 1, WAIT_S)
        await slack.wait_until(lambda rs: len(rs) >= 1, WAIT_S)
        (request,) = of_type(plain.requests, "review.wins")
        assert_signed(request, secret)
        body = request.json()
        validator("review.wins")(body)
        wins = body["data"]["wins"]
        assert body["data"]["week_start"] == "2026-11-09"
        assert [(d["opportunity_id"], d["amount"], d["campaigns"]) for d in wins["deals_won"]] == [
            ("o-win", 1500.0, ["autumn-webinar"])
        ]
        assert [(r["lead_id"], r["hours"]) for r in wins["fastest_responses"]] == [("L-fast", 2.0)]

        blocks = slack.requests[0].json()["blocks"]
        assert blocks[0]["text"]["text"] == "Wins to celebrate"
        text = json.dumps(blocks)
        assert "Won o-win" in text and "1,500 with lead L-win, via autumn-webinar" in text
        assert "lead L-fast in 2.0 h" in text
        # Swept every second, announced once.
        await asyncio.sleep(3)
        assert len(of_type(plain.requests, "review.wins")) == 1
    finally:
        await plain.stop()
        await slack.stop()
