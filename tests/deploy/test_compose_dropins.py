"""deploy/compose/: the drop-ins for Dify's and RAGFlow's docker compose stacks.

Each overlay is merged, as users run it (``docker compose -f <theirs> -f <ours>``), with a stand-in holding the
same service, profile, hostname, port and network names as the upstream file (tests/deploy/upstream/), by
``docker-compose config`` (or ``docker compose config``); and the CPU image, started as the RAGFlow overlay starts
it under the name ``tei`` on port 80 of a private network, answers RAGFlow's builtin TEI client from another
container on that network. Without the tools or the built image the tests skip, unless BGE_LOCAL_REQUIRE_IMAGES=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from support.oci import Container, image_exists, podman, podman_missing
from support.server import REPO

UPSTREAM = REPO / "tests" / "deploy" / "upstream"
OVERLAYS = REPO / "deploy" / "compose"
REQUIRED = os.environ.get("BGE_LOCAL_REQUIRE_IMAGES") == "1"
IMAGE = os.environ.get("IMAGE_PREFIX", "localhost/bge-local") + ":cpu"
RAGFLOW_ENV = {"TEI_MODEL": "BAAI/bge-m3", "TEI_IMAGE_CPU": "infiniflow/text-embeddings-inference:cpu-1.8",
               "TEI_IMAGE_GPU": "infiniflow/text-embeddings-inference:1.8",
               "RAGFLOW_IMAGE": "infiniflow/ragflow:v0.27.0", "SVR_HTTP_PORT": "9380",
               "COMPOSE_PROFILES": "elasticsearch,tei-cpu,cpu"}


def unavailable(reason: str):
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


def compose_config(files: list[Path], env: dict[str, str], tmp_path: Path) -> dict:
    """The merged configuration, as `docker compose -f A -f B config` prints it."""
    if shutil.which("docker-compose"):
        tool = ["docker-compose"]
    elif shutil.which("docker") and subprocess.run(["docker", "compose", "version"]).returncode == 0:
        tool = ["docker", "compose"]
    else:
        unavailable("neither docker-compose nor docker compose is installed (Debian: apt-get install docker-compose)")
    args = [arg for f in files for arg in ("-f", str(f))]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BGE_LOCAL_", "TEI_", "COMPOSE_"))}
    out = subprocess.run([*tool, "--project-directory", str(tmp_path), *args, "config"], env={**clean, **env},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def test_dify_overlay_joins_difys_network(tmp_path: Path):
    merged = compose_config([UPSTREAM / "dify-docker-compose.yaml", OVERLAYS / "dify.yaml"],
                            {"BGE_LOCAL_API_KEY": "sk-dify"}, tmp_path)
    services = merged["services"]
    assert {"api", "worker", "plugin_daemon", "ssrf_proxy", "bge-local"} <= services.keys()
    ours = services["bge-local"]
    assert "default" in ours["networks"]
    # the plugin daemon has no networks key: it is on the default network, where `bge-local` resolves
    assert "networks" not in services["plugin_daemon"] or "default" in services["plugin_daemon"]["networks"]
    assert ours["environment"]["BGE_LOCAL_API_KEY"] == "sk-dify"
    assert ours["environment"]["BGE_LOCAL_EMBEDDING_MODEL"] == "BAAI/bge-m3"
    assert ours["image"] == "bge-local:cpu" and "ports" not in ours
    assert any(str(v).endswith(":/models") or "/models" in str(v) for v in ours["volumes"])
    assert services["api"]["networks"].keys() >= {"ssrf_proxy_network", "default"}  # theirs untouched


@pytest.mark.parametrize(("service", "device"), [("tei-cpu", "cpu"), ("tei-gpu", "cuda")])
def test_ragflow_overlay_takes_the_tei_slot(tmp_path: Path, service: str, device: str):
    env = {**RAGFLOW_ENV, "TEI_PORT": "6390"}
    merged = compose_config([UPSTREAM / "ragflow-docker-compose.yml", OVERLAYS / "ragflow-tei.yaml"], env, tmp_path)
    tei = merged["services"][service]
    assert tei["profiles"] == [service]  # still started by RAGFlow's COMPOSE_PROFILES
    assert tei["hostname"] == "tei" and "ragflow" in tei["networks"]
    assert [(str(p["published"]), p["target"]) for p in tei["ports"]] == [("6390", 80)]
    assert tei["image"].startswith("bge-local:")
    assert tei["entrypoint"] == ["bge-local"] and tei["command"] == ["serve"]
    environment = tei["environment"]
    assert environment["BGE_LOCAL_PORT"] == "80" and environment["BGE_LOCAL_DEVICE"] == device
    assert environment["BGE_LOCAL_EMBEDDING_MODEL"] == "BAAI/bge-m3"  # RAGFlow's TEI_MODEL
    assert str(tei["sysctls"]["net.ipv4.ip_unprivileged_port_start"]) == "0"
    if service == "tei-gpu":
        assert tei["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


# RAGFlow's builtin embedding (BuiltinEmbed → HuggingFaceEmbed, base_url http://tei:80): POST <base>/embed with
# {"inputs": [...]} in batches, a bare list of vectors back; replayed from a second container on the network.
RAGFLOW_BUILTIN_CLIENT = """
import json, httpx
texts = ["What is BGE M3?", "BGE M3 是一个多语言、多功能、多粒度的向量模型。"]
embed = httpx.post("http://tei:80/embed", json={"inputs": texts}, timeout=60)
query = httpx.post("http://tei:80/embed", json={"inputs": texts[0]}, timeout=60)
rerank = httpx.post("http://tei:80/rerank", json={"query": texts[0], "texts": texts}, timeout=60)
print(json.dumps({"embed": embed.json(), "query": query.json(), "rerank": rerank.json(),
                  "status": [embed.status_code, query.status_code, rerank.status_code]}))
