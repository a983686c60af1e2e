"""deploy/k8s checked as `kubectl apply -k` would get it: every core resource valid against
the Kubernetes schemas (kubernetes-validate, strict), plus the rules of the deployment
contract: per-release migrate Job, schema wait, probes, requests, PDB and HPA, production
topic durability, secrets by reference only, owner credentials only in the Job, and Kafka
ACLs under which only the gateway and partners write the event topics."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import REPO

K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"
EVENT_TOPICS = {"touchpoints.v1", "touchpoints.bulk.v1"}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|DATABASE.*URL")


def _kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return loaded


def _resources() -> list[dict[str, Any]]:
    docs = []
    for name in _kustomization()["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    return docs


def _of(kind: str) -> list[dict[str, Any]]:
    return [d for d in _resources() if d["kind"] == kind]


def _workloads() -> list[dict[str, Any]]:
    """The long-running ones: Deployments, and the workers' StatefulSet."""
    return _of("Deployment") + _of("StatefulSet")


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in _workloads() + _of("Job")
    ]


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def _tag() -> str:
    [image] = _kustomization()["images"]
    return str(image["newTag"])


def test_every_file_is_a_resource_of_the_kustomization() -> None:
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert files == set(_kustomization()["resources"])


# Strimzi's KafkaUser is a custom resource without a bundled schema: the ACL test checks it.
CORE = [d for d in _resources() if "strimzi.io" not in d["apiVersion"]]


@pytest.mark.parametrize("doc", CORE, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_core_resources_are_valid_kubernetes(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_release_has_its_own_migrate_job_and_no_latest_tag() -> None:
    tag = _tag()
    assert tag and tag != "latest"
    [job] = _of("Job")
    assert job["metadata"]["name"] == f"tandem-migrate-{tag.replace('.', '-')}"
    for _, spec in _pod_specs():
        for container in _containers(spec):
            # The one image name kustomize pins to the release tag.
            assert container["image"] == "tandem", container["name"]


def test_deployments_wait_for_the_schema_and_have_probes_and_requests() -> None:
    for name, spec in _pod_specs():
        for container in _containers(spec):
            requests = container["resources"]["requests"]
            assert {"cpu", "memory"} <= set(requests), (name, container["name"])
    for deployment in _workloads():
        spec = deployment["spec"]["template"]["spec"]
        [init] = spec["initContainers"]
        assert init["command"][:2] == ["tandem", "wait-schema"]
        for container in spec["containers"]:
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                assert probe in container, (deployment["metadata"]["name"], probe)


def test_the_gateway_has_a_pdb_and_an_hpa() -> None:
    [hpa] = [h for h in _of("HorizontalPodAutoscaler") if h["metadata"]["name"] == "tandem-gateway"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "tandem-gateway"
    assert hpa["spec"]["minReplicas"] >= 2
    selectors = [p["spec"]["selector"]["matchLabels"] for p in _of("PodDisruptionBudget")]
    [gateway] = [d for d in _of("Deployment") if d["metadata"]["name"] == "tandem-gateway"]
    assert gateway["spec"]["selector"]["matchLabels"] in selectors


def test_each_worker_pod_is_a_static_group_member_named_after_itself() -> None:
    [worker] = [s for s in _of("StatefulSet") if s["metadata"]["name"] == "tandem-worker"]
    [container] = worker["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["TANDEM_WORKER_INSTANCE"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}
    }


def test_production_topics_have_three_replicas_and_two_in_sync() -> None:
    [config] = _of("ConfigMap")
    assert config["data"]["TANDEM_TOPIC_REPLICATION"] == "3"
    assert config["data"]["TANDEM_TOPIC_MIN_ISR"] == "2"


def test_secrets_only_by_reference_and_owner_credentials_only_in_the_job() -> None:
    assert not _of("Secret")
    [config] = _of("ConfigMap")
    assert not [k for k in config["data"] if SECRET_NAME.search(k)]
    for name, spec in _pod_specs():
        for container in _containers(spec):
            for var in container.get("env", []):
                if SECRET_NAME.search(var["name"]):
                    assert "secretKeyRef" in var.get("valueFrom", {}), (name, var["name"])
                if var["name"] == "TANDEM_DATABASE_ADMIN_URL":
                    assert name.startswith("tandem-migrate"), name


def test_only_the_gateway_writes_the_shared_event_topics_and_partners_their_own() -> None:
    users = _of("KafkaUser")
    assert {"tandem-gateway", "tandem-worker", "tandem-migrate"} <= {
        u["metadata"]["name"] for u in users
    }
    partners = 0
    for user in users:
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        name = user["metadata"]["name"]
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            writes = resource["type"] == "topic" and "Write" in acl["operations"]
            if writes and (resource["name"] in EVENT_TOPICS or resource["name"] == "*"):
                assert name == "tandem-gateway", (name, acl)
            if name.startswith("partner-") and writes:
                # one tenant's partner topics: `partner.<tenant>.` as a prefix, nothing wider
                tenant = name.removeprefix("partner-")
                assert resource == {
                    "type": "topic",
                    "name": f"partner.{tenant}.",
                    "patternType": "prefix",
                }, acl
                partners += 1
    assert partners >= 1


def test_delivery_egress_reaches_no_private_or_metadata_network() -> None:
    policies = [
        p
        for p in _of("NetworkPolicy")
        if "Egress" in p["spec"]["policyTypes"]
        and p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        == "tandem-delivery"
    ]
    assert len(policies) == 1
    blocks = [
        peer["ipBlock"]
        for rule in policies[0]["spec"]["egress"]
        for peer in rule.get("to", [])
        if "ipBlock" in peer
    ]
    assert {b["cidr"] for b in blocks} == {"0.0.0.0/0", "::/0"}
    excluded = {cidr for b in blocks for cidr in b["except"]}
    needed = {"10.0.0.0/8", "169.254.0.0/16", "127.0.0.0/8", "64:ff9b::/96", "fc00::/7"}
    assert needed <= excluded


def test_the_secrets_key_comes_from_a_secret() -> None:
    for name, spec in _pod_specs():
        if name not in ("tandem-gateway", "tandem-delivery"):
            continue
        env = {e["name"]: e for c in spec["containers"] for e in c.get("env", [])}
        assert (
            env["TANDEM_SECRETS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "tandem-secrets-key"
        )
