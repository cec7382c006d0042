"""How long choosing one batch takes with 512, 4,096 and 20,000 inputs waiting: the batcher before and after.

    python bench/batch_select.py [--baseline 08a0ef8] [--takes 200] [--sizes 512 4096 20000] [--json OUT]

"Before" is ``Batcher._take_batch`` exactly as it was at the baseline commit (its file read from git and
imported, a batcher with no replicas so no thread runs); "after" is ``LengthQueue.take`` of this checkout. Both
get the same queue: lengths drawn from a mix of Dify-style short texts, chunks and long documents, and as many
new inputs arrive after each take as it removed, so the queue stays at its size. Each take is timed with the
garbage collector on (as in a serving process), under the settings of a GPU server (16,384-token budget,
128 inputs, no padding cap) and of a CPU one (10% padding cap). Medians and p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from local_server.engine.queueing import LengthQueue, WorkItem  # noqa: E402

LENGTHS = [8, 12, 20, 40, 90, 200, 500, 1200, 3000, 8192]
SETTINGS = {"gpu": (16384, 128, 1.0), "cpu": (16384, 128, 0.1)}


def old_batcher_module(commit: str) -> Any:
    source = subprocess.run(["git", "show", f"{commit}:local_server/engine/batcher.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / f"batcher_{commit}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


class Arrivals:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self._ids: dict[int, list[int]] = {}

    def ids(self, length: int) -> list[int]:
        """One shared id list per length (the queues only read lengths; no memory for the collector to walk)."""
        return self._ids.setdefault(length, [1] * length)

    def lengths(self, count: int) -> list[int]:
        return [min(8192, self.rng.choice(LENGTHS) + self.rng.randrange(8)) for _ in range(count)]


def time_old(module: Any, size: int, takes: int, budget: int, batch: int, padding: float) -> list[float]:
    arrivals = Arrivals(size)
    b = module.Batcher("bench", [], max_batch_tokens=budget, max_batch_size=batch, wait_s=0, max_queue=10**9,
                       max_padding=padding)
    b._pending = [module.WorkItem(arrivals.ids(n), None) for n in arrivals.lengths(size)]
    b._pending_tokens = sum(len(it.ids) for it in b._pending)
    times = []
    for _ in range(takes):
        started = time.perf_counter()
        with b._cond:
            taken = b._take_batch()
        times.append(time.perf_counter() - started)
        new = [module.WorkItem(arrivals.ids(n), None) for n in arrivals.lengths(len(taken))]
        with b._cond:
            b._pending.extend(new)
            b._pending_tokens += sum(len(it.ids) for it in new)
    return times


def time_new(size: int, takes: int, budget: int, batch: int, padding: float) -> list[float]:
    arrivals = Arrivals(size)
    q = LengthQueue()
    q.push(WorkItem(arrivals.ids(n), None) for n in arrivals.lengths(size))
    times = []
    for _ in range(takes):
        started = time.perf_counter()
        taken, _ = q.take(budget, batch, padding)
        times.append(time.perf_counter() - started)
        q.push(WorkItem(arrivals.ids(n), None) for n in arrivals.lengths(len(taken)))
    return times


def summary(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    return {"median_ms": round(statistics.median(ms), 4), "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="08a0ef8")
    parser.add_argument("--takes", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 4096, 20000])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    gc.enable()
    old = old_batcher_module(args.baseline)
    load_before = os.getloadavg()[0]
    rows = []
    print(f"{'settings':8} {'waiting':>8} {'before median':>14} {'p99':>9} {'after median':>13} {'p99':>9}  ratio")
    for name, (budget, batch, padding) in SETTINGS.items():
        for size in args.sizes:
            before = summary(time_old(old, size, args.takes, budget, batch, padding))
            after = summary(time_new(size, args.takes, budget, batch, padding))
            ratio = before["median_ms"] / max(after["median_ms"], 1e-6)
            rows.append({"settings": name, "waiting": size, "before": before, "after": after})
            print(f"{name:8} {size:8d} {before['median_ms']:12.3f}ms {before['p99_ms']:7.3f}ms "
                  f"{after['median_ms']:11.3f}ms {after['p99_ms']:7.3f}ms  {ratio:6.1f}x")
    load = {"before": round(load_before, 1), "after": round(os.getloadavg()[0], 1), "cpus": os.cpu_count()}
    print(f"load average (1 min) {load['before']} -> {load['after']} on {load['cpus']} CPUs: on a shared machine "
          "absolute times grow with the load; compare before and after within one run")
    if args.json:
        machine = {"processor": platform.processor() or platform.machine(), "python": platform.python_version(),
                   "load_average": load}
        args.json.write_text(json.dumps({"baseline": args.baseline, "takes": args.takes, "machine": machine,
                                         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
