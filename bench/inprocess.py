"""The in-process loop: the seeds' FlagEmbedding calls, one per request, back to back, with no HTTP.

Run by ``bench/run.py`` as a child process (so its memory is measured alone and the load generator never
shares its interpreter). It reads one JSON command per line on stdin and answers one JSON line on stdout:

    {"op": "run", "file": "requests.json", "outputs": ["dense"]}
    -> {"latencies": [...], "wall_s": ..., "cpu_s": ...}

and, at start, ``{"ready": true, "matmul_gflops": ...}`` (the device's measured matmul rate, the
denominator of the "% of peak" column on CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seedway import SeedWay


def matmul_gflops(device: str, trials: int = 8, seconds: float = 0.25) -> float:
    """The best sustained fp32 (CPU) / fp16 (GPU) matmul rate over a few short trials (the best trial is
    the one least disturbed by other work on a shared machine)."""
    import torch

    gpu = device.startswith("cuda")
    dtype = torch.float16 if gpu else torch.float32
    n = 4096 if gpu else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)

    def sync() -> None:
        if gpu:
            torch.cuda.synchronize()

    for _ in range(3):
        a @ b
    sync()
    best = 0.0
    for _ in range(trials):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(20 if gpu else 1):
                a @ b
                count += 1
            sync()
        best = max(best, 2 * n**3 * count / (time.perf_counter() - start) / 1e9)
    return best


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder")
    parser.add_argument("--reranker")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    out = sys.stdout
    sys.stdout = sys.stderr  # FlagEmbedding's progress bars and prints stay off the protocol channel
    way = SeedWay(args.embedder, args.reranker, args.device)
    gflops = matmul_gflops(args.device)

    def reply(obj: dict) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    reply({"ready": True, "matmul_gflops": gflops, "pid": os.getpid()})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("op") == "quit":
            break
        requests = json.loads(Path(cmd["file"]).read_text())
        outputs = tuple(cmd.get("outputs", ["dense"]))
        latencies = []
        cpu0, start = time.process_time(), time.perf_counter()
        try:
            for req in requests:
                t0 = time.perf_counter()
                if "documents" in req:
                    way.rerank(req["query"], req["documents"])
                else:
                    way.embed(req["texts"], outputs)
                if args.device.startswith("cuda"):
                    import torch

                    torch.cuda.synchronize()
                latencies.append(time.perf_counter() - t0)
        except Exception as exc:  # report, keep serving the next command
            reply({"error": f"{type(exc).__name__}: {exc}"})
            continue
        reply({"latencies": latencies, "wall_s": time.perf_counter() - start,
               "cpu_s": time.process_time() - cpu0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
