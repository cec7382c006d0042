"""The Kubernetes manifests (deploy/k8s/) and the KubeRay RayService (deploy/kuberay/), checked offline.

Plain manifests: every object against the Kubernetes OpenAPI schemas (kubernetes-validate, strict: unknown
fields fail), then what makes them right for bge-local (GPU request, probes on /health and /live, drain time).
RayService: its embedded Serve config by Ray's own schema (ServeDeploySchema) and by ``bge-local ray-config
--check``; its pod templates by the Kubernetes schemas (as PodTemplates).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate")

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
RAYSERVICE = REPO / "deploy" / "kuberay" / "rayservice.yaml"


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def k8s_objects() -> dict[str, dict]:
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in documents(path):
            objects[doc["kind"]] = doc
    return objects


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path):
    for doc in documents(path):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_validator_rejects_a_broken_manifest():
    """Not vacuous: a misspelt field and a wrong type both fail."""
    deployment = k8s_objects()["Deployment"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/health"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_manifests_fit_bge_local():
    objects = k8s_objects()
    assert set(objects) == {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"}
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"][0] == "serve"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/live"
    env = {e["name"]: e for e in container["env"]}
    assert "secretKeyRef" in env["BGE_LOCAL_API_KEY"]["valueFrom"]  # the key is never in the manifest
    drain = int(env["BGE_LOCAL_DRAIN_TIMEOUT_S"]["value"])
    assert pod["terminationGracePeriodSeconds"] > drain  # accepted requests finish before the kill
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        assert objects[kind]["spec"]["selector"].get("matchLabels", objects[kind]["spec"]["selector"]) == labels
    service_port = objects["Service"]["spec"]["ports"][0]
    assert service_port["targetPort"] == container["ports"][0]["name"]
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["maxReplicas"]
    metric = hpa["metrics"][0]["pods"]["metric"]["name"]
    assert f'"{metric}"' in (REPO / "local_server" / "server" / "metrics.py").read_text()  # the server exports it


def serve_config() -> dict:
    service = documents(RAYSERVICE)[0]
    assert service["apiVersion"] == "ray.io/v1" and service["kind"] == "RayService"
    return yaml.safe_load(service["spec"]["serveConfigV2"])


def test_rayservice_serve_config_passes_rays_schema():
    schema = pytest.importorskip("ray.serve.schema")
    config = schema.ServeDeploySchema.model_validate(serve_config())
    app = config.applications[0]
    assert app.import_path == "local_server.scale.ray_serve:build_app"
    assert {d.name for d in app.deployments} == {"ingress", "embedder", "reranker"}


def test_rayservice_serve_config_passes_bge_local_check(tmp_path):
    pytest.importorskip("ray.serve.schema")
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(serve_config()))
    run = subprocess.run([sys.executable, "-m", "local_server", "ray-config", "--check", str(path)],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    broken = serve_config()
    broken["applications"][0]["args"]["max_batch_tokenz"] = 1
    path.write_text(yaml.safe_dump(broken))
    run = subprocess.run([sys.executable, "-m", "local_server", "ray-config", "--check", str(path)],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 1 and "max_batch_tokenz" in run.stderr


def test_rayservice_pod_templates_are_valid_kubernetes():
    cluster = documents(RAYSERVICE)[0]["spec"]["rayClusterConfig"]
    templates = [cluster["headGroupSpec"]["template"]] + [g["template"] for g in cluster["workerGroupSpecs"]]
    for template in templates:
        wrapped = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "check"}, "template": template}
        kubernetes_validate.validate(wrapped, kubernetes_validate.latest_version(), strict=True)
    worker = cluster["workerGroupSpecs"][0]["template"]["spec"]
    assert worker["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    drain = max(d.get("graceful_shutdown_timeout_s", 20) for d in serve_config()["applications"][0]["deployments"])
    assert worker["terminationGracePeriodSeconds"] > drain


# ---- who reaches the Ray pods ----------------------------------------------------------------------------------

NETWORKPOLICY = REPO / "deploy" / "kuberay" / "networkpolicy.yaml"
RAY_LABELS = {"app.kubernetes.io/name": "bge-local-ray"}
# Ports callers outside the Ray pods may reach, and who: Serve's HTTP proxy (anyone: the API key guards it), the
# dashboard (the KubeRay operator only: Ray's jobs API has no auth), Ray's metrics (the monitoring namespace).
OPERATOR_LABELS = {"app.kubernetes.io/name": "kuberay-operator"}


def exposed_ports(policy: dict) -> dict[int | str, list[dict | None]]:
    """port -> the peers outside the Ray pods that a rule lets reach it (None: anyone); "all" for a rule that
    names no port."""
    out: dict[int | str, list[dict | None]] = {}
    for rule in policy["spec"].get("ingress") or []:
        peers = rule.get("from")
        outside: list[dict | None] = [None] if not peers else [
            p for p in peers if p != {"podSelector": {"matchLabels": RAY_LABELS}}]
        if not outside:
            continue  # between the Ray pods: any port
        ports = [p["port"] for p in rule.get("ports") or []] or ["all"]
        for port in ports:
            out.setdefault(port, []).extend(outside)
    return out


def ray_exposure_problems(policy: dict, cluster: dict) -> list[str]:
    problems = []
    spec = policy["spec"]
    if "Ingress" not in spec.get("policyTypes", []):
        problems.append("the policy does not restrict ingress")
    if spec["podSelector"].get("matchLabels") != RAY_LABELS:
        problems.append(f"the policy selects {spec['podSelector']}, not the Ray pods")
    templates = [cluster["headGroupSpec"]["template"]] + [g["template"] for g in cluster["workerGroupSpecs"]]
    for template in templates:
        labels = template.get("metadata", {}).get("labels", {})
        if not RAY_LABELS.items() <= labels.items():
            problems.append(f"a Ray pod template lacks the labels {RAY_LABELS}: the policy would miss it")
    for port, peers in exposed_ports(policy).items():
        if port == 8000:
            continue
        if port == 8265 and all(p and p.get("podSelector", {}).get("matchLabels") == OPERATOR_LABELS
                                for p in peers):
            continue
        if port == 8080 and all(p and "namespaceSelector" in p and p["namespaceSelector"] for p in peers):
            continue
        problems.append(f"port {port} is reachable from outside the Ray pods by {peers}")
    return problems


def test_networkpolicy_is_valid_kubernetes():
    for doc in documents(NETWORKPOLICY):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_only_serves_port_is_open_outside_the_ray_pods():
    """Ray's dashboard (8265: jobs API, no auth), GCS (6379) and client (10001) ports: the Ray pods only; the
    dashboard also for the operator, which deploys serveConfigV2 through it."""
    policy = documents(NETWORKPOLICY)[0]
    cluster = documents(RAYSERVICE)[0]["spec"]["rayClusterConfig"]
    assert ray_exposure_problems(policy, cluster) == []
    exposed = exposed_ports(policy)
    assert exposed[8000] == [None] and not {6379, 10001, 52365, "all"} & set(exposed)
    head = cluster["headGroupSpec"]["rayStartParams"]
    assert head.get("dashboard-host") in (None, "127.0.0.1", "localhost") or 8265 in exposed  # bound wide: guarded


def test_the_exposure_check_catches_an_open_port():
    """Not vacuous: an allow-all rule, a dashboard open to anyone, an unlabelled worker each fail."""
    cluster = documents(RAYSERVICE)[0]["spec"]["rayClusterConfig"]
    for breaking in ({}, {"ports": [{"port": 8265}]}, {"from": [{"namespaceSelector": {}}],
                                                       "ports": [{"port": 6379}]}):
        policy = documents(NETWORKPOLICY)[0]
        policy["spec"]["ingress"].append(breaking)
        assert ray_exposure_problems(policy, cluster), breaking
    unlabelled = yaml.safe_load(yaml.safe_dump(cluster))
    unlabelled["workerGroupSpecs"][0]["template"]["metadata"]["labels"] = {}
    assert ray_exposure_problems(documents(NETWORKPOLICY)[0], unlabelled)


def test_rayservice_runs_two_ingress_replicas_at_least_and_surges():
    """By default Serve stops an old replica before its successor starts: with one ingress a roll-out leaves none."""
    ingress = next(d for d in serve_config()["applications"][0]["deployments"] if d["name"] == "ingress")
    assert ingress["autoscaling_config"]["min_replicas"] >= 2 and ingress["max_surge_percent"] > 0
