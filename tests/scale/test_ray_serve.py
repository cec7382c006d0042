"""bge-local on a real two-node Ray cluster (this machine, 127.0.0.1), through Serve's HTTP proxy.

One cluster and one application for the module, deployed from ``bge-local ray-config``'s file with ``serve run``:
ingress on the head, two embedder replicas (one per node), a reranker autoscaled 1..2; tiny models on CPU
replicas with quarter-CPU shares. The tests run in order; the last one loses a node.

The reference is the single-process ``bge-local serve`` on the same models (the session ``server`` fixtures):
every dialect's answer through Serve must equal its answer, errors included.
"""

from __future__ import annotations

import base64
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from ray_cluster import free_port, ray_config, serve_run
from serve_checks import TEXTS, Load, app_settled, replica_stats, running_replicas, wait_for

# The first test also waits for the reference server, the cluster and the replicas (minutes on a busy machine).
pytestmark = [pytest.mark.ray, pytest.mark.timeout(1800)]

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")

KEY = "ray-test-key"


# ---- the application -------------------------------------------------------------------------------------------


@dataclass
class Deployed:
    url: str
    config: dict[str, Any]
    address: str
    tmp: Path

    def redeploy(self, config: dict[str, Any]) -> None:
        self.config = config
        serve_run(config, self.tmp, self.address)


@pytest.fixture(scope="module")
def app(server, cluster, tiny_models: Path, cl100k_dir: Path, tmp_path_factory) -> Iterator[Deployed]:
    """Deployed once the reference server is up (both at once overload a 2-core machine)."""
    port = free_port()
    config = ray_config(tiny_models, port, "--max-batch-tokens", "16384")  # serve's default, set to be changed
    ingress = next(d for d in config["applications"][0]["deployments"] if d["name"] == "ingress")
    ingress["ray_actor_options"]["runtime_env"] = {"env_vars": {"TIKTOKEN_CACHE_DIR": str(cl100k_dir)}}
    deployed = Deployed(f"http://127.0.0.1:{port}", config, cluster.address, tmp_path_factory.mktemp("serve"))
    deployed.redeploy(config)
    # replicas import torch and load their model: minutes on a busy 2-core machine
    wait_for("the application to run", lambda: app_settled({"ingress": 1, "embedder": 2, "reranker": 1}),
             timeout=600)
    wait_for("/health through the proxy", lambda: httpx.get(deployed.url + "/health", timeout=10).status_code == 200)
    yield deployed


# ---- comparing answers -----------------------------------------------------------------------------------------

# generated ids and timestamps; and max_batch_tokens (/info), a batching setting the roll-out test changes on
# the application while the reference servers keep theirs
VOLATILE = {"id", "created", "max_batch_tokens"}