"""


def test_image_answers_ragflows_builtin_client_as_tei(tiny_models: Path, tmp_path: Path):
    reason = podman_missing()
    if reason:
        unavailable(reason)
    if not image_exists(IMAGE):
        unavailable(f"image {IMAGE} not built: run deploy/oci/build-images.sh cpu")
    overlay = yaml.safe_load((OVERLAYS / "ragflow-tei.yaml").read_text())["services"]["tei-cpu"]
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    for path in [models, *models.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    network = "bge-local-ragflow-test"
    podman("network", "rm", "--force", network, check=False)
    podman("network", "create", network)
    env = {**overlay["environment"], "BGE_LOCAL_EMBEDDING_MODEL": "/models/bge-m3",
           "BGE_LOCAL_RERANKER_MODEL": "/models/bge-reranker-v2-m3", "HF_HUB_OFFLINE": "1"}
    options = ["--network", network, "--network-alias", "tei", "--hostname", "tei",  # upstream's hostname
               "--volume", f"{models}:/models:ro", "--shm-size", "1g", "--entrypoint", overlay["entrypoint"][0]]
    options += [f"--sysctl={k}={v}" for k, v in overlay["sysctls"].items()]
    options += [arg for k, v in env.items() for arg in ("--env", f"{k}={v}")]
    server = Container.run("bge-local-tei", IMAGE, *overlay["command"], options=options)
    try:
        server.wait_healthy()
        out = podman("run", "--rm", "--network", network, "--entrypoint", "python", IMAGE, "-c",
                     RAGFLOW_BUILTIN_CLIENT, timeout=180)
        answer = json.loads(out.stdout.strip().splitlines()[-1])
        assert answer["status"] == [200, 200, 200]
        assert len(answer["embed"]) == 2 and answer["query"][0] == pytest.approx(answer["embed"][0], abs=1e-6)
        assert sorted(r["index"] for r in answer["rerank"]) == [0, 1]
    finally:
        server.remove()
        podman("network", "rm", "--force", network, check=False)
