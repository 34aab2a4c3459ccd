"""deploy/k8s: valid against the Kubernetes schemas (kubernetes-validate, strict), and saying what the farm needs:
the spec's Service, a Deployment per queue of the registry, one beat, the relay and the consumer, the [planning]
ConfigMap, probes on /health, sized resources, non-root pods, a KEDA ScaledObject on each queue's length."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from app.config import ConfigError, build_planning_settings
from app.stages import STAGE_NAMES
from tasks.queues import QUEUE_NAMES

K8S = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"  # a version the manifests must hold for (the pinned package knows up to its own)


def _documents() -> list[dict]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [document for name in kustomization["resources"]
            for document in yaml.safe_load_all((K8S / name).read_text()) if document]


def _by_kind(kind: str) -> dict[str, dict]:
    return {document["metadata"]["name"]: document for document in _documents() if document["kind"] == kind}


def _containers(deployment: dict) -> list[dict]:
    spec = deployment["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_kustomization_lists_every_manifest():
    """Every YAML file in deploy/k8s is a resource of the kustomization (nothing left out of `kubectl apply -k`)."""
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, kubernetes_validate.latest_version()])
def test_every_kubernetes_object_is_valid_against_the_schemas(version):
    """Every core object validates strictly (unknown fields refused) against the Kubernetes schemas."""
    core = [document for document in _documents() if not document["apiVersion"].startswith("keda.sh/")]
    assert {document["kind"] for document in core} == {"Deployment", "Service", "ConfigMap"}
    for document in core:
        kubernetes_validate.validate(document, version, strict=True)


def test_an_invalid_object_is_refused():
    """The validation can fail: a Deployment with a misspelt field is refused."""
    deployment = _by_kind("Deployment")["layer2-planning"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 7
    broken["spec"]["replicaz"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_api_deployment_and_the_specs_service():
    """The API: 8082 and 9090, `db upgrade` before it, startup/readiness probes on /health; the Service selects
    only API pods (not the workers, which share the app label) with the spec's http 8082 and metrics 9090."""
    api = _by_kind("Deployment")["layer2-planning"]
    pod = api["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {(port["name"], port["containerPort"]) for port in container["ports"]} == {("http", 8082),
                                                                                      ("metrics", 9090)}
    assert "gunicorn" in container["command"] and "python:app.gunicorn_conf" in container["command"]
    assert pod["initContainers"][0]["command"][-2:] == ["db", "upgrade"]
    for probe in ("startupProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
        assert container[probe]["timeoutSeconds"] >= 3  # /health answers within 3 s
    service = _by_kind("Service")["layer2-planning"]
    assert {(port["name"], port["port"], port["targetPort"]) for port in service["spec"]["ports"]} == {
        ("http", 8082, 8082), ("metrics", 9090, 9090)}
    assert service["spec"]["selector"] == api["spec"]["template"]["metadata"]["labels"] == {
        "app": "layer2-planning", "component": "api"}


def test_one_worker_deployment_per_queue_of_the_registry():
    """Every queue (the registry's stages and replan) has a Deployment whose worker consumes it alone, exports
    metrics on 9090 and is scraped there."""
    deployments = _by_kind("Deployment")
    workers = {name: d for name, d in deployments.items() if "worker" in d["spec"]["template"]["spec"]["containers"][0]
               ["command"]}
    queues = {}
    for deployment in workers.values():
        command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
        queues[command[command.index("-Q") + 1]] = deployment
    assert set(queues) == set(QUEUE_NAMES) and set(STAGE_NAMES) < set(queues)
    for queue, deployment in queues.items():
        assert deployment["metadata"]["name"] == f"layer2-planning-{queue}"
        template = deployment["spec"]["template"]
        assert template["metadata"]["annotations"]["prometheus.io/port"] == "9090"
        assert template["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] == "metrics"


def test_beat_is_a_single_replica_and_the_relay_and_consumer_run():
    """beat: one replica, Recreate (a rollout never runs two); the outbox relay and the consumer have Deployments."""
    deployments = _by_kind("Deployment")
    beat = deployments["layer2-planning-beat"]
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"] == {"type": "Recreate"}
    assert "beat" in beat["spec"]["template"]["spec"]["containers"][0]["command"]
    for name in ("relay", "consume"):
        command = deployments[f"layer2-planning-{name}"]["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command == ["layer2-planning", name]


def test_every_container_is_sized_non_root_and_reads_the_shared_settings():
    """Requests and limits on every container (requests no higher than limits), non-root pods with a read-only
    root, the env ConfigMap and the Secret's database and broker URLs everywhere."""
    units = {"m": 0.001, "Mi": 1, "Gi": 1024}

    def amount(text: str) -> float:
        for suffix, factor in units.items():
            if text.endswith(suffix):
                return float(text[: -len(suffix)]) * factor
        return float(text)

    for name, deployment in _by_kind("Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0, name
        for container in _containers(deployment):
            resources = container["resources"]
            for what in ("cpu", "memory"):
                assert amount(resources["requests"][what]) <= amount(resources["limits"][what]), (name, what)
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert {"name": "layer2-planning-env"} in [ref["configMapRef"] for ref in container["envFrom"]]
            assert {entry["name"] for entry in container["env"]} >= {"DATABASE_URL", "CELERY_BROKER_URL"}
    # The spec's API sizes.
    api = _by_kind("Deployment")["layer2-planning"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert api == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}


def test_the_planning_configmap_is_a_valid_planning_table(tmp_path):
    """The ConfigMap's planning.toml is the spec's [planning] table and loads as this app's settings;
    LAYER2_CONFIG_FILE names where it is mounted; logs are JSON and metrics multiprocess on 9090."""
    configmaps = _by_kind("ConfigMap")
    toml = tmp_path / "planning.toml"
    toml.write_text(configmaps["layer2-planning-config"]["data"]["planning.toml"])
    settings = build_planning_settings({"LAYER2_CONFIG_FILE": str(toml)})
    assert settings.max_concurrent_tasks == 10 and settings.risk_threshold_probability == 0.7
    env = configmaps["layer2-planning-env"]["data"]
    assert env["LAYER2_CONFIG_FILE"] == "/etc/layer2/planning.toml"
    assert env["LOG_FORMAT"] == "json" and env["LAYER2_METRICS_PORT"] == "9090"
    for deployment in _by_kind("Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert {"name": "config", "mountPath": "/etc/layer2", "readOnly": True} in container["volumeMounts"]
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert env["PROMETHEUS_MULTIPROC_DIR"] in mounts  # an emptyDir: empty when the pod starts
    toml.write_text(toml.read_text() + "no_such_setting = 1\n")
    with pytest.raises(ConfigError):
        build_planning_settings({"LAYER2_CONFIG_FILE": str(toml)})


# KEDA's objects are custom resources, which kubernetes-validate has no schemas for: the fields used here are
# checked against this subset of KEDA's ScaledObject CRD (keda.sh/v1alpha1).
SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object", "additionalProperties": False, "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {"type": "object", "additionalProperties": False, "required": ["name"],
                                   "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                                                  "apiVersion": {"type": "string"}}},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "triggers": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False, "required": ["type", "metadata"],
                    "properties": {"type": {"type": "string"}, "name": {"type": "string"},
                                   "authenticationRef": {"type": "object", "required": ["name"]},
                                   "metadata": {"type": "object",
                                                "additionalProperties": {"type": "string"}}}}},
            },
        },
    },
}


