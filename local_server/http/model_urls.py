"""Per-model base URLs: ``/models/<name>/…`` is the whole API, with only that model in it.

Some clients assume one model per server URL: Dify's Text Embedding Inference plugin asks ``GET <url>/info``
whether the server is an embedder or a reranker and refuses the other; Ollama- and Xinference-style clients
list "the" models of a URL. On a server that runs both models each gets its own base URL on the same port,
``http://host:8000/models/bge-m3`` and ``http://host:8000/models/bge-reranker-v2-m3``, under which every route
(``/info``, ``/v1/models``, ``/embed``, ``/rerank``, ``/api/embed``, …) answers for that model only, and a
request for the other kind is a 404 that names the other model's URL.

Why ``/models/<name>``: it reads as what it is, it cannot clash with a route of any dialect (no client API puts
a path below ``/models/<id>``; OpenAI's and Xinference's ``GET /v1/models/<id>`` live under ``/v1``), and a
plain ``GET /models`` (the model list) and ``GET /models/<name>`` (one model's description) keep working.
Names match leniently, as in request bodies (``BAAI/bge-m3``, ``BGE-M3``, ``bge-m3:latest``).

The request frame (middleware.py) strips the prefix before routing and records the model in the ASGI scope; the ``Core``
dependency then hands the routes ``scoped_core(...)``: the core with its model registry scoped to that model.
"""

from __future__ import annotations

from local_server.engine.core import InferenceCore
from local_server.engine.types import EMBEDDING, HYBRID, RERANKER, ServedModel
from local_server.http.errors import NotFound

PREFIX = "/models/"
SCOPE_KEY = "bge_local.model_url"  # (model name, prefix) in the ASGI scope


def model_url(name: str) -> str:
    return PREFIX + name


def split_model_prefix(path: str, core: InferenceCore) -> tuple[ServedModel, str, str] | None:
    """``(model, prefix, rest)`` for ``/models/<name>/<rest>``; None when ``path`` has no such prefix.

    ``/models`` and ``/models/<name>`` alone are routes of their own. An unknown name is a ``NotFound`` listing
    the model URLs. ``<name>`` may span two segments (``BAAI/bge-m3``)."""
    if not path.startswith(PREFIX):
        return None
    segments = path[len(PREFIX):].split("/")
    for width in (1, 2):
        if len(segments) <= width:
            break
        wanted = "/".join(segments[:width])
        model = core.models.find(wanted)
        if model is not None:
            return model, PREFIX + wanted, "/" + "/".join(segments[width:])
    bare_id = len(segments) == 1 or (len(segments) == 2 and core.models.find("/".join(segments)) is not None)
    if bare_id:  # /models/<id> or /models/<org>/<id>: one model's description, a route of its own
        return None
    served = ", ".join(f"{model_url(m.name)} ({m.kind})" for m in core.served_models())
    raise NotFound(f"no model {segments[0]!r} is served here; the per-model base URLs are: {served}",
                   code="model_not_found")


def scoped_core(core: InferenceCore, model: ServedModel, prefix: str) -> InferenceCore:
    """The inference core as seen from one model's base URL: that model is the only one served, and a request
    for another kind names the URL of the model that serves it."""

    hybrid = core.models.of_kind(HYBRID)

    def other_kind(only: ServedModel, other: ServedModel | None) -> str:
        where = f"; send these requests to {model_url(other.name)}" if other else ""
        if hybrid is not None and only.kind == EMBEDDING and (other is None or other.kind == RERANKER):
            where += f" (or to {model_url(hybrid.name)} to rerank with bge-m3's own hybrid score)"
        return f"{prefix} serves the {only.kind} model {only.name} only{where}"

    return core.scoped(core.models.scoped(model, other_kind))
