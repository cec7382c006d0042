"""Run the real ``bge-local serve`` as a separate process on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``with ServerProcess(models_dir, "--api-key", "k") as server: httpx.get(server.url + "/health")``"""

    def __init__(self, models_dir: Path | None, *args: str, env: dict[str, str] | None = None,
                 embedder: bool = True, reranker: bool = True, log_dir: Path | None = None,
                 wait_ready: bool = True):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = list(args)
        self.models_dir = models_dir
        self.embedder = embedder
        self.reranker = reranker
        self.env = env or {}
        self.wait_ready = wait_ready
        self.log_path = (log_dir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"bge-local-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.api_key: str | None = None
        if "--api-key" in self.args:
            self.api_key = self.args[self.args.index("--api-key") + 1]

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "local_server", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.models_dir is not None:
            cmd += ["--embedding-model", str(self.models_dir / "bge-m3") if self.embedder else "none"]
            cmd += ["--reranker-model", str(self.models_dir / "bge-reranker-v2-m3") if self.reranker else "none"]
        return cmd + self.args

    def start(self) -> ServerProcess:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        env.update(self.env)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.command(), cwd=REPO, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        if self.wait_ready:
            try:
                self.wait_until_ready()
            except BaseException:
                self.stop()  # never leave a server behind when start-up fails or times out
                raise
        return self

    def wait_until_ready(self, timeout: float | None = None) -> None:
        # a bound, not a timing assertion; raise it on a machine shared with other heavy jobs
        timeout = timeout or float(os.environ.get("BGE_LOCAL_TEST_READY_S", "600"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()[-5000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log()[-5000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
