"""Install footprint and start-up time of `bge-local serve`, for one or more installs side by side.

    python bench/startup.py --install after=/path/to/venv [--install before=/other/venv] [--runs 3]

For each install (a venv holding bge-local): its size on disk (`du -sm` of the venv) and its number of
distributions (``*.dist-info`` folders in site-packages), then the seconds from starting
``VENV/bin/python -m local_server serve`` (on the tiny stand-in models, both models, CPU) until ``/health``
answers 200, and the CPU seconds the server used by then. Runs are interleaved (A B, B A, ...) so machine
noise hits every install alike. Each server runs from a scratch directory, so the venv's own copy of bge-local
is what starts, never this checkout's.

Only the standard library is used: any Python can run it. The tiny models come from ``--models-dir``
(default: the tests' ``.cache/tiny-models``; ``bge-local make-test-models DIR`` builds them).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def footprint(venv: Path) -> dict[str, float | int]:
    """Size on disk (MB, as `du -sm`) and distributions installed."""
    size_mb = int(subprocess.run(["du", "-sm", str(venv)], check=True, capture_output=True, text=True)
                  .stdout.split()[0])
    dists = len(list(venv.glob("lib/python3*/site-packages/*.dist-info")))
    return {"size_mb": size_mb, "distributions": dists}


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_to_ready(venv: Path, models: Path, timeout: float = 300.0) -> tuple[float, float]:
    """Wall seconds from process start to the first 200 from /health (polled every 20 ms), and the CPU seconds
    the server used by then (which a busy shared machine inflates far less than the wall time)."""
    port = free_port()
    cmd = [str(venv / "bin" / "python"), "-m", "local_server", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--embedding-model", str(models / "bge-m3"), "--reranker-model", str(models / "bge-reranker-v2-m3"),
           "--device", "cpu"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    url = f"http://127.0.0.1:{port}/health"
    with tempfile.TemporaryDirectory() as scratch, open(Path(scratch) / "server.log", "wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while time.perf_counter() - start < timeout:
                if proc.poll() is not None:
                    raise RuntimeError(f"{venv}: server exited with {proc.returncode}:\n"
                                       + (Path(scratch) / "server.log").read_text(errors="replace")[-3000:])
                if _healthy(url):
                    return time.perf_counter() - start, cpu_seconds(proc.pid)
                time.sleep(0.02)
            raise RuntimeError(f"{venv}: not ready after {timeout} s")
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--install", action="append", required=True, metavar="LABEL=VENV",
                   help="an install to measure (repeat to compare)")
    p.add_argument("--runs", type=int, default=3, help="start-ups per install (default 3)")
    p.add_argument("--models-dir", type=Path, default=REPO / ".cache" / "tiny-models")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    installs = {}
    for item in args.install:
        label, _, venv = item.partition("=")
        installs[label] = Path(venv).resolve()
    if not (args.models_dir / "bge-m3").is_dir():
        p.error(f"no tiny models in {args.models_dir}: build them with `bge-local make-test-models DIR`")

    results = {label: {**footprint(venv), "venv": str(venv), "ready_s": [], "cpu_s": []}
               for label, venv in installs.items()}
    labels = list(installs)
    for run in range(args.runs):
        order = labels[run % len(labels):] + labels[: run % len(labels)]
        for label in order:
            seconds, cpu = time_to_ready(installs[label], args.models_dir)
            results[label]["ready_s"].append(round(seconds, 2))
            results[label]["cpu_s"].append(round(cpu, 2))
            print(f"run {run + 1}: {label} ready in {seconds:.2f} s ({cpu:.2f} CPU-s)", file=sys.stderr)

    print("| install | size (MB) | distributions | serve → /health 200: wall s, each run | median | CPU-s, each run "
          "| median |")
    print("|---|---|---|---|---|---|---|")
    for label, r in results.items():
        wall = ", ".join(f"{s:.2f}" for s in r["ready_s"])
        cpu = ", ".join(f"{s:.2f}" for s in r["cpu_s"])
        print(f"| {label} | {r['size_mb']} | {r['distributions']} | {wall} | {statistics.median(r['ready_s']):.2f} "
              f"| {cpu} | {statistics.median(r['cpu_s']):.2f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