def same(a: Any, b: Any, where: str = "body") -> None:
    """Equal JSON, floats up to batch-padding noise, generated ids and timestamps aside."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            if k not in VOLATILE:
                same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5), f"{where}: {a} != {b}"
    elif isinstance(a, str) and isinstance(b, str) and where.endswith((".embedding", ".colbert_embedding")):
        x = np.frombuffer(base64.b64decode(a), "<f4")
        y = np.frombuffer(base64.b64decode(b), "<f4")
        assert x.shape == y.shape and np.allclose(x, y, atol=1e-5), f"{where}: base64 vectors differ"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


LONG = " ".join(["word"] * 3000)
REQUESTS: list[tuple[str, str, Any]] = [
    # OpenAI (openai-python sends base64 by default; LangChain sends cl100k token ids)
    ("POST", "/v1/embeddings", {"input": TEXTS, "model": "bge-m3"}),
    ("POST", "/v1/embeddings", {"input": TEXTS[0], "encoding_format": "base64"}),
    ("POST", "/v1/embeddings", {"input": TEXTS[:2], "return_sparse": True, "return_sparse_tokens": True,
                                "return_colbert_vecs": True}),
    ("POST", "/v1/embeddings", {"input": [[9906, 1917], [791, 6437]], "model": "text-embedding-3-small"}),
    ("POST", "/embeddings", {"input": LONG}),
    # TEI and the seed guide's /embed
    ("POST", "/embed", {"inputs": TEXTS[:3]}),
    ("POST", "/embed", {"texts": TEXTS[:2], "mode": "sparse"}),
    ("POST", "/embed", {"texts": TEXTS[:1], "mode": "colbert", "max_length": 8}),
    ("POST", "/embed_sparse", {"inputs": TEXTS[1]}),
    ("POST", "/rerank", {"query": "Which animal lives in China?", "texts": TEXTS, "raw_scores": True,
                         "return_text": True}),
    # Jina / Cohere
    ("POST", "/rerank", {"model": "bge-reranker-v2-m3", "query": "panda", "documents": TEXTS, "top_n": 3,
                         "return_documents": True}),
    ("POST", "/v1/rerank", {"query": "Paris", "documents": [{"text": t} for t in TEXTS]}),
    ("POST", "/v2/rerank", {"model": "rerank-v3.5", "query": "France", "documents": TEXTS[:4]}),
    # vLLM
    ("POST", "/score", {"text_1": "panda", "text_2": TEXTS}),
    ("POST", "/v1/score", {"text_1": TEXTS[:2], "text_2": TEXTS[2:4], "truncate_prompt_tokens": 16}),
    ("POST", "/tokenize", {"prompt": TEXTS[0]}),
    ("POST", "/tokenize", {"inputs": TEXTS[1]}),
    ("GET", "/v1/models", None),
    ("GET", "/info", None),
    # errors: the same status and body
    ("POST", "/v1/embeddings", {"input": []}),
    ("POST", "/v1/embeddings", {"input": "x", "dimensions": 3}),
    ("POST", "/embed", {"inputs": LONG, "truncate": False}),
    ("POST", "/rerank", {"query": "q"}),
    ("POST", "/score", {"text_1": ["a", "b"], "text_2": ["c", "d", "e"]}),
    ("POST", "/v1/embeddings", b"{not json"),
    ("GET", "/v1/embeddings", None),
    ("POST", "/no/such/route", {}),
]


def call(client: httpx.Client, base: str, method: str, path: str, body: Any, headers: dict | None = None):
    if isinstance(body, bytes):
        return client.request(method, base + path, content=body, headers={"content-type": "application/json",
                                                                           **(headers or {})})
    return client.request(method, base + path, json=body, headers=headers)


def compare_dialects(ray_url: str, reference_url: str, headers: dict | None = None) -> None:
    with httpx.Client(timeout=120) as client:
        for method, path, body in REQUESTS:
            want = call(client, reference_url, method, path, body, headers)
            got = call(client, ray_url, method, path, body, headers)
            label = f"{method} {path} {str(body)[:60]}"
            assert got.status_code == want.status_code, f"{label}: {got.status_code} != {want.status_code}"
            assert got.headers["content-type"] == want.headers["content-type"], label
            same(got.json(), want.json(), label)
            assert got.headers.get("x-request-id"), label


def test_every_dialect_answers_as_the_single_process_server(app: Deployed, server) -> None:
    compare_dialects(app.url, server.url)


def test_dify_plugin_works_through_serve(app: Deployed, server, tmp_path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "plugin"))
    from plugin_harness import PluginProcess, plugin_python, unpack

    from local_server.tools.package_plugin.build import build_package

    python = plugin_python()
    if not python.exists():
        pytest.fail(f"no plugin runtime at {python}: python3 -m venv .venv-plugin && "
                    ".venv-plugin/bin/pip install -r requirements.txt")
    plugin_dir = unpack(build_package(Path(__file__).parents[2], tmp_path / "dist"), tmp_path / "p")
    plugin = PluginProcess(python, plugin_dir)
    try:
        creds = {"server_url": app.url}
        assert plugin.validate_provider(creds)["result"] is True
        got = plugin.embed("bge-m3", creds, TEXTS)
        want = plugin.embed("bge-m3", {"server_url": server.url}, TEXTS)
        same(got["embeddings"], want["embeddings"], "plugin embeddings")
        assert got["usage"]["tokens"] == want["usage"]["tokens"]
        got = plugin.rerank("bge-reranker-v2-m3", creds, "panda", TEXTS, top_n=3)
        want = plugin.rerank("bge-reranker-v2-m3", {"server_url": server.url}, "panda", TEXTS, top_n=3)
        same(got["docs"], want["docs"], "plugin rerank")
        assert plugin.num_tokens("bge-m3", creds, TEXTS) == plugin.num_tokens("bge-m3", {"server_url": server.url},
                                                                              TEXTS)
    finally:
        plugin.close()


# ---- load ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def expected(server) -> dict[str, np.ndarray]:
    r = httpx.post(server.url + "/v1/embeddings", json={"input": TEXTS}, timeout=60)
    return {t: np.asarray(d["embedding"]) for t, d in zip(TEXTS, r.json()["data"], strict=True)}


# ---- placement and load balancing ------------------------------------------------------------------------------


def test_replicas_run_on_both_nodes_and_load_reaches_both(app: Deployed, expected) -> None:
    nodes = {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}
    before = replica_stats("embedder", 2)
    placed = {s["node_id"] for s in before.values()}
    assert placed == set(nodes), "one embedder replica on each node"
    with Load(app.url, expected, clients=6) as load:
        load.wait_for_requests(60)
    assert not load.failed and not load.wrong and load.retried == 0
    after = replica_stats("embedder", 2)
    for replica, stats in after.items():
        assert stats["inputs"] > before[replica]["inputs"], f"replica {replica} on {stats['node_id']} got no work"


# ---- autoscaling -----------------------------------------------------------------------------------------------


def test_a_burst_scales_the_reranker_out_and_idleness_back_in(app: Deployed) -> None:
    assert running_replicas("reranker") == 1
    stop = threading.Event()
    errors: list[str] = []

    def burst() -> None:
        with httpx.Client(timeout=120) as client:
            while not stop.is_set():
                r = client.post(app.url + "/rerank", json={"query": "panda", "documents": TEXTS * 20})
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=burst) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        wait_for("the reranker to scale out to 2 replicas", lambda: running_replicas("reranker") >= 2, timeout=240)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=180)
    assert not errors
    wait_for("the idle reranker to scale back in to 1 replica", lambda: app_settled({"reranker": 1}), timeout=240)
    r = httpx.post(app.url + "/rerank", json={"query": "panda", "documents": TEXTS}, timeout=60)
    assert r.status_code == 200  # the drained replica's going left the deployment serving


# ---- configuration updates -------------------------------------------------------------------------------------


def _with_user_config(config: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """``config`` with batching ``settings`` in every deployment's user_config, as docs/scale.md says to edit it."""
    import copy

    new = copy.deepcopy(config)
    for deployment in new["applications"][0]["deployments"]:
        deployment.setdefault("user_config", {}).update(settings)
    return new


