"""`tandem topics` creates topics with the replication factor and min.insync.replicas of
TANDEM_TOPIC_REPLICATION / TANDEM_TOPIC_MIN_ISR (3 / 2 in production; the local stack has
one broker, so this checks the settings reach the broker with the values it can hold)."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.kafka import TopicSpec, ensure_topics
from shared.settings import load_settings
from tests.conftest import RUN_ID


async def test_topics_get_the_configured_durability(monkeypatch: pytest.MonkeyPatch) -> None:
    bootstrap = load_settings().kafka_bootstrap
    name = f"test-{RUN_ID}-durability-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("TANDEM_TOPIC_REPLICATION", "1")
    monkeypatch.setenv("TANDEM_TOPIC_MIN_ISR", "1")
    created = await ensure_topics(bootstrap, (TopicSpec(name, 2),))
    assert created == [name]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([name])
        assert {len(p["replicas"]) for p in described["partitions"]} == {1}
        [configs] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        entries = {e[0]: e[1] for e in configs.resources[0][4]}
        assert entries["min.insync.replicas"] == "1"
        await admin.delete_topics([name])
    finally:
        await admin.close()

    monkeypatch.setenv("TANDEM_TOPIC_REPLICATION", "3")
    refused = f"{name}-rf3"
    # A broker that cannot hold 3 replicas refuses the topic rather than creating less.
    with pytest.raises(Exception, match=r"(?i)replication"):
        await ensure_topics(bootstrap, (TopicSpec(refused, 1),))
