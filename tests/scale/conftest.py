"""Fixtures for bge-local on Ray Serve: a real two-node Ray cluster on 127.0.0.1 and the application deployed on
it from a Serve config file written by ``bge-local ray-config``, as ``serve run`` deploys it.

Ray reads some settings from the environment when it is first imported, so they are set here, before any test
module imports Ray: loopback only, no usage reporting. Its temp files go to a fresh directory per cluster.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

RAY_ENV = {
    # Ray turns "127.0.0.1" into the machine's outward address unless the cluster is declared single-machine.
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
    # a worker process that imports Ray (and a replica torch) on a busy 2-core machine can take minutes to
    # register; Ray's default gives up after 60 s and starts another, which is no faster
    "RAY_worker_register_timeout_seconds": "600",
}
os.environ.update(RAY_ENV)
if "ray" in sys.modules:  # imported before this conftest (another test module): apply the setting directly
    import ray._private.ray_constants as _constants

    _constants.ENABLE_RAY_CLUSTER = False

sys.path.insert(0, str(Path(__file__).parent))



@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head node and a second node (resources ``bge_node_head`` / ``bge_node_b``), this process connected as
    a driver; everything stopped and removed afterwards."""
    ray = pytest.importorskip("ray")
    from ray_cluster import LocalCluster, disconnect

    ray_tmp = Path(tempfile.mkdtemp(prefix="bgeray-", dir="/tmp"))  # short: Unix socket paths are limited
    os.environ["RAY_TMPDIR"] = str(ray_tmp)
    local = LocalCluster(ray_tmp / "ray", head_cpus=4)
    try:
        local.add_worker("bge_node_b", cpus=4)
        ray.init(address=local.address, namespace="serve", log_to_driver=False, logging_level="WARNING")
        yield local
    finally:
        try:
            disconnect()
        finally:
            local.shutdown()
            shutil.rmtree(ray_tmp, ignore_errors=True)
