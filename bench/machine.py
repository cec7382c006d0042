"""What the benchmark ran on: CPU, cores, memory, GPUs, library versions, commit."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from targets import REPO


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_names() -> list[str]:
    """``name, memory`` of each GPU nvidia-smi lists; none without a GPU."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.TimeoutExpired):
        return []


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine_info(device: str) -> dict[str, Any]:
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    info = {
        "cpu": cpu_model(), "logical_cores": cores, "usable_cores": usable, "memory_gb": memory_gb(),
        "device": device, "gpus": gpu_names() if device.startswith("cuda") else [],
        "python": platform.python_version(), "torch": package_version("torch"),
        "transformers": package_version("transformers"), "FlagEmbedding": package_version("FlagEmbedding"),
        "commit": commit, "platform": platform.platform(),
    }
    if info["gpus"]:
        info["name"] = info["gpus"][0].split(",")[0]
    else:
        info["name"] = f"{info['cpu']}, {usable} cores"
    return info
