"""The doctor's checks of the server itself, before and after the clients' requests: is it up, which models does
it serve, does it want a key, does it forgive the URLs users mistype."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local_server.tools.doctor.client import Client, expect
from local_server.tools.doctor.results import Blocked, Check, CheckFailed, Report

Model = Callable[[str], str | None]  # kind -> the served name to send (None: not served)


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def check_health(client: Client, report: Report, model: Model, check: Check) -> str | None:
    reply = client.call(check, "GET", "/health")  # with the key: the detail needs it
    if reply.status == 503 and isinstance(reply.body, dict):
        state = reply.body.get("status")
        error = reply.body.get("error")
        if error:
            raise Blocked(f"not ready: the models failed to load: {error}", "not run: models not loaded")
        raise Blocked(f"not ready ({state}): the models are still loading, try again in a minute",
                      "not run: models not loaded")
    body = expect(reply)
    _need(isinstance(body, dict), "/health did not answer a JSON object")
    models = body.get("models") or []
    described = ", ".join(
        f"{m.get('name')} ({m.get('type')}" + (f", {m['dimension']}-d)" if m.get("dimension") else ")")
        for m in models
        if isinstance(m, dict)
    )
    report.hybrid = next((str(h["name"]) for m in models if isinstance(m, dict)
                          for h in [m, *(m.get("also_serves") or [])]
                          if isinstance(h, dict) and h.get("type") == "hybrid" and h.get("name")), None)
    device = body.get("device")
    check.detail = (f"{body.get('status', 'ok')}" + (f" on {device}" if device else "")
                    + (f": {described}" if described else ""))
    return None


def check_models(client: Client, report: Report, model: Model, check: Check) -> str | None:
    body = expect(client.call(check, "GET", "/v1/models"))
    data = body.get("data") if isinstance(body, dict) else None
    _need(isinstance(data, list) and bool(data), "/v1/models lists no model")
    for entry in data:
        kind = entry.get("type") or ("reranker" if "rerank" in str(entry.get("id", "")).lower() else "embedding")
        name = entry.get("root") or entry.get("id")
        report.models.setdefault(kind, name)
    check.detail = ", ".join(f"{name} ({kind})" for kind, name in report.models.items())
    return None


def _protected_probe(model: Model) -> tuple[str, str, Any]:
    if model("embedding"):
        return "POST", "/v1/embeddings", {"model": model("embedding"), "input": ["ping"]}
    return "POST", "/v1/rerank", {"model": model("reranker"), "query": "ping", "documents": ["pong"]}


def check_auth(client: Client, report: Report, model: Model, check: Check) -> str | None:
    method, path, body = _protected_probe(model)
    if client.api_key:
        reply = client.call(check, method, path, body, auth=False)
        if reply.status == 200:
            raise CheckFailed("a request WITHOUT the key was served: the server runs without an API key "
                              "(set BGE_LOCAL_API_KEY / --api-key on the server)")
        _need(reply.status == 401, f"a request without the key got HTTP {reply.status}, expected 401")
        _need(isinstance(reply.body, dict), "the 401 answer is not JSON (clients crash on non-JSON errors)")
        wrong = client.call(check, method, path, body, auth="Bearer not-the-key")
        _need(wrong.status == 401, f"a request with a wrong key got HTTP {wrong.status}, expected 401")
        check.detail = "requests without the key or with a wrong one get 401 with a JSON error"
        return None
    # No key: every placeholder a client sends when the user leaves the key empty must be accepted.
    placeholders: dict[str, bool | str] = {"no header": False, "Authorization: ''": "", "Bearer None": "Bearer None",
                                           "Bearer empty": "Bearer empty"}
    refused = [label for label, header in placeholders.items()
               if client.call(check, method, path, body, auth=header).status == 401]
    if refused:
        raise CheckFailed(f"the server wants an API key ({', '.join(refused)} got 401): pass it with --api-key")
    check.detail = "no key needed; empty and placeholder keys (Dify, RAGFlow LocalAI) accepted"
    return None


def check_url_mistakes(client: Client, report: Report, model: Model, check: Check) -> str | None:
    probes = []
    if model("embedding"):
        body = {"model": model("embedding"), "input": ["ping"]}
        probes += [("/v1/v1/embeddings", body), ("/v1/embeddings/", body), ("/embeddings", body)]
    if model("reranker"):
        body = {"model": model("reranker"), "query": "ping", "documents": ["pong"]}
        probes += [("/v1/v1/rerank", body), ("/v2/rerank", body)]
    failed = []
    for path, body in probes:
        reply = client.call(check, "POST", path, body)
        if reply.status != 200:
            failed.append(f"{path} → {reply.status}")
    _need(not failed, "not answered: " + ", ".join(failed))
    check.detail = "answered too: " + ", ".join(p for p, _ in probes)
    return None


_COMPONENTS = ("dense", "sparse", "colbert")


def check_hybrid(client: Client, report: Report, model: Model, check: Check) -> str | None:
    """bge-m3's hybrid score as a reranker, by the name /health lists: scores in 0..1 and their three parts."""
    if not report.hybrid:
        return "no hybrid scorer served (it runs on the embedder: this server has none)"
    documents = ["Paris is the capital of France.", "Horses are animals."]
    body = expect(client.call(check, "POST", "/v1/rerank", {
        "model": report.hybrid, "query": "What is the capital of France?", "documents": documents,
        "return_components": True}))
    results = body.get("results") if isinstance(body, dict) else None
    _need(isinstance(results, list) and len(results) == len(documents),
          f"expected {len(documents)} results, got {results!r:.120}")
    for r in results:
        score = r.get("relevance_score") if isinstance(r, dict) else None
        _need(isinstance(score, int | float) and 0.0 <= score <= 1.0, f"relevance_score {score!r} not in 0..1")
        parts = r.get("components")
        missing = [c for c in _COMPONENTS if not isinstance(parts, dict) or not isinstance(parts.get(c), int | float)]
        _need(not missing, f"components lack {', '.join(missing)} (return_components: true)")
    best = max(results, key=lambda r: r["relevance_score"])
    check.detail = (f"{report.hybrid}: {len(results)} scores in 0..1 (best {best['relevance_score']:.3f}), "
                    "components dense, sparse, colbert")
    return None
