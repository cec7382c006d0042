"""Devices: which ones serve (``--device``), and how much memory the served GPUs use.

``--device auto`` serves on the first GPU when torch can use it and on the CPU when the machine has no GPU. A
machine that has a GPU torch cannot use (a CUDA 13 build of torch under a CUDA 12 driver, a CPU build on a GPU
box) stops with the command that installs the right build, rather than silently serving on the CPU at a
fraction of the speed. The decision (``choose_auto``) is a pure function of what was detected, so it is tested
on any machine.

GPU memory is read only for the GPUs this process serves: through NVML (``nvidia-ml-py``) when it is installed,
which creates no CUDA context, else through torch on devices that already hold the model (never
``torch.cuda.mem_get_info`` on an unused GPU, which would create a ~0.5 GB context there).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_server.engine.errors import ModelLoadError

log = logging.getLogger("bge_local.devices")

CU126_INDEX = "https://download.pytorch.org/whl/cu126"  # as scripts/setup_venv.sh installs for drivers < 580


@dataclass(frozen=True)
class Detected:
    """What the machine and torch say about GPUs."""

    gpu_present: bool  # the NVIDIA driver is loaded (/proc/driver/nvidia) or nvidia-smi lists a GPU
    driver: str | None  # the driver's version, when known
    torch_version: str  # torch.__version__
    torch_cuda: str | None  # the CUDA version torch was built for; None: a CPU build
    torch_sees_gpu: bool  # torch.cuda.is_available()


def detect() -> Detected:
    import torch

    driver = None
    version_file = Path("/proc/driver/nvidia/version")
    try:
        text = version_file.read_text()
        driver = next((w for w in text.split() if w[:1].isdigit() and "." in w), None)
        present = True
    except OSError:
        present = False
    if not present and shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
            present = out.returncode == 0 and "GPU" in out.stdout
        except (OSError, subprocess.SubprocessError):
            present = False
    return Detected(present, driver, torch.__version__, torch.version.cuda, torch.cuda.is_available())


def fix_command(torch_version: str) -> str:
    """The command that installs the CUDA 12.6 build of this torch version into this venv."""
    base = torch_version.split("+", 1)[0]
    return f"python -m pip install 'torch=={base}' --index-url {CU126_INDEX}"


def choose_auto(found: Detected) -> list[str]:
    """``--device auto``: the first GPU, the CPU on a machine without one, or a ``ModelLoadError`` saying how to
    install a torch that can use the GPU that is there."""
    if found.torch_sees_gpu:
        return ["cuda:0"]
    if not found.gpu_present:
        return ["cpu"]
    driver = f"driver {found.driver}" if found.driver else "its driver"
    if found.torch_cuda is None:
        why = f"this torch ({found.torch_version}) is a CPU build"
    else:
        why = (f"this torch ({found.torch_version}) is built for CUDA {found.torch_cuda}, which {driver} cannot "
               "run (PyPI's torch needs a driver >= 580)")
    raise ModelLoadError(
        f"this machine has an NVIDIA GPU but {why}, so --device auto would serve on the CPU. Install the CUDA "
        f"12.6 build into the server's venv: `{fix_command(found.torch_version)}` (scripts/setup_venv.sh does "
        "this for drivers older than 580), or start with --device cpu to serve on the CPU anyway")


def resolve_devices(device: str | None, found: Detected | None = None) -> list[str]:
    """The devices ``--device`` names (``found``: what was detected, for tests; detected here when None)."""
    if device is None or device in {"", "auto"}:
        return choose_auto(found or detect())
    devices = [d.strip() for d in device.split(",") if d.strip()]
    resolved = []
    for d in devices:
        if d == "cuda":
            d = "cuda:0"
        if d.isdigit():
            d = f"cuda:{d}"
        if d.startswith("cuda"):
            found = found or detect()
            if not found.torch_sees_gpu:
                hint = (f"; install a torch that can use it: `{fix_command(found.torch_version)}`"
                        if found.gpu_present else "")
                raise ModelLoadError(f"--device {device} asks for CUDA but torch sees no GPU (is this a CPU build "
                                     f"of torch, or is CUDA_VISIBLE_DEVICES empty?){hint}")
        resolved.append(d)
    return resolved


def _cuda_index(device: str) -> int | None:
    if not device.startswith("cuda"):
        return None
    _, _, index = device.partition(":")
    return int(index) if index else 0


def _nvml() -> Any | None:
    try:
        import pynvml  # nvidia-ml-py
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver, or a broken one
        return None
    return pynvml


def gpu_memory(devices: list[str]) -> list[dict[str, Any]]:
    """Memory of the served GPUs (``devices``: "cuda:N" entries; others are skipped), as the driver reports it
    (every process, not just this one). Blocking: call it off the event loop. Never raises."""
    indices = sorted({i for i in map(_cuda_index, devices) if i is not None})
    if not indices:
        return []
    try:
        import torch

        nvml = _nvml()
        gpus = []
        for i in indices:
            props = torch.cuda.get_device_properties(i)  # the served device: its context exists already
            if nvml is not None:
                handle = nvml.nvmlDeviceGetHandleByUUID(_uuid(props))
                info = nvml.nvmlDeviceGetMemoryInfo(handle)
                used, total = int(info.used), int(info.total)
            else:
                free, total = torch.cuda.mem_get_info(i)
                used = total - free
            gpus.append({"index": i, "name": props.name, "used_bytes": used, "total_bytes": total})
        return gpus
    except Exception as exc:  # a broken driver must not break /health or /metrics
        log.debug("GPU memory not readable: %s", exc)
        return []


def _uuid(props: Any) -> str:
    uuid = str(props.uuid)
    return uuid if uuid.startswith("GPU-") else f"GPU-{uuid}"


class MemoryReadings:
    """The served GPUs' memory, read off the caller's thread: ``latest()`` never blocks (the event loop calls it
    from ``/health`` and ``/metrics``); a reading older than ``max_age_s`` is refreshed by a background thread,
    one at a time, while the caller gets the last one."""

    def __init__(self, devices: list[str], *, max_age_s: float = 2.0,
                 read: Callable[[list[str]], list[dict[str, Any]]] = gpu_memory):
        self.devices = list(devices)
        self.max_age_s = max_age_s
        self._read = read
        self._value: list[dict[str, Any]] = []
        self._at = float("-inf")
        self._lock = threading.Lock()
        self._refreshing = False

    def refresh(self) -> list[dict[str, Any]]:
        """Read now (blocking)."""
        value = self._read(self.devices) if any(d.startswith("cuda") for d in self.devices) else []
        with self._lock:
            self._value, self._at, self._refreshing = value, time.monotonic(), False
        return value

    def latest(self) -> list[dict[str, Any]]:
        with self._lock:
            stale = time.monotonic() - self._at > self.max_age_s
            start = stale and not self._refreshing and any(d.startswith("cuda") for d in self.devices)
            if start:
                self._refreshing = True
            value = self._value
        if start:
            threading.Thread(target=self.refresh, name="gpu-memory", daemon=True).start()
        return value
