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
