"""A real two-node Ray cluster on this machine, all on 127.0.0.1, owned and stopped by the test process.

Ray's own ``ray.cluster_utils.Cluster`` starts each node's processes (GCS, raylet, agents) as children of the test
process and kills them by handle on ``remove_node``/``shutdown``; nothing is stopped by name. Each node gets a
custom resource naming it (``bge_node_head``, ``bge_node_b``), so tests can tell where replicas run and remove a
node to simulate its loss.

Loaded machines: the raylet aborts when its dashboard agent has not written its HTTP port file within a fixed
15 s, and on a busy 2-core machine the agent's imports alone can take longer. Every port of a node is chosen
here, so the file's content is known in advance; ``_AgentPortFile`` writes it as soon as the node's session
directory exists (the agent later writes the same number). If Ray changes that file's name, this simply does
nothing and startup behaves as in plain Ray.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ray.cluster_utils import Cluster

REPO = Path(__file__).resolve().parents[2]
APP = "bge-local"
SERVE = str(Path(sys.executable).parent / "serve")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _AgentPortFile(threading.Thread):
    def __init__(self, temp_root: Path, node_id: str, port: int):
        super().__init__(daemon=True)
        self.temp_root, self.node_id, self.port = temp_root, node_id, port
        self.done = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.done.is_set() and time.monotonic() < deadline:
            for session in self.temp_root.glob("session_2*"):
                target = session / f"dashboard_agent_listen_port_{self.node_id}"
                if not target.exists():
                    with contextlib.suppress(OSError):
                        tmp = target.with_suffix(".tmp")
                        tmp.write_text(str(self.port))
                        tmp.rename(target)
                return
            time.sleep(0.05)


class LocalCluster:
    """``head`` + ``add_worker()``: every node on 127.0.0.1 with its own named resource."""

    def __init__(self, temp_root: Path, *, head_cpus: float = 4, dashboard: bool = True):
        self.temp_root = temp_root  # RAY_TMPDIR/ray
        self.dashboard_port = free_port() if dashboard else None
        args: dict[str, Any] = {"num_cpus": head_cpus, "resources": {"bge_node_head": 100}}
        if dashboard:
            args.update(include_dashboard=True, dashboard_host="127.0.0.1", dashboard_port=self.dashboard_port)
        else:
            args.update(include_dashboard=False)
        self.cluster = Cluster(initialize_head=False)
        self.head = self._start(args, head=True)
        self.workers: list[Any] = []

    @property
    def address(self) -> str:
        return self.cluster.address

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def _start(self, args: dict[str, Any], *, head: bool = False, attempts: int = 3) -> Any:
        last: Exception | None = None
        for _ in range(attempts):
            import ray

            node_id = ray.NodeID.from_random().hex()
            listen = free_port()
            node_args = {
                "node_ip_address": "127.0.0.1",
                "object_store_memory": 80 * 2**20,
                "metrics_agent_port": free_port(),
                "metrics_export_port": free_port(),
                "runtime_env_agent_port": free_port(),
                "dashboard_agent_listen_port": listen,
                "env_vars": {"RAY_OVERRIDE_NODE_ID_FOR_TESTING": node_id},
                **args,
            }
            helper = _AgentPortFile(self.temp_root, node_id, listen)
            helper.start()
            try:
                return self.cluster.add_node(**node_args)
            except Exception as exc:  # a node that did not come up: its processes are the reaper's
                last = exc
            finally:
                helper.done.set()
        raise RuntimeError(f"a Ray node did not start after {attempts} attempts: {last}")

    def add_worker(self, name: str = "bge_node_b", cpus: float = 4) -> Any:
        node = self._start({"num_cpus": cpus, "resources": {name: 100}})
        self.workers.append(node)
        return node

    def remove_worker(self, node: Any) -> None:
        """The node's processes are killed at once (no drain): a machine that is lost."""
        self.cluster.remove_node(node, allow_graceful=False)
        self.workers.remove(node)

    def shutdown(self) -> None:
        self.cluster.shutdown()


def ray_config(tiny_models: Path, port: int, *extra: str) -> dict[str, Any]:
    """``bge-local ray-config`` for the tiny models on CPU replicas with small CPU shares (2 shared cores)."""
    import yaml

    cmd = [sys.executable, "-m", "local_server", "ray-config",
           "--embedding-model", str(tiny_models / "bge-m3"),
           "--reranker-model", str(tiny_models / "bge-reranker-v2-m3"),
           "--host", "127.0.0.1", "--port", str(port), "--proxy-location", "HeadOnly",
           "--gpus-per-replica", "0", "--cpus-per-replica", "0.25", "--ingress-cpus", "0.25",
           "--embedder-replicas", "2", "--reranker-replicas", "1:2", "--ingress-replicas", "1",
           "--upscale-delay-s", "1", "--downscale-delay-s", "4", "--drain-timeout-s", "20", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO,
                         env=os.environ).stdout
    config = yaml.safe_load(out)
    deployments = {d["name"]: d for d in config["applications"][0]["deployments"]}
    # The ingress stays on the head, as the proxy does (HeadOnly): losing the second node takes model replicas.
    deployments["ingress"]["ray_actor_options"]["resources"] = {"bge_node_head": 1}
    # Short autoscaling loop for the burst test: one ongoing request per reranker replica is the target, averaged
    # over 12 s (Ray wants the look-back above metrics_interval_s, 10 s; at or below it warns, later refuses).
    deployments["reranker"]["autoscaling_config"].update(target_ongoing_requests=1, look_back_period_s=12)
    return config


def serve_run(config: dict[str, Any], tmp: Path, address: str) -> None:
    """``serve run FILE --non-blocking``: the Serve CLI submits the config to the cluster's controller."""
    import yaml

    path = tmp / f"serve-{time.monotonic_ns()}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    # Submitting is idempotent. On a busy 2-core machine the CLI's first connection (it starts Serve's controller
    # and proxy) has once taken over 5 minutes; a second submission then finds them running.
    for attempt in (1, 2):
        try:
            run = subprocess.run([SERVE, "run", str(path), "--non-blocking", "--address", address],
                                 capture_output=True, text=True, cwd=REPO, env=os.environ, timeout=300)
            break
        except subprocess.TimeoutExpired:
            if attempt == 2:
                raise
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def disconnect(timeout: float = 120.0) -> None:
    """Shut Serve down and disconnect this driver, bounded: ``serve.shutdown()`` waits for the Serve controller
    without limit, and a controller that died with its node (or never started) would hang the teardown. After
    ``timeout`` seconds the cluster's processes are stopped by handle anyway (``LocalCluster.shutdown``)."""
    import ray
    from ray import serve

    def stop() -> None:
        serve.shutdown()
        ray.shutdown()

    if ray.is_initialized():
        worker = threading.Thread(target=stop, daemon=True)
        worker.start()
        worker.join(timeout)

