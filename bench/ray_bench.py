"""bge-local on Ray Serve against bge-local serve: the proxy's overhead, and throughput by replica count.

    .venv/bin/python bench/ray_bench.py                         # small stand-in models, CPU replicas
    .venv/bin/python bench/ray_bench.py --replicas 1,2,4        # on a machine with the cores for 4 replicas

Both parts run scenario (a) of bench/run.py, Dify's pattern: 32 concurrent clients, one text each (16-510
tokens, log-uniform), OpenAI /v1/embeddings, every answer checked. Ratios come from one run (no repetitions).

1. Overhead: ``bge-local serve`` on all cores against the Ray application with one embedder replica given all
   cores (``num_cpus``, which also sets its torch threads), through Serve's HTTP proxy; the ingress and the proxy
   share those cores, as they would share a GPU machine's CPUs.
2. Scaling: N embedder replicas of ``--cpus-per-replica`` CPUs each (default: the cores divided by the largest
   N); efficiency = throughput(N) / (N x throughput(1)).

The cluster is one local Ray node started by this script (tests/scale/ray_cluster.py) and stopped at the end;
the load generator runs in this process. Writes bench/results/ray-<date>.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO / "tests" / "scale"))
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only, before Ray is imported
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import httpx  # noqa: E402
from loadgen import run_load  # noqa: E402
from run import ensure_models  # noqa: E402
from workload import SCENARIOS, TokenCounter, build_requests  # noqa: E402


def wait_http(url: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def measure(url: str, bodies: list[dict[str, Any]], clients: int, warmup: list[dict[str, Any]]) -> dict[str, Any]:
    def check(i: int, answer: Any) -> str | None:
        n = len(bodies[i]["input"])
        return None if len(answer.get("data", [])) == n else f"request {i}: {len(answer.get('data', []))} vectors"

    asyncio.run(run_load(url + "/v1/embeddings", warmup, min(clients, len(warmup))))
    result = asyncio.run(run_load(url + "/v1/embeddings", bodies, clients, check=check))
    if result.errors:
        raise RuntimeError(f"{result.errors} failed requests, first: {result.first_error}")
    lat = sorted(result.latencies)
    return {"requests_per_s": len(bodies) / result.wall_s, "p50_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], "wall_s": result.wall_s}


def direct_serve(embedder: str, bodies: list[dict[str, Any]], clients: int, warmup: list[dict[str, Any]],
                 log_dir: Path) -> dict[str, Any]:
    from ray_cluster import free_port

    port = free_port()
    log = open(log_dir / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "local_server", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--embedding-model", embedder, "--reranker-model", "none"],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        wait_http(f"http://127.0.0.1:{port}")
        return measure(f"http://127.0.0.1:{port}", bodies, clients, warmup)
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()


def ray_config(embedder: str, port: int, replicas: int, cpus: float, ingress_cpus: float) -> dict[str, Any]:
    import yaml

    out = subprocess.run([sys.executable, "-m", "local_server", "ray-config", "--embedding-model", embedder,
                          "--reranker-model", "none", "--host", "127.0.0.1", "--port", str(port),
                          "--proxy-location", "HeadOnly", "--gpus-per-replica", "0", "--cpus-per-replica",
                          str(cpus), "--ingress-cpus", str(ingress_cpus), "--embedder-replicas", str(replicas),
                          "--ingress-replicas", "1"], capture_output=True, text=True, check=True, cwd=REPO).stdout
    return yaml.safe_load(out)


def settle(replicas: int, timeout: float = 1200) -> None:
    from ray import serve

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app = serve.status().applications.get("bge-local")
        if app is not None and app.status == "RUNNING":
            states = app.deployments["embedder"].replica_states
            if states.get("RUNNING", 0) == replicas and set(states) == {"RUNNING"}:
                return
        time.sleep(1)
    raise RuntimeError(f"embedder not at {replicas} replicas after {timeout} s")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=["tiny", "small", "full"], default="small")
    p.add_argument("--models-dir", type=Path)
    p.add_argument("--replicas", default=None, help="replica counts for the scaling part, e.g. 1,2,4 (default: "
                   "1,2,4 with >= 8 cores, else 1,2)")
    p.add_argument("--cpus-per-replica", type=float, default=None)
    p.add_argument("--requests", type=int, default=None, help="requests per measurement (default: scenario a's)")
    p.add_argument("--out", type=Path)
    args = p.parse_args()

    cores = os.cpu_count() or 1
    counts = [int(x) for x in (args.replicas or ("1,2,4" if cores >= 8 else "1,2")).split(",")]
    per_replica = args.cpus_per_replica or max(1.0, cores // max(counts))
    scenario = SCENARIOS["a"]
    models = ensure_models(args.size, args.models_dir)
    embedder = str(models / "bge-m3")
    counter = TokenCounter(embedder)
    n = args.requests or scenario.requests
    bodies = [{"input": r.texts, "model": "bge-m3"} for r in build_requests(scenario, counter, n)]
    warmup = [{"input": r.texts} for r in build_requests(scenario, counter, scenario.clients, seed=7)]
    tmp = Path(tempfile.mkdtemp(prefix="bgeray-", dir="/tmp"))
    os.environ["RAY_TMPDIR"] = str(tmp)
    report: dict[str, Any] = {"machine": {"cores": cores, "cpu": platform.processor() or platform.machine()},
                              "scenario": scenario.title, "requests": n, "clients": scenario.clients,
                              "models": args.size, "cpus_per_replica": per_replica}
    try:
        print(f"direct bge-local serve ({cores} cores) ...", flush=True)
        report["serve"] = direct_serve(embedder, bodies, scenario.clients, warmup, tmp)

        import ray
        from ray_cluster import LocalCluster, disconnect, free_port, serve_run

        ingress_cpus = 0.5
        # Ray counts whole CPUs per node; the ingress's share comes on top of the replicas' (it shares the cores)
        cluster = LocalCluster(tmp / "ray", head_cpus=math.ceil(max(cores, max(counts) * per_replica) + ingress_cpus),
                               dashboard=False)
        try:
            ray.init(address=cluster.address, namespace="serve", log_to_driver=False, logging_level="WARNING")
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            print(f"Ray Serve, 1 replica x {cores} CPUs ...", flush=True)
            serve_run(ray_config(embedder, port, 1, cores, ingress_cpus), tmp, cluster.address)
            settle(1)
            wait_http(url)
            report["ray_one_replica"] = measure(url, bodies, scenario.clients, warmup)
            report["scaling"] = {}
            for count in counts:
                print(f"Ray Serve, {count} replica(s) x {per_replica:g} CPUs ...", flush=True)
                serve_run(ray_config(embedder, port, count, per_replica, ingress_cpus), tmp, cluster.address)
                settle(count)
                report["scaling"][str(count)] = measure(url, bodies, scenario.clients, warmup)
        finally:
            disconnect()
            cluster.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    base = report["serve"]["requests_per_s"]
    one = report["ray_one_replica"]["requests_per_s"]
    report["proxy_throughput_ratio"] = one / base
    first = report["scaling"][str(counts[0])]["requests_per_s"] / counts[0]
    for count, r in report["scaling"].items():
        r["efficiency"] = r["requests_per_s"] / (int(count) * first)
    print(f"\n{scenario.title}, {n} requests, {scenario.clients} clients, {args.size} models, {cores} cores")
    print(f"  bge-local serve:            {base:7.1f} req/s  p50 {report['serve']['p50_ms']:6.0f} ms")
    print(f"  Ray Serve, 1 replica:       {one:7.1f} req/s  p50 {report['ray_one_replica']['p50_ms']:6.0f} ms"
          f"  ({one / base:.2f}x)")
    for count, r in report["scaling"].items():
        print(f"  {count} replica(s) x {per_replica:g} CPU: {r['requests_per_s']:7.1f} req/s  p50 "
              f"{r['p50_ms']:6.0f} ms  efficiency {r['efficiency']:.2f}")
    out = args.out or BENCH / "results" / f"ray-{time.strftime('%Y-%m-%d')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
