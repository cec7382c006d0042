"""CUDA-path tests: skipped where torch sees no GPU (every CI machine); run by bench/device_check.sh on one.

The stand-in models' size comes from BGE_LOCAL_GPU_TEST_SIZE (tiny, small or full; default small). Each test
writes what it measured to BGE_LOCAL_GPU_RESULTS (a folder; the device check collects it) when that is set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CACHE = HERE.parents[1] / ".cache"


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (bench/device_check.sh runs these on a GPU machine)")
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def gpu_models() -> Path:
    from local_server.tools.test_models import make_test_models

    size = os.environ.get("BGE_LOCAL_GPU_TEST_SIZE", "small")
    target = CACHE / f"{size}-models"
    if not (target / "bge-reranker-v2-m3" / "config.json").is_file():
        make_test_models(target, size)
    return target


@pytest.fixture
def record(request: pytest.FixtureRequest):
    """record(**numbers): keep what a test measured, as JSON beside the device check's other results."""
    folder = os.environ.get("BGE_LOCAL_GPU_RESULTS")

    def write(**numbers: object) -> None:
        if folder:
            path = Path(folder) / "gpu-tests.jsonl"
            with path.open("a") as f:
                f.write(json.dumps({"test": request.node.nodeid, **numbers}) + "\n")

    return write
