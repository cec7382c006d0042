"""The real app in this process, with the tiny models: for settings variants where no process boundary is under
test (no signals, no logs on stdout, no sockets), so they cost a model load instead of a server start.

``serve_in_process(models_dir, **settings)`` builds ``create_app(Settings(...))``, runs its lifespan (the models
load before the first request, as Ray Serve starts it) and yields Starlette's ``TestClient``: httpx's API over
the ASGI app, every middleware and handler as in ``bge-local serve``. The lifespan's event loop runs in a thread
while the client is open, so the stats recorder samples as it does in a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from local_server.config import Settings
from local_server.server.app import create_app


@contextmanager
def serve_in_process(models_dir: Path, **settings: Any) -> Iterator[TestClient]:
    # fp32, as the suite's server processes (tests/conftest.py): the reference, whatever this CPU's auto would pick
    models = {"embedding_model": str(models_dir / "bge-m3"), "reranker_model": str(models_dir / "bge-reranker-v2-m3"),
              "device": "cpu", "precision": "fp32"}
    app = create_app(Settings(**{**models, **settings}), ready_before_serving=True)
    with TestClient(app, base_url="http://in-process") as client:
        yield client
