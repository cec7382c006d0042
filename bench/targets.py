"""What the benchmark runs the scenarios against, each in its own process on the same model directory.

- ``bge-local``: this server (``python -m local_server serve``), over HTTP;
- ``seed-http``: the seeds' way over HTTP (``seed_server.py``: one FlagEmbedding call per request);
- ``in-process``: the same FlagEmbedding calls in a plain loop, no HTTP (``inprocess.py``);
- ``infinity``: ``infinity_emb v2`` from its own venv, for the scenarios it supports.

The precision comparison's variants of these two (``bge-local@<precision>``, ``infinity@<engine>-<dtype>``) are
in precision_targets.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from loadgen import RunResult, run_load
from target_specs import TARGET_ORDER  # noqa: F401 - the names' one home, re-exported for run.py and report.py
from workload import Request, Scenario

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests"))
from support.server import free_port  # noqa: E402 - the tests' one copy

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
               "TOKENIZERS_PARALLELISM": "false", "DO_NOT_TRACK": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"}


class Target:
    name = ""
    label = ""

    def __init__(self, embedder: str, reranker: str, device: str, log_dir: Path):
        self.embedder, self.reranker, self.device = embedder, reranker, device
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None
        self._log = None

    # ---- process management ------------------------------------------------------------------------
    def command(self) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {**os.environ, **OFFLINE_ENV}

    cwd = REPO  # where the target's command runs

    def start(self) -> None:
        self._log = open(self.log_dir / f"{self.name}.log", "wb")  # noqa: SIM115 - closed in stop()
        started = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), cwd=self.cwd, env=self.env(), stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_ready()
        self.startup_s = time.perf_counter() - started

    def wait_ready(self, timeout: float = 600.0) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return (self.log_dir / f"{self.name}.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()

    def pids(self) -> list[int]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            import psutil

            root = psutil.Process(self.proc.pid)
            return [root.pid] + [c.pid for c in root.children(recursive=True)]
        except Exception:
            return [self.proc.pid]

    # ---- scenarios ---------------------------------------------------------------------------------
    def unsupported(self, scenario: Scenario) -> str | None:
        return None

    def concurrency(self, scenario: Scenario) -> int:
        return scenario.clients

    async def run(self, scenario: Scenario, requests: list[Request], validate: bool = False) -> RunResult:
        raise NotImplementedError  # pragma: no cover - interface


class HttpTarget(Target):
    url = ""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    health_path = "/health"

    def wait_ready(self, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(self.url + self.health_path, timeout=2).status_code == 200:
                    self.on_ready()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} not ready after {timeout} s:\n{self.log_tail()}")

    def on_ready(self) -> None:
        pass

    def path(self, scenario: Scenario) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def body(self, scenario: Scenario, request: Request) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def check(self, scenario: Scenario, request: Request, answer: Any) -> str | None:
        """A problem with a (warm-up) answer, or None."""
        return None

    async def run(self, scenario: Scenario, requests: list[Request], validate: bool = False) -> RunResult:
        self.check_alive()
        bodies = [self.body(scenario, r) for r in requests]
        checker = (lambda i, answer: self.check(scenario, requests[i], answer)) if validate else None
        result = await run_load(self.url + self.path(scenario), bodies, self.concurrency(scenario), checker)
        self.check_alive()
        return result


class BgeLocal(HttpTarget):
    name, label = "bge-local", "this server (HTTP)"

    def __init__(self, *args: Any, extra_args: list[str] | None = None, extra_env: dict[str, str] | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.extra_args = extra_args or []
        self.extra_env = extra_env or {}

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.extra_env}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "local_server", "serve", "--embedding-model", self.embedder,
                "--reranker-model", self.reranker, "--host", "127.0.0.1", "--port", str(self.port),
                "--device", self.device, "--log-level", "warning", *self.extra_args]

    def path(self, scenario: Scenario) -> str:
        return "/v1/rerank" if scenario.kind == "rerank" else "/v1/embeddings"

    def body(self, scenario: Scenario, request: Request) -> dict[str, Any]:
        if scenario.kind == "rerank":
            return {"model": "bge-reranker-v2-m3", "query": request.query, "documents": request.documents}
        body: dict[str, Any] = {"model": "bge-m3", "input": request.texts}
        if "sparse" in scenario.outputs:
            body["return_sparse"] = True
        if "colbert" in scenario.outputs:
            body["return_colbert_vecs"] = True
        return body

    def check(self, scenario: Scenario, request: Request, answer: Any) -> str | None:
        items = answer.get("results") if scenario.kind == "rerank" else answer.get("data")
        if len(items) != len(request.lengths):
            return f"{len(items)} results for {len(request.lengths)} inputs"
        if scenario.kind == "embed":
            for key, field in (("sparse", "sparse_embedding"), ("colbert", "colbert_embedding")):
                if key in scenario.outputs and field not in items[0]:
                    return f"no {field} in the answer"
        tokens = answer["usage"]["total_tokens"]
        if tokens != request.tokens:
            return f"server counted {tokens} tokens, the benchmark {request.tokens}"
        return None


class BgeLocalAt(BgeLocal):
    """This server as it was at an earlier commit (``run.py --baseline REV``), from a copy of that commit's tree.

    It runs with the same interpreter and packages as ``bge-local``: ``python -m`` puts the copy first on
    ``sys.path``, so its ``local_server`` is imported instead of this checkout's. Only the code differs."""

    def __init__(self, *args: Any, rev: str, tree: Path, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.name, self.label, self.cwd = f"bge-local@{rev}", f"this server at {rev}", tree

    def env(self) -> dict[str, str]:
        return {**super().env(), "PYTHONPATH": str(self.cwd)}


class SeedHttp(HttpTarget):
    name, label = "seed-http", "seeds' way (HTTP, 1 call/request)"

    def command(self) -> list[str]:
        return [sys.executable, str(BENCH / "seed_server.py"), "--embedder", self.embedder, "--reranker",
                self.reranker, "--device", self.device, "--port", str(self.port)]

    def path(self, scenario: Scenario) -> str:
        return "/rerank" if scenario.kind == "rerank" else "/embed"

    def body(self, scenario: Scenario, request: Request) -> dict[str, Any]:
        if scenario.kind == "rerank":
            return {"query": request.query, "documents": request.documents}
        mode = "all" if len(scenario.outputs) > 1 else scenario.outputs[0]
        return {"texts": request.texts, "mode": mode, "max_length": 8192}

    def check(self, scenario: Scenario, request: Request, answer: Any) -> str | None:
        if scenario.kind == "rerank":
            n = len(answer["scores"])
        else:
            emb = answer["embeddings"]
            n = len(emb["dense"]) if isinstance(emb, dict) else len(emb)
        return None if n == len(request.lengths) else f"{n} results for {len(request.lengths)} inputs"


class Infinity(HttpTarget):
    name, label = "infinity", "Infinity (HTTP)"

    def __init__(self, *args: Any, venv: Path, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.venv = venv
        self.models: dict[str, str] = {}
        self.version = ""
        self.truncating = False

    def engine_args(self) -> list[str]:
        """Infinity's engine options (the plain target: its torch engine at its default dtype)."""
        return ["--engine", "torch"]

    def command(self) -> list[str]:
        return [str(self.venv / "bin" / "infinity_emb"), "v2", "--model-id", self.embedder, "--model-id",
                self.reranker, *self.engine_args(), "--device", "cuda" if self.device.startswith("cuda") else
                "cpu", "--pooling-method", "cls", "--no-model-warmup", "--no-vector-disk-cache",
                "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.device.startswith("cuda:"):
            env["CUDA_VISIBLE_DEVICES"] = self.device.split(":", 1)[1]
        return env

    def on_ready(self) -> None:
        for model in httpx.get(self.url + "/models", timeout=10).json()["data"]:
            for capability in model.get("capabilities", []):
                self.models[capability] = model["id"]
        out = subprocess.run([str(self.venv / "bin" / "python"), "-c",
                              "import importlib.metadata as m; print(m.version('infinity-emb'))"],
                             capture_output=True, text=True)
        self.version = out.stdout.strip()

    def truncates_at(self, long_text: str, prefix: str) -> bool:
        """True if Infinity embeds a long text exactly like its prefix, i.e. cuts inputs short (it must see the
        whole document, as the other targets do, for the long-document figures to compare)."""
        import math

        body = {"model": self.models.get("embed"), "input": [long_text, prefix]}
        data = httpx.post(self.url + "/embeddings", json=body, timeout=600).json()["data"]
        a, b = data[0]["embedding"], data[1]["embedding"]
        cos = sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
        return cos > 0.99999

    def unsupported(self, scenario: Scenario) -> str | None:
        if self.truncating and scenario.key == "c":
            return "Infinity truncates long inputs here (same vector for a text and its prefix)"
        if len(scenario.outputs) > 1:
            return "Infinity serves bge-m3's dense output only (no sparse or ColBERT heads)"
        return None

    def path(self, scenario: Scenario) -> str:
        return "/rerank" if scenario.kind == "rerank" else "/embeddings"

    def body(self, scenario: Scenario, request: Request) -> dict[str, Any]:
        if scenario.kind == "rerank":
            return {"model": self.models.get("rerank"), "query": request.query, "documents": request.documents}
        return {"model": self.models.get("embed"), "input": request.texts}

    def check(self, scenario: Scenario, request: Request, answer: Any) -> str | None:
        items = answer.get("results") if scenario.kind == "rerank" else answer.get("data")
        return None if len(items) == len(request.lengths) else f"{len(items)} results"


class InProcess(Target):
    name, label = "in-process", "seeds' way in-process (loop, no HTTP)"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.matmul_gflops: float | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-inproc-")

    def command(self) -> list[str]:
        return [sys.executable, str(BENCH / "inprocess.py"), "--embedder", self.embedder, "--reranker",
                self.reranker, "--device", self.device]

    def start(self) -> None:
        self._log = open(self.log_dir / f"{self.name}.log", "wb")  # noqa: SIM115 - closed in stop()
        started = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), cwd=REPO, env=self.env(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        hello = self._read()
        self.matmul_gflops = hello.get("matmul_gflops")
        self.startup_s = time.perf_counter() - started

    def wait_ready(self, timeout: float = 600.0) -> None:
        pass

    def _read(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
        return json.loads(line)

    def concurrency(self, scenario: Scenario) -> int:
        return 1

    async def run(self, scenario: Scenario, requests: list[Request], validate: bool = False) -> RunResult:
        assert self.proc is not None and self.proc.stdin is not None
        path = Path(self._tmp.name) / f"{scenario.key}.json"
        path.write_text(json.dumps([r.neutral() for r in requests]))
        self.proc.stdin.write(json.dumps({"op": "run", "file": str(path), "outputs": list(scenario.outputs)}) + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        if "error" in answer:
            return RunResult(latencies=[], wall_s=0.0, errors=len(requests), first_error=answer["error"])
        return RunResult(latencies=answer["latencies"], wall_s=answer["wall_s"], errors=0)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                pass
        super().stop()
        self._tmp.cleanup()