def _without_user_config(config: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """``config`` whose deployments' user_config holds only ``settings`` (none: no user_config at all)."""
    import copy

    new = copy.deepcopy(config)
    for deployment in new["applications"][0]["deployments"]:
        deployment.pop("user_config", None)
        if settings:
            deployment["user_config"] = dict(settings)
    return new


def test_a_new_max_batch_tokens_rolls_out_under_load_without_failed_requests(app: Deployed, expected) -> None:
    before = replica_stats("embedder", 2)
    # budgets below the model's max length (8192 here) are raised to it: the new value must be above it
    assert {s["max_batch_tokens"] for s in before.values()} == {16384}
    with Load(app.url, expected) as load:
        load.wait_for_requests(10)
        app.redeploy(_with_user_config(app.config, max_batch_tokens=12288))
        wait_for("every embedder replica to take max_batch_tokens=12288",
                 lambda: {s["max_batch_tokens"] for s in replica_stats("embedder", 2).values()} == {12288})
        load.wait_for_requests(10)
    assert not load.failed and not load.wrong and load.retried == 0
    # a batching setting is a user_config change: the same replicas, reconfigured in place
    assert set(replica_stats("embedder", 2)) == set(before)
    info = httpx.get(app.url + "/info", timeout=30).json()
    assert info["max_batch_tokens"] == 12288


def _batching(stats: dict[str, dict]) -> set[tuple[int, int]]:
    return {(s["max_batch_tokens"], s["max_batch_size"]) for s in stats.values()}


def test_removing_a_user_config_setting_restores_the_args_value(app: Deployed, expected) -> None:
    """Each user_config is applied to the settings built from ``args``: a setting it no longer names goes back,
    on the running replicas, to the value a replica started now would get."""
    from local_server.config import Settings

    default_size = Settings().max_batch_size
    before = replica_stats("embedder", 2)
    assert _batching(before) == {(12288, default_size)}  # the user_config of the test before
    with Load(app.url, expected, clients=2) as load:
        load.wait_for_requests(5)
        app.redeploy(_without_user_config(app.config, max_batch_size=7))  # max_batch_tokens removed
        wait_for("every embedder replica back at the args' max_batch_tokens, with max_batch_size=7",
                 lambda: _batching(replica_stats("embedder", 2)) == {(16384, 7)})
        app.redeploy(_without_user_config(app.config))  # no user_config at all
        wait_for("every embedder replica back at the args' batching settings",
                 lambda: _batching(replica_stats("embedder", 2)) == {(16384, default_size)})
        load.wait_for_requests(5)
    assert not load.failed and not load.wrong and load.retried == 0
    assert set(replica_stats("embedder", 2)) == set(before)  # in place: the same replicas
    assert httpx.get(app.url + "/info", timeout=30).json()["max_batch_tokens"] == 16384  # the ingress too


def test_turning_on_an_api_key_rolls_out_without_failed_requests_and_matches_keyed_serve(
        app: Deployed, keyed_server, expected) -> None:
    import copy

    keyless = app.config
    config = copy.deepcopy(keyless)
    ingress = next(d for d in config["applications"][0]["deployments"] if d["name"] == "ingress")
    ingress["ray_actor_options"]["runtime_env"]["env_vars"]["BGE_LOCAL_API_KEY"] = "test-key-1,test-key-2"
    with Load(app.url, expected, clients=2) as load:
        load.wait_for_requests(5)
        app.redeploy(config)
        # the new ingress replica answers 401 to keyless requests once it has replaced the old one
        wait_for("the keyed ingress", lambda: httpx.post(app.url + "/v1/embeddings", json={"input": "x"},
                                                         timeout=30).status_code == 401)
        load._stop.set()
    # requests sent while the old ingress drained were answered, none needed a retry (the new ingress refuses
    # keyless ones: 401, not retried)
    assert not load.wrong and load.retried == 0 and all(f.startswith("401") for f in load.failed)
    compare_dialects(app.url, keyed_server.url, {"Authorization": "Bearer test-key-2"})
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        want = httpx.post(keyed_server.url + "/v1/embeddings", json={"input": "x"}, headers=headers, timeout=30)
        got = httpx.post(app.url + "/v1/embeddings", json={"input": "x"}, headers=headers, timeout=30)
        assert got.status_code == want.status_code == 401
        same(got.json(), want.json())
    app.redeploy(keyless)  # keyless again for the tests after this one
    wait_for("the keyless ingress", lambda: httpx.post(app.url + "/v1/embeddings", json={"input": "x"},
                                                       timeout=30).status_code == 200)


def test_a_model_name_added_by_an_args_change_is_served_and_listed(app: Deployed, expected) -> None:
    """An ``args`` change replaces every replica; the new ingress takes its model description from a replica of
    the new ``args`` (not from an old one still draining), so the added name is listed and answers. The ingress
    surges (its successor starts before it stops), so requests keep being answered throughout."""
    import copy

    config = copy.deepcopy(app.config)
    config["applications"][0]["args"]["embedding_names"] = ["bge-m3-rollout"]
    versions = {s["version"] for s in replica_stats("embedder", 2).values()}
    with Load(app.url, expected, clients=2) as load:
        load.wait_for_requests(5)
        app.redeploy(config)
        wait_for("every embedder replica of the new args",
                 lambda: not versions & {s["version"] for s in replica_stats("embedder", 2).values()}, timeout=600)
        wait_for("the application settled on the new args",
                 lambda: app_settled({"ingress": 1, "embedder": 2, "reranker": 1}), timeout=600)
        load.wait_for_requests(5)
    assert not load.failed and not load.wrong
    print(f"\nargs roll-out under load: {load.ok} requests answered, {load.retried} retried, "
          f"slowest {load.slowest:.1f} s")
    names = {m["id"] for m in httpx.get(app.url + "/v1/models", timeout=30).json()["data"]}
    assert "bge-m3-rollout" in names, names
    r = httpx.post(app.url + "/v1/embeddings", json={"input": "x", "model": "bge-m3-rollout"}, timeout=60)
    assert r.status_code == 200, r.text


# ---- faults ----------------------------------------------------------------------------------------------------


def test_killing_an_embedder_replica_under_load_loses_no_request(app: Deployed, expected) -> None:
    victim = next(iter(replica_stats("embedder", 2)))
    with Load(app.url, expected) as load:
        load.wait_for_requests(10)
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
        wait_for("a replacement replica", lambda: running_replicas("embedder") == 2 and
                 victim not in replica_stats("embedder", 2))
        load.wait_for_requests(10)
    assert not load.failed and not load.wrong
    # the rest of the application (a reranker or ingress replica that was on the lost node too) recovers as well
    wait_for("the application back at its replica counts",
             lambda: app_settled({"ingress": 1, "embedder": 2, "reranker": 1}), timeout=300)


def test_losing_a_node_under_load_loses_no_request(app: Deployed, cluster, expected) -> None:
    worker = cluster.workers[0]
    on_worker = [r for r, s in replica_stats("embedder", 2).items() if s["node_id"] == worker.node_id]
    assert on_worker, "an embedder replica runs on the node about to be lost"
    with Load(app.url, expected) as load:
        load.wait_for_requests(10)
        cluster.remove_worker(worker)
        wait_for("the embedder back at 2 replicas without the lost node",
                 lambda: running_replicas("embedder") == 2 and not set(on_worker) & set(replica_stats("embedder", 2)),
                 timeout=300)
        load.wait_for_requests(10)
    assert not load.failed and not load.wrong
    # the rest of the application (a reranker or ingress replica that was on the lost node too) recovers as well
    wait_for("the application back at its replica counts",
             lambda: app_settled({"ingress": 1, "embedder": 2, "reranker": 1}), timeout=300)
