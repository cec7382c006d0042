"""Which devices serve, decided from what was detected (injected here, so every machine tests every case), and GPU
memory read off the caller's thread."""

from __future__ import annotations

import threading

import pytest

from local_server.engine.devices import Detected, MemoryReadings, choose_auto, resolve_devices
from local_server.engine.errors import ModelLoadError

CUDA13_ON_DRIVER_12 = Detected(gpu_present=True, driver="560.35.03", torch_version="2.13.0", torch_cuda="13.0",
                               torch_sees_gpu=False)


def test_auto_takes_the_gpu_torch_can_use():
    found = Detected(True, "580.65", "2.13.0", "13.0", torch_sees_gpu=True)
    assert choose_auto(found) == ["cuda:0"]


def test_auto_serves_on_the_cpu_where_there_is_no_gpu():
    assert choose_auto(Detected(False, None, "2.13.0+cpu", None, False)) == ["cpu"]


def test_auto_on_a_gpu_this_torch_cannot_use_fails_with_the_command_that_fixes_it():
    with pytest.raises(ModelLoadError) as err:
        resolve_devices("auto", CUDA13_ON_DRIVER_12)
    message = str(err.value)
    assert "CUDA 13.0" in message and "560.35.03" in message
    assert "pip install 'torch==2.13.0' --index-url https://download.pytorch.org/whl/cu126" in message
    assert "--device cpu" in message


def test_auto_with_a_cpu_build_of_torch_on_a_gpu_machine_fails_too():
    with pytest.raises(ModelLoadError, match=r"CPU build.*torch==2.13.0'"):
        choose_auto(Detected(True, None, "2.13.0+cpu", None, False))


def test_an_explicit_cpu_serves_on_the_cpu_whatever_the_gpu():
    assert resolve_devices("cpu", CUDA13_ON_DRIVER_12) == ["cpu"]


def test_an_explicit_gpu_that_torch_cannot_use_names_the_fix():
    with pytest.raises(ModelLoadError, match=r"torch sees no GPU.*whl/cu126"):
        resolve_devices("cuda:0,1", CUDA13_ON_DRIVER_12)
    assert resolve_devices("0,cuda:1", Detected(True, None, "2.13.0", "12.6", True)) == ["cuda:0", "cuda:1"]


def test_gpu_memory_is_read_on_a_background_thread_and_only_for_served_gpus():
    calls: list[tuple[list[str], str]] = []
    release = threading.Event()

    def read(devices: list[str]) -> list[dict]:
        calls.append((devices, threading.current_thread().name))
        release.wait(30)
        return [{"index": 1, "name": "test", "used_bytes": 1, "total_bytes": 2}]

    readings = MemoryReadings(["cuda:1"], read=read)
    assert readings.latest() == []  # the first call starts a reading and returns what it has: nothing yet
    assert readings.latest() == []  # one reading at a time
    release.set()
    for thread in threading.enumerate():
        if thread.name == "gpu-memory":
            thread.join(30)
    assert calls == [(["cuda:1"], "gpu-memory")]
    assert readings.latest()[0]["used_bytes"] == 1


def test_no_gpu_memory_is_read_when_only_the_cpu_serves():
    readings = MemoryReadings(["cpu"], read=lambda devices: pytest.fail("read on a CPU-only server"))
    assert readings.latest() == [] and readings.refresh() == []
