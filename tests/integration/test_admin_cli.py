"""The admin CLI as an operator runs it: a subprocess from a fresh shell (no TANDEM_* set;
it finds the local stack's settings itself), against the platform's gateway and workers."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from shared.kafka import DLQ, TOUCHPOINTS
from tests.conftest import REPO, RUN_ID
from tests.integration.conftest import Platform

TANDEM = str(Path(sys.executable).with_name("tandem"))
KEY = re.compile(r"^tdm_[A-Za-z0-9_-]+$", re.MULTILINE)


def tandem(*args: str, topics: bool = False) -> subprocess.CompletedProcess[str]:
    """Runs `tandem ARGS` with none of the TANDEM_* settings of this process; `topics`
    passes this run's topic prefix only, so that the DLQ commands read this run's topics."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    if topics:
        env["TANDEM_TOPIC_PREFIX"] = os.environ["TANDEM_TOPIC_PREFIX"]
    done = subprocess.run(
        [TANDEM, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    return done


def ok(*args: str, topics: bool = False) -> str:
    done = tandem(*args, topics=topics)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def slug(what: str) -> str:
    return f"cli-{what}-{RUN_ID}-{uuid.uuid4().hex[:4]}"


async def graphql_status(platform: Platform, key: str) -> int:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        response = await client.post(
            "/graphql", json={"query": "{ pipeline { total } }"}, headers={"X-API-Key": key}
        )
    return response.status_code


def demo_request(lead_id: str, tenant: str | None = None) -> dict[str, Any]:
    event = {
        "event_id": f"{lead_id}-demo",
        "type": "demo_request",
        "occurred_at": "2026-11-19T10:00:00Z",
        "lead_id": lead_id,
        "channel": "paid_search",
    }
    return {**event, "tenant_id": tenant} if tenant else event


async def test_tenant_and_keys_from_a_fresh_shell(platform: Platform) -> None:
    tenant = slug("keys")
    platform.tenants.append(tenant)
    created = ok("tenant", "create", tenant)
    admin_key = KEY.findall(created)[-1]
    assert created.strip().splitlines()[-1] == admin_key
    viewer = ok("apikey", "create", tenant, "--role", "viewer")
    viewer_key = viewer.strip().splitlines()[-1]
    viewer_id = viewer_key.split("_")[1]
    assert f"id {viewer_id}" in viewer

    listing = ok("apikey", "list", tenant)
    assert viewer_id in listing and admin_key.split("_")[1] in listing
    assert "viewer" in listing and "admin" in listing
    assert await graphql_status(platform, viewer_key) == 200

    missing = tandem("apikey", "list", "no-such-tenant-" + RUN_ID)
    assert missing.returncode == 2 and "no tenant" in missing.stderr


async def test_a_revoked_key_stops_on_http_and_on_open_subscriptions(platform: Platform) -> None:
    tenant = slug("revoke")
    platform.tenants.append(tenant)
    key = ok("tenant", "create", tenant).strip().splitlines()[-1]
    url = platform.gateway_url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            orjson.dumps({"type": "connection_init", "payload": {"apiKey": key}}).decode()
        )
        assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": "subscription { leadChanges { leadId stage } }"},
        }
        await ws.send(orjson.dumps(subscribe).decode())
        assert await graphql_status(platform, key) == 200

        planned = tandem("apikey", "revoke", key.split("_")[1])
        assert planned.returncode == 2 and "--yes" in planned.stderr
        assert f"admin API key {key.split('_')[1]} of {tenant}" in planned.stdout
        assert await graphql_status(platform, key) == 200  # not revoked without --yes
        revoked = ok("apikey", "revoke", key.split("_")[1], "--yes")
        assert "revoked" in revoked
        assert await graphql_status(platform, key) == 401
        # The open subscription is closed by the gateway with its own code and reason.
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 30)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert "revoked" in closed.value.rcvd.reason

    again = tandem("apikey", "revoke", key, "--yes")
    assert again.returncode == 2 and "revoked already" in again.stderr


async def test_dead_letters_are_listed_filtered_shown_and_replayed(platform: Platform) -> None:
    tenant, _ = await platform.create_tenant("cli-dlq")
    event = demo_request("dlq-lead", tenant)
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap)
    await producer.start()
    try:
        headers = [
            ("error", b"database went away"),
            ("reason", b"failed"),
            ("original_topic", TOUCHPOINTS.encode()),
            ("original_partition", b"0"),
            ("original_offset", b"0"),
        ]
        sent = await producer.send_and_wait(DLQ, orjson.dumps(event), headers=headers)
    finally:
        await producer.stop()
    ref = f"{sent.partition}:{sent.offset}"

    listing = ok("dlq", "list", "--tenant", tenant, "--since", "1h", topics=True)
    assert ref in listing and "dlq-lead-demo" in listing and "failed" in listing
    assert "1 dead letters match" in listing
    other_reason = ok("dlq", "list", "--tenant", tenant, "--reason", "invalid", topics=True)
    assert "0 dead letters match" in other_reason

    shown = orjson.loads(ok("dlq", "show", ref, topics=True))
    assert shown["payload"] == event and shown["headers"]["error"] == "database went away"

    unfiltered = tandem("dlq", "replay", topics=True)
    assert unfiltered.returncode == 2 and "--all" in unfiltered.stderr
    replayed = ok("dlq", "replay", "--tenant", tenant, topics=True)
    assert "1 dead letters replayed" in replayed
    await platform.wait_events(tenant, 1)
    leads = await platform.leads(tenant)
    assert set(leads) == {"dlq-lead"}


async def test_rescore_rewrites_every_lead_of_the_tenant(platform: Platform) -> None:
    tenant, key = await platform.create_tenant("cli-rescore")
    await platform.post_events(key, [demo_request(f"r-{i}") for i in range(5)])
    await platform.wait_events(tenant, 5)

    done = ok("rescore", tenant, "--wait", "120")
    assert "all 5 leads re-scored" in done
    version = int(re.search(r"configuration version (\d+)", done)[1])  # type: ignore[index]
    author = await platform.admin.fetchval(
        "SELECT author FROM tenant_config_versions WHERE tenant_id = $1 AND version = $2",
        tenant,
        version,
    )
    assert author == "cli:rescore"
    rescored = await platform.admin.fetchval(
        "SELECT count(*) FROM events WHERE tenant_id = $1 AND type = 'rescore'"
        " AND config_version = $2",
        tenant,
        version,
    )
    assert rescored == 5


async def test_every_command_naming_an_unknown_tenant_exits_non_zero(platform: Platform) -> None:
    nobody = slug("nobody")
    for args in [
        ("apikey", "create", nobody, "--role", "viewer"),
        ("apikey", "list", nobody),
        ("rescore", nobody, "--wait", "0"),
        ("quarantine", "release", nobody),
        ("quarantine", "replay", nobody),
        ("crm", "disable", nobody, "hubspot"),
        ("erase", nobody, "L-1", "--yes"),
        ("suppressions", "list", nobody),
        ("suppressions", "lift", nobody, "L-1", "--yes"),
        ("tenant", "export", nobody),
        ("tenant", "delete", nobody, "--yes"),
    ]:
        done = tandem(*args, topics=True)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert f"no tenant '{nobody}'" in done.stderr, (args, done.stderr)
    assert nobody not in ok("tenant", "list")