def test_each_queue_scales_on_its_length_with_a_keda_scaled_object():
    """A ScaledObject per queue targets that queue's Deployment and scales on the length of its Redis list
    (the queue's name), between at least one replica and a maximum above it; its auth object exists."""
    deployments = _by_kind("Deployment")
    scaled = _by_kind("ScaledObject")
    auth = _by_kind("TriggerAuthentication")
    targets = {}
    for name, scaled_object in scaled.items():
        jsonschema.validate(scaled_object, SCALED_OBJECT)
        spec = scaled_object["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments, name
        assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "redis" and int(trigger["metadata"]["listLength"]) > 0
        assert trigger["authenticationRef"]["name"] in auth
        targets[trigger["metadata"]["listName"]] = spec["scaleTargetRef"]["name"]
    assert targets == {queue: f"layer2-planning-{queue}" for queue in QUEUE_NAMES}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**scaled["layer2-planning-risk"], "spec": {"triggers": []}}, SCALED_OBJECT)


def test_dockerfile_runs_as_a_numeric_non_root_user():
    """The image's USER is numeric and not 0 (so runAsNonRoot can be checked) and matches the pods' runAsUser."""
    lines = (K8S.parent.parent / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    for deployment in _by_kind("Deployment").values():
        assert str(deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"]) == users[-1].split(":")[0]
