"""Partners write their own tenant's topic only, enforced by the broker: a Kafka of our own
(deploy/kafka/server-sasl.properties: a SASL/SCRAM listener and the StandardAuthorizer,
prefixed ACLs granted with deploy/kafka/PrefixAcl.java), started for this test on free
ports in a temporary folder from the stack's broker jars, and stopped after it. The shared
broker of the other tests is never touched."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from tests.conftest import REPO
from tests.integration.conftest import _free_port

# The jars stack.sh fetched for the local broker; TANDEM_KAFKA_LIBS names another folder.
LIBS = Path(os.environ.get("TANDEM_KAFKA_LIBS", REPO / ".state" / "kafka" / "libs"))
TEMPLATES = REPO / "deploy" / "kafka"
PARTNERS = {"acme": f"acme-{secrets.token_hex(8)}", "globex": f"globex-{secrets.token_hex(8)}"}
START_TIMEOUT_S = 120


@dataclass
class SaslBroker:
    plaintext: str  # the local services' listener (super user)
    sasl: str  # the partners' listener


def _java(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["java", "-Xmx256m", f"-Dlog4j2.configurationFile={TEMPLATES / 'log4j2.properties'}",
         "-cp", f"{LIBS}/*", *args],
        capture_output=True, text=True, timeout=180, check=False, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture(scope="module")
def broker_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslBroker]:
    if not list(LIBS.glob("kafka_2.13-*.jar")):
        pytest.skip(
            f"no Kafka broker jars in {LIBS} (stack.sh fetches them; or set TANDEM_KAFKA_LIBS)"
        )
    folder = tmp_path_factory.mktemp("sasl-kafka")
    ports = {"PLAINTEXT_PORT": _free_port(), "CONTROLLER_PORT": _free_port(),
             "SASL_PORT": _free_port()}  # fmt: skip
    conf = (TEMPLATES / "server-sasl.properties").read_text()
    conf = conf.replace("@KAFKA_DATA_DIR@", str(folder / "data"))
    for name, port in ports.items():
        conf = conf.replace(f"@{name}@", str(port))
    (folder / "server.properties").write_text(conf)
    cluster = _java("kafka.tools.StorageTool", "random-uuid").stdout.strip().splitlines()[-1]
    scram = [
        arg
        for tenant, password in PARTNERS.items()
        for arg in ("--add-scram", f"SCRAM-SHA-512=[name=partner-{tenant},password={password}]")
    ]
    formatted = _java("kafka.tools.StorageTool", "format", "-t", cluster,
                      "-c", str(folder / "server.properties"), "--standalone", *scram)  # fmt: skip
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    log = (folder / "kafka.log").open("w")
    process = subprocess.Popen(
        ["java", "-Xms128m", "-Xmx384m", "-XX:+UseSerialGC",
         f"-Dlog4j2.configurationFile={TEMPLATES / 'log4j2.properties'}",
         "-cp", f"{LIBS}/*", "kafka.Kafka", str(folder / "server.properties")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        yield SaslBroker(f"127.0.0.1:{ports['PLAINTEXT_PORT']}", f"127.0.0.1:{ports['SASL_PORT']}")
    finally:
        # Our own broker only, by its process group.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


@pytest.fixture(scope="module")
async def broker(broker_process: SaslBroker) -> AsyncIterator[SaslBroker]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker_process.plaintext)
        try:
            await admin.start()
            names = ["partner.acme.touchpoints.v1", "partner.globex.touchpoints.v1"]
            await admin.create_topics([NewTopic(n, 1, 1) for n in [*names, "touchpoints.v1"]])
            break
        except KafkaError:
            assert loop.time() < deadline, "the SASL broker did not come up"
            await asyncio.sleep(2)
        finally:
            await admin.close()
    for tenant in PARTNERS:
        granted = await asyncio.to_thread(
            _java, str(TEMPLATES / "PrefixAcl.java"), broker_process.plaintext,
            f"User:partner-{tenant}", f"partner.{tenant}.", "WRITE", "DESCRIBE",
        )  # fmt: skip
        assert granted.returncode == 0, granted.stdout + granted.stderr
    yield broker_process


def _partner(broker: SaslBroker, tenant: str, password: str | None = None) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=broker.sasl,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=f"partner-{tenant}",
        sasl_plain_password=password or PARTNERS[tenant],
        request_timeout_ms=15_000,
    )


async def test_the_broker_refuses_a_partner_writing_another_tenants_topic(
    broker: SaslBroker,
) -> None:
    producer = _partner(broker, "acme")
    await producer.start()
    try:
        # its own tenant's topic: accepted
        sent = await producer.send_and_wait("partner.acme.touchpoints.v1", b"{}", key=b"acme")
        assert sent.offset == 0
        # another tenant's topic, and the gateway's shared one: refused by the broker
        for topic in ("partner.globex.touchpoints.v1", "touchpoints.v1"):
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(topic, b"{}", key=b"globex")
    finally:
        await producer.stop()
    # a wrong password is no partner at all
    impostor = _partner(broker, "globex", password="guess")
    with pytest.raises(KafkaError):
        await impostor.start()
    await impostor.stop()
