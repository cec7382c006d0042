"""The server as someone hostile on its network finds it: a key, and connection limits small enough to test."""

from __future__ import annotations

import pytest
from support.server import ServerProcess

KEY = "exposed-key"
LIMITS = {"header_timeout_s": 2.0, "body_timeout_s": 3.0, "keep_alive_s": 1.0, "max_connections": 12,
          "max_header_bytes": 8192, "max_headers": 40}


@pytest.fixture(scope="session")
def exposed(tiny_models, tmp_path_factory):
    """A keyed server with low connection limits (``LIMITS``); its text log is ``exposed.log()``."""
    args = [f"--{name.replace('_', '-')}={value}" for name, value in LIMITS.items()]
    with ServerProcess(tiny_models, "--api-key", KEY, *args,
                       log_dir=tmp_path_factory.mktemp("exposed-logs")) as proc:
        proc.limits = LIMITS
        yield proc
