"""A partner's topic (`partner.<tenant>.touchpoints.v1`) is read by the workers, who take
the tenant from the topic's name: acme's events on acme's topic are applied, an event there
naming globex is dead-lettered (`tenant_mismatch`) and globex gets nothing. (The broker
refusing a partner's write to another tenant's topic: test_kafka_partner_acls.py.)"""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.kafka import DLQ, partner_topic
from tests.integration.conftest import Platform, read_topic
from tests.integration.test_dead_letters import page_view


async def test_an_event_naming_another_tenant_on_a_partner_topic_is_dead_lettered(
    platform: Platform,
) -> None:
    acme, _ = await platform.create_tenant("partner")
    globex, _ = await platform.create_tenant("victim")
    topic = partner_topic(acme)
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap)
    await producer.start()
    try:
        mine = page_view(acme, "p-mine", "L-a")
        forged = page_view(globex, "p-forged", "L-g")
        # keyed for globex as well: the topic, not the key or the payload, names the tenant
        sent = await producer.send_and_wait(
            topic, orjson.dumps([mine, forged]), key=globex.encode()
        )
    finally:
        await producer.stop()

    # the worker finds the new topic by its pattern within seconds
    await platform.wait_events(acme, 1)

    async def dead_lettered() -> bool:
        for message in await read_topic(platform.kafka_bootstrap, DLQ):
            headers = {k: v.decode() for k, v in message.headers}
            if headers.get("original_topic") == topic and headers["original_offset"] == str(
                sent.offset
            ):
                assert headers["reason"] == "tenant_mismatch" and headers["tenant_id"] == acme
                assert orjson.loads(message.value)["event_id"] == "p-forged"
                return True
        return False

    await platform.wait_for(dead_lettered, 60, "the forged event in the DLQ")
    assert not await platform.admin.fetchval(
        "SELECT count(*) FROM events WHERE tenant_id = $1", globex
    )
