"""The images, run as users run them: the CPU image (Dockerfile.cpu) and the GPU image (Dockerfile, started with
``--device cpu``), built by deploy/oci/build-images.sh, each started with podman on the tiny models mounted at
/models and its port published on 127.0.0.1; then both compose files started with podman-compose.

Without podman, or without the built images, these tests are skipped with the reason; CI (.ci/images.sh) sets
BGE_LOCAL_REQUIRE_IMAGES=1, which turns every such skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml
from packaging.utils import canonicalize_name
from support.checkout import lock_pins
from support.oci import Container, image_exists, podman, podman_missing
from support.server import REPO, free_port

import local_server

PREFIX = os.environ.get("IMAGE_PREFIX", "localhost/bge-local")
VARIANTS = {"cpu": "Dockerfile.cpu", "cuda": "Dockerfile"}
COMPOSE = {"cpu": "docker-compose.cpu.yml", "cuda": "docker-compose.yml"}
LOCKS = {"cpu": REPO / "locks" / "server-cpu.txt", "cuda": REPO / "locks" / "server-cuda.txt"}
REQUIRED = os.environ.get("BGE_LOCAL_REQUIRE_IMAGES") == "1"
USER_UID = "1000"

TEXTS = ["What is BGE M3?", "BGE M3 是一个多语言、多功能、多粒度的向量模型。", "a" * 300]
QUERY = "what is panda?"
DOCUMENTS = ["hi", "The giant panda is a bear species endemic to China.", "熊猫是一种熊科动物。"]


def unavailable(reason: str):
    """Skip, or fail where the images are required (CI)."""
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def podman_ready() -> None:
    reason = podman_missing()
    if reason:
        unavailable(reason)


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request, podman_ready) -> str:
    image = f"{PREFIX}:{request.param}"
    if not image_exists(image):
        unavailable(f"image {image} not built: run deploy/oci/build-images.sh {request.param}")
    return request.param


@pytest.fixture(scope="module")
def models_volume(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny models, readable by the image's user (uid 1000) as a bind-mounted host folder must be."""
    target = tmp_path_factory.mktemp("models-volume") / "models"
    shutil.copytree(tiny_models, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


# the models inside the volume, and never a hub
MODEL_ENV = {"BGE_LOCAL_EMBEDDING_MODEL": "/models/bge-m3", "BGE_LOCAL_RERANKER_MODEL": "/models/bge-reranker-v2-m3",
             "HF_HUB_OFFLINE": "1"}


class Running:
    def __init__(self, container: Container, port: int, variant: str, models: Path):
        self.container, self.port, self.variant, self.models = container, port, variant, models
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def running(variant: str, models_volume: Path):
    """The image started as docs/deploy.md says, with the models from the /models volume (no hub)."""
    port = free_port()
    options = ["--publish", f"127.0.0.1:{port}:8000", "--volume", f"{models_volume}:/models", "--shm-size", "1g"]
    # fp32: the answers are compared with this checkout's fp32 server to 1e-5 (the image's default, --precision
    # auto, is what the compose test below starts: bf16 on a CPU that computes it natively)
    for key, value in {**MODEL_ENV, "BGE_LOCAL_PRECISION": "fp32"}.items():
        options += ["--env", f"{key}={value}"]
    # the GPU image on a machine without a GPU: the CUDA build of torch, running on the CPU
    args = ["serve", "--device", "cpu"] if variant == "cuda" else []
    container = Container.run(f"bge-local-test-{variant}", f"{PREFIX}:{variant}", *args, options=options)
    try:
        container.wait_healthy()
        yield Running(container, port, variant, models_volume)
    finally:
        container.remove()


# --- the container -----------------------------------------------------------------------------------


def test_runs_as_the_unprivileged_user(running: Running):
    container = running.container
    assert container.inspect("{{.Config.User}}") == "bge"
    status = container.exec("cat", "/proc/1/status").stdout
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert uids == [USER_UID] * 4, f"the server (pid 1) runs with uids {uids}"
    # the installed packages are not the user's to change
    assert container.exec("touch", "/opt/venv/lib/x").returncode != 0


def test_healthcheck_is_the_probe_and_turns_healthy(running: Running):
    container = running.container
    assert container.inspect("{{.State.Health.Status}}") == "healthy"
    test = json.loads(podman("image", "inspect", "--format", "{{json .Config.Healthcheck}}",
                             f"{PREFIX}:{running.variant}").stdout)["Test"]
    assert test[0] == "CMD" and container.exec(*test[1:]).returncode == 0
    # the same probe fails where no server answers
    failed = podman("exec", "--env", "BGE_LOCAL_PORT=9", container.name, *test[1:], check=False)
    assert failed.returncode == 1 and "unhealthy" in failed.stderr


def test_published_on_loopback_only(running: Running):
    ports = podman("port", running.container.name).stdout.split()
    assert ports == ["8000/tcp", "->", f"127.0.0.1:{running.port}"]


def embed(url: str, texts: list[str], headers: dict[str, str] | None = None) -> np.ndarray:
    response = httpx.post(url + "/v1/embeddings", json={"model": "bge-m3", "input": texts}, headers=headers,
                          timeout=60)
    assert response.status_code == 200, response.text
    return np.array([item["embedding"] for item in response.json()["data"]])


def rerank(url: str) -> dict[int, float]:
    response = httpx.post(url + "/v1/rerank", json={"model": "bge-reranker-v2-m3", "query": QUERY,
                                                    "documents": DOCUMENTS}, timeout=60)
    assert response.status_code == 200, response.text
    return {r["index"]: r["relevance_score"] for r in response.json()["results"]}


def test_embeddings_answer_through_the_published_port(running: Running, server):
    """The same vectors as this checkout's server on the same model files."""
    got, expected = embed(running.url, TEXTS), embed(server.url, TEXTS)
    assert got.shape == expected.shape and got.shape[0] == len(TEXTS)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_rerank_answers_through_the_published_port(running: Running, server):
    got, expected = rerank(running.url), rerank(server.url)
    assert sorted(got) == list(range(len(DOCUMENTS)))
    np.testing.assert_allclose([got[i] for i in sorted(got)], [expected[i] for i in sorted(expected)], atol=1e-5)


def test_models_come_from_the_models_volume(running: Running):
    assert json.loads(podman("image", "inspect", "--format", "{{json .Config.Volumes}}",
                             f"{PREFIX}:{running.variant}").stdout) == {"/models": {}}
    mounts = json.loads(running.container.inspect("{{json .Mounts}}"))
    assert [(m["Source"], m["Destination"]) for m in mounts] == [(str(running.models), "/models")]
    info = httpx.get(running.url + "/info", timeout=30).json()
    assert {m["name"]: m["path"] for m in info["models"]} == {
        "bge-m3": "/models/bge-m3", "bge-reranker-v2-m3": "/models/bge-reranker-v2-m3"}


def test_installs_exactly_the_lock_and_the_project(running: Running):
    script = ("import importlib.metadata as m, json, platform; print(json.dumps([platform.python_version(), "
              "{d.metadata['Name']: d.version for d in m.distributions()}]))")
    result = running.container.exec("python", "-c", script)
    assert result.returncode == 0, result.stderr
    python_version, distributions = json.loads(result.stdout)
    installed = {canonicalize_name(name): version for name, version in distributions.items()}
    pins = lock_pins(LOCKS[running.variant], python_version)
    assert installed.pop("bge-local") == local_server.__version__
    # the venv's own installer (and setuptools where the lock does not pin it) come with Debian's python3-venv
    extra = {name for name in installed if name not in pins} - {"pip", "setuptools"}
    assert not extra, f"installed but not in the lock: {extra}"
    assert {name: installed.get(name) for name in pins} == pins


def test_torch_is_the_build_the_image_is_for(running: Running):
    """CUDA build in the GPU image, CPU build in the CPU one (read from torch/version.py: no slow torch import)."""
    script = ("import importlib.metadata as m; "
              "print(m.distribution('torch').locate_file('torch/version.py').read_text())")
    result = running.container.exec("python", "-c", script)
    assert result.returncode == 0, result.stderr
    (cuda,) = [line.split("=", 1)[1].strip() for line in result.stdout.splitlines() if line.startswith("cuda")]
    if running.variant == "cuda":
        assert cuda.strip("'\"").startswith("13."), cuda
    else:
        assert cuda == "None", cuda


def test_the_commands_the_docs_run_in_the_container_work(running: Running):
    """docs/deploy.md: `docker compose exec bge-local bge-local doctor http://127.0.0.1:8000`, and
    `docker compose run --rm bge-local download --dir /models` (only its --help here: no hub in tests)."""
    doctor = running.container.exec("bge-local", "doctor", "http://127.0.0.1:8000")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "✔" in doctor.stdout
    download = running.container.exec("bge-local", "download", "--help")
    assert download.returncode == 0 and "--dir" in download.stdout, download.stderr


# --- compose ------------------------------------------------------------------------------------------


def compose(file: str, *args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return podman("--project-name", "bge-local-test", "--file", file, *args, env=env, timeout=timeout,
                  tool="podman-compose")


def test_compose_file_starts_the_image(variant: str, models_volume: Path, server):
    """`docker compose up -d` with the settings a user puts in .env: image, loopback port, a models folder,
    the models inside it, an API key (and, for the GPU file on this machine, the CPU)."""
    if shutil.which("podman-compose") is None:
        unavailable("podman-compose not installed (Debian: apt-get install podman-compose)")
    port = free_port()
    env = {"BGE_LOCAL_IMAGE": f"{PREFIX}:{variant}", "BGE_LOCAL_HOST_PORT": f"127.0.0.1:{port}",
           "BGE_LOCAL_MODELS_DIR": str(models_volume), "BGE_LOCAL_API_KEY": "sk-compose-test",
           "BGE_LOCAL_DEVICE": "cpu", **MODEL_ENV}
    file = COMPOSE[variant]
    service = yaml.safe_load((REPO / file).read_text())["services"]["bge-local"]
    container = Container(service["container_name"])
    compose(file, "down", env=env)
    try:
        compose(file, "up", "--detach", "--no-build", env=env)
        container.wait_healthy()
        assert podman("port", container.name).stdout.split() == ["8000/tcp", "->", f"127.0.0.1:{port}"]
        url = f"http://127.0.0.1:{port}"
        assert httpx.post(url + "/v1/embeddings", json={"input": "x"}, timeout=30).status_code == 401
        key = {"Authorization": "Bearer sk-compose-test"}
        vectors = embed(url, TEXTS, headers=key)
        assert vectors.shape[0] == len(TEXTS)
        # out of the box, --precision auto: bf16 where this CPU computes it natively, else fp32; close to fp32 anyway
        health = httpx.get(url + "/health", headers=key, timeout=30).json()
        assert {m["precision"] for m in health["models"]} <= {"fp32", "bf16"}, health
        reference = embed(server.url, TEXTS)
        assert np.min(np.sum(vectors * reference, axis=1)) >= 0.999
        # `docker compose stop`: SIGTERM, and the server drains and exits by itself within the file's grace period
        # (podman-compose 1.0 does not read stop_grace_period: passed by hand). Killed when it ends: 137.
        grace = service["stop_grace_period"].removesuffix("s")
        compose(file, "stop", "--timeout", grace, env=env, timeout=int(grace) + 60)
        assert container.inspect("{{.State.ExitCode}}") in ("0", "143"), container.logs()
    finally:
        compose(file, "down", env=env)
