"""Measuring the targets' processes while they run: peak RSS, CPU seconds, peak GPU memory.

Peak RSS is the kernel's VmHWM (``/proc/<pid>/status``), reset per scenario through ``clear_refs``: psutil
exposes no peak. CPU time comes from psutil, GPU memory from nvidia-smi sampled while a run is in flight.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from pathlib import Path


def reset_peak(pids: list[int]) -> None:
    """Reset each process's peak RSS (VmHWM) so the next reading is this scenario's peak (Linux)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mb(pids: list[int]) -> float | None:
    total, seen = 0, False
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
                    seen = True
        except OSError:
            pass
    return round(total / 1024, 1) if seen else None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes and their finished children (0 without psutil)."""
    try:
        import psutil
    except ImportError:
        return 0.0
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except (psutil.Error, OSError):
            pass
    return total


class GpuMemorySampler:
    """Peak GPU memory per process, sampled from nvidia-smi while a run is in flight (GPU only)."""

    def __init__(self) -> None:
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                                      "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5)
                for line in out.stdout.splitlines():
                    pid, used = (x.strip() for x in line.split(","))
                    self.peaks[int(pid)] = max(self.peaks.get(int(pid), 0.0), float(used))
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
            self._stop.wait(0.5)

    def take(self, pids: list[int]) -> float | None:
        values = [self.peaks.pop(p) for p in pids if p in self.peaks]
        return round(sum(values), 1) if values else None
