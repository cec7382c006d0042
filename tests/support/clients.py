"""Each Dify and RAGFlow model provider, driven the way that client drives a server, from the URL a user pasted.

A driver takes what the user typed into the provider's form — the URL, the API-key field (``""`` when left
empty), the model name — builds the request URL with that client's own rule, sends that client's headers and
bodies with the HTTP library it uses (the real SDK where it uses one: ``openai``, ``ollama``,
``xinference-client``, ``cohere``), and reads back only the fields that client reads. It returns what the client
would hand on (vectors, or ``{document index: score}``) and raises when the client would fail.

Written from the clients' public source, read for this purpose (none of it is copied here):
- Dify official plugins (langgenius/dify-official-plugins, models/*): ``huggingface_tei``, ``xinference``,
  ``cohere`` (cohere SDK 5.2.6), ``openai`` (openai SDK, cl100k token ids), ``ollama``, ``openai_api_compatible``,
  ``gpustack``;
- RAGFlow ``rag/llm/embedding_model.py`` and ``rerank_model.py`` at v0.24.0, v0.26.4 and v0.27.0 (main at the time
  of writing matches v0.27.0 for every provider here), ``api/apps/services/provider_api_service.py`` (VLLM) and
  ``rag/llm/model_meta.py`` (the model lists on main).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlparse, urlunparse

import httpx
import requests
from yarl import URL

from local_server.clients.forms import RAGFLOW_RELEASES

Vectors = list[list[float]]
Scores = dict[int, float]
RAGFLOW_VERSIONS = RAGFLOW_RELEASES  # the releases whose URL rules and code these replays follow

# Validation inputs the clients use (short texts; the drivers check the answers, not these exact strings).
KASUMI_QUERY = "Whose kasumi"
KASUMI_DOCS = [
    'Kasumi is a girl\'s name of Japanese origin meaning "mist".',
    "Her music is a kawaii bass, a mix of future bass, pop, and kawaii music ",
    "and she leads a team named PopiParty.",
]


class ClientFailed(AssertionError):
    """The client would report a failure to its user (its message says which)."""


def _bearer_if(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _ok(response: requests.Response | httpx.Response, what: str) -> Any:
    if response.status_code != 200:
        raise ClientFailed(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    return response.json()


# ---- Dify: Text Embedding Inference (huggingface_tei) -----------------------------------------------------------


def dify_tei_info(server_url: str, key: str) -> dict[str, Any]:
    """The plugin's validation: ``GET URL(server_url) / "info"`` (requests, 10 s), reading model_type's first key,
    max_input_length and max_client_batch_size."""
    headers = {"Content-Type": "application/json", **_bearer_if(key)}
    body = _ok(requests.get(str(URL(server_url) / "info"), headers=headers, timeout=10), "GET /info")
    model_type = list(body.get("model_type", {}).keys())
    if not model_type or model_type[0] not in {"embedding", "reranker"}:
        raise ClientFailed(f"invalid model_type: {body.get('model_type')}")
    return {"type": model_type[0], "max_input_length": body.get("max_input_length", 512),
            "max_client_batch_size": body.get("max_client_batch_size", 1)}


def dify_tei_embedding(url: str, key: str, model: str, texts: list[str]) -> Vectors:
    info = dify_tei_info(url, key)
    if info["type"] != "embedding":
        raise ClientFailed("Current model is not a embedding model")
    base = url.removesuffix("/")
    headers = {"Content-Type": "application/json", **_bearer_if(key)}
    vectors: Vectors = []
    step = max(int(info["max_client_batch_size"]), 1)
    for start in range(0, len(texts), step):  # the plugin counts tokens with GPT-2 locally, never asks the server
        body = _ok(httpx.post(f"{base}/v1/embeddings", json={"input": texts[start:start + step]}, headers=headers,
                              timeout=60), "POST /v1/embeddings")
        vectors += [item["embedding"] for item in body["data"]]
    return vectors


def dify_tei_rerank(url: str, key: str, model: str, query: str, docs: list[str]) -> Scores:
    info = dify_tei_info(url, key)
    if info["type"] != "reranker":
        raise ClientFailed("Current model is not a rerank model")
    headers = {"Content-Type": "application/json", **_bearer_if(key)}
    body = _ok(httpx.post(f"{url.removesuffix('/')}/rerank", json={"query": query, "texts": docs, "return_text": True},
                          headers=headers, timeout=60), "POST /rerank")
    for item in body:
        if item["text"] != docs[item["index"]]:
            raise ClientFailed(f"text {item['text']!r} is not document {item['index']}")
    return {item["index"]: item["score"] for item in body}


# ---- Dify: Xorbits Inference (xinference, xinference-client) --------------------------------------------------------


def dify_xinference_describe(server_url: str, key: str, uid: str) -> dict[str, Any]:
    """The plugin's own helper: ``GET URL(server_url) / "v1" / "models" / uid`` with the key (requests)."""
    if any(c in uid for c in "/?#"):
        raise ClientFailed("model_uid should not contain /, ?, or #")
    url = str(URL(server_url) / "v1" / "models" / uid)
    return _ok(requests.get(url, headers=_bearer_if(key), timeout=10), f"GET {url}")


def _xinference_check_handle(client: Any, base: str, key: str, model: str, handle_type: type, refusal: str) -> None:
    """The plugins' validation: xinference-client's ``get_model`` (it probes /v1/cluster/auth, then reads
    /v1/models/<uid>) must give a handle of the form's model type."""
    try:
        handle = client(base_url=base, api_key=key or None).get_model(model_uid=model)
    except RuntimeError as exc:
        raise ClientFailed(str(exc)) from exc
    if not isinstance(handle, handle_type):
        raise ClientFailed(refusal)


def dify_xinference_embedding(url: str, key: str, model: str, texts: list[str]) -> Vectors:
    from xinference_client.client.restful.restful_client import Client, RESTfulEmbeddingModelHandle

    described = dify_xinference_describe(url, key, model)
    if described.get("model_type") != "embedding":
        raise ClientFailed(f"model_type {described.get('model_type')!r}: xinference model handle type is not supported")
    base = url.removesuffix("/")
    _xinference_check_handle(Client, base, key, model, RESTfulEmbeddingModelHandle,
                             "the model you want to invoke is not a text embedding model")
    # Invocations build their own handle with the key from the form (not the one the Client decided on).
    invoke = RESTfulEmbeddingModelHandle(model, base, _bearer_if(key))
    try:
        body = invoke.create_embedding(input=texts)
    except RuntimeError as exc:
        raise ClientFailed(str(exc)) from exc
    if not isinstance(body["usage"]["total_tokens"], int):
        raise ClientFailed("usage.total_tokens missing")
    return [item["embedding"] for item in body["data"]]


def dify_xinference_rerank(url: str, key: str, model: str, query: str, docs: list[str]) -> Scores:
    from xinference_client.client.restful.restful_client import Client, RESTfulRerankModelHandle

    base = url.removesuffix("/")
    _xinference_check_handle(Client, base, key, model, RESTfulRerankModelHandle,
                             "the model you want to invoke is not a rerank model")
    invoke = RESTfulRerankModelHandle(model, base, _bearer_if(key))
    try:
        body = invoke.rerank(documents=docs, query=query, top_n=None, return_documents=True)
    except RuntimeError as exc:
        raise ClientFailed(str(exc)) from exc
    scores = {}
    for item in body["results"]:
        text = item["document"] if isinstance(item["document"], str) else item["document"]["text"]
        if text != docs[item["index"]]:
            raise ClientFailed(f"document {item['index']} came back as {text!r}")
        scores[item["index"]] = float(item.get("relevance_score") or 0.0)
    return scores


# ---- Dify: Cohere (cohere SDK 5.2.6, replayed) --------------------------------------------------------------------
# cohere 5.2.6 joins ``urljoin(base_url + "/", "embed")`` (base default https://api.cohere.ai/v1), always sends
# ``Authorization: Bearer <key>`` and the X-Fern headers, and parses with the union discriminated by
# ``response_type``. The responses are parsed here with the installed cohere SDK's own models.

_FERN = {"X-Fern-Language": "Python", "X-Fern-SDK-Name": "cohere", "X-Fern-SDK-Version": "5.2.5"}


def _cohere526_post(base_url: str, route: str, key: str, body: dict[str, Any]) -> Any:
    url = urljoin(f"{base_url}/", route)
    try:
        response = httpx.post(url, json=body, headers={**_FERN, "Authorization": f"Bearer {key}"}, timeout=60)
    except httpx.LocalProtocolError as exc:  # an empty key: h11 refuses "Bearer "
        raise ClientFailed(str(exc)) from exc
    return _ok(response, f"POST {url}")


def _parse(type_: Any, body: Any) -> Any:
    from cohere.core.unchecked_base_model import construct_type

    return construct_type(type_=type_, object_=body)


def dify_cohere_tokenize(url: str, key: str, model: str, text: str) -> list[str]:
    import cohere

    parsed = _parse(cohere.TokenizeResponse, _cohere526_post(url, "tokenize", key, {"text": text, "model": model}))
    return list(parsed.token_strings)


def dify_cohere_embedding(url: str, key: str, model: str, texts: list[str]) -> Vectors:
    """Validation embeds ["ping"]; invocation tokenizes each text (token_strings), re-joins the strings of each
    chunk of context_size tokens, embeds them and averages the chunks' vectors weighted by token count."""
    import cohere
    import numpy as np

    def embed(batch: list[str]) -> tuple[Vectors, int]:
        body = {"texts": batch, "model": model, "input_type": "search_document" if len(batch) > 1 else "search_query"}
        parsed = _parse(cohere.EmbedResponse, _cohere526_post(url, "embed", key, body))
        if parsed.response_type != "embeddings_floats":
            raise ClientFailed(f"response_type {parsed.response_type!r}")
        return parsed.embeddings, int(parsed.meta.billed_units.input_tokens)

    embed(["ping"])
    context_size = 512  # a customizable model without a context size in its schema
    out: Vectors = []
    for text in texts:
        pieces = dify_cohere_tokenize(url, key, model, text)
        chunks = ["".join(pieces[i:i + context_size]) for i in range(0, len(pieces), context_size)]
        weights = [len(pieces[i:i + context_size]) for i in range(0, len(pieces), context_size)]
        vectors, _ = embed(chunks)
        average = np.average(vectors, axis=0, weights=weights)
        out.append((average / np.linalg.norm(average)).tolist())
    return out


def dify_cohere_rerank(url: str, key: str, model: str, query: str, docs: list[str]) -> Scores:
    import cohere

    body = {"query": query, "documents": docs, "model": model, "top_n": None, "return_documents": True}
    parsed = _parse(cohere.RerankResponse, _cohere526_post(url, "rerank", key, body))
    for r in parsed.results:
        if r.document.text != docs[r.index]:
            raise ClientFailed(f"document {r.index} came back as {r.document.text!r}")
    return {r.index: r.relevance_score for r in parsed.results}


# ---- Dify: OpenAI (openai SDK, token ids) -------------------------------------------------------------------------


def dify_openai_embedding(url: str, key: str, model: str, texts: list[str]) -> Vectors:
    """``openai_api_base`` gets ``/v1`` unless it ends with it; validation embeds ["ping"]; invocation sends
    cl100k_base token-id arrays (tiktoken, on the client) with encoding_format float, then re-normalises."""
    import numpy as np
    import tiktoken
    from openai import OpenAI, OpenAIError

    base = url.rstrip("/")
    try:
        client = OpenAI(api_key=key, base_url=base if base.endswith("/v1") else f"{base}/v1")
        client.embeddings.create(input=["ping"], model=model, encoding_format="float")
        encoding = tiktoken.get_encoding("cl100k_base")
        ids = [encoding.encode(t) for t in texts]
        data = client.embeddings.create(input=ids, model=model, encoding_format="float").data
    except OpenAIError as exc:
        raise ClientFailed(str(exc)) from exc
    return [(np.array(d.embedding) / np.linalg.norm(d.embedding)).tolist() for d in data]


# ---- Dify: Ollama --------------------------------------------------------------------------------------------------


def dify_ollama_embedding(url: str, key: str, model: str, texts: list[str]) -> Vectors:
    endpoint = urljoin(url if url.endswith("/") else url + "/", "api/embed")
    body = {"input": texts, "model": model, "truncate": True, "options": {"use_mmap": True}}
    headers = {"Content-Type": "application/json", **_bearer_if(key)}
    return _ok(requests.post(endpoint, headers=headers, json=body, timeout=(10, 300)), endpoint)["embeddings"]


def dify_ollama_rerank(url: str, key: str, model: str, query: str, docs: list[str]) -> Scores:
    endpoint = url.rstrip("/")
    if not endpoint.endswith("/rerank"):
        endpoint += "/api/rerank"
    headers = {"Content-Type": "application/json", **_bearer_if(key)}
    body = _ok(requests.post(endpoint, headers=headers, data=json.dumps({"model": model, "query": query,
                                                                         "documents": docs}), timeout=(10, 300)),
               endpoint)
    scores = {}
    for item in body.get("results", []):
        if "document" in item and not isinstance(item["document"], str):
            raise ClientFailed("'document' must be the text itself for Dify's RerankDocument")
        scores[item["index"]] = item["relevance_score"]
    return scores


# ---- Dify: OpenAI-API-compatible and GPUStack (simple replays; both pass today) -------------------------------------


def dify_openai_compatible_embedding(url: str, key: str, model: str, texts: list[str]) -> Vectors:
    out = []
    for text in texts:  # one text per request
        body = _ok(httpx.post(url.rstrip("/") + "/embeddings", json={"model": model, "input": [text]},
                              headers={"Authorization": f"Bearer {key}" if key else ""}, timeout=60), "embeddings")
        out.append(body["data"][0]["embedding"])
    return out


def dify_openai_compatible_rerank(url: str, key: str, model: str, query: str, docs: list[str]) -> Scores:
    body = _ok(httpx.post(url.rstrip("/") + "/rerank", json={"model": model, "query": query, "documents": docs,
                                                              "top_n": len(docs)},
                          headers=_bearer_if(key), timeout=60), "rerank")
    return {r["index"]: r["relevance_score"] for r in body["results"]}


def _gpustack_base(url: str) -> str:
    base = url.rstrip("/")
    for suffix in ("/v1-openai", "/v1"):
        base = base.removesuffix(suffix)
    return base


def dify_gpustack_embedding(url: str, key: str, model: str, texts: list[str]) -> Vectors:
    body = _ok(httpx.post(_gpustack_base(url) + "/v1/embeddings", json={"model": model, "input": texts},
                          headers=_bearer_if(key), timeout=60), "embeddings")
    return [d["embedding"] for d in body["data"]]


def dify_gpustack_rerank(url: str, key: str, model: str, query: str, docs: list[str]) -> Scores:
    body = _ok(httpx.post(_gpustack_base(url) + "/v1/rerank", json={"model": model, "query": query,
                                                                     "documents": docs, "top_n": len(docs)},
                          headers=_bearer_if(key), timeout=60), "rerank")
    return {r["index"]: r["relevance_score"] for r in body["results"]}


# ---- RAGFlow ---------------------------------------------------------------------------------------------------------


def ensure_v1(url: str) -> str:
    """RAGFlow ≥ 0.27: keep a URL that has a /v<digit> segment, else append /v1 to its path."""
    parts = urlparse(url)
    path = parts.path.rstrip("/")
    if re.search(r"/v\d+(?:/|$)", path + "/"):
        return url
    return urlunparse(parts._replace(path=(path + "/v1") if path else "/v1"))


def ragflow_openai_base(url: str, version: str) -> str:
    """The OpenAI SDK base of the OpenAI-style embedding providers: ``urljoin(url, "v1")`` up to 0.26."""
    return ensure_v1(url) if version >= "0.27" else urljoin(url, "v1")


def vllm_base(url: str, version: str) -> str:
    """From 0.26 the VLLM provider's URL is stripped of a trailing slash and given /v1 when it lacks it."""
    if version < "0.26" or not url:
        return url
    url = url.strip().rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def _openai_embed(base: str, key: str, model: str, texts: list[str], **kwargs: Any) -> Vectors:
    from openai import OpenAI, OpenAIError

    try:
        data = OpenAI(api_key=key, base_url=base).embeddings.create(input=texts, model=model, **kwargs).data
    except OpenAIError as exc:
        raise ClientFailed(str(exc)) from exc
    return [d.embedding for d in sorted(data, key=lambda d: d.index)]


def ragflow_embedding(provider: str, version: str) -> Callable[[str, str, str, list[str]], Vectors]:
    def drive(url: str, key: str, model: str, texts: list[str]) -> Vectors:
        if provider in {"OpenAI-API-Compatible", "VLLM", "GPUStack"}:
            base = vllm_base(url, version) if provider == "VLLM" else url
            return _openai_embed(ragflow_openai_base(base, version), key, model, texts, encoding_format="float",
                                 extra_body={"drop_params": True})
        if provider == "Xinference":
            return _openai_embed(ragflow_openai_base(url, version), key, model, texts)
        if provider == "LocalAI":
            return _openai_embed(ragflow_openai_base(url, version), "empty", model, texts)
        if provider == "HuggingFace":
            response = requests.post(f"{url}/embed", json={"inputs": texts},
                                     headers={"Content-Type": "application/json"}, timeout=30)
            return _ok(response, "POST /embed")
        if provider == "Ollama":
            import ollama

            host = url.rstrip("/") if version >= "0.27" else url
            client = ollama.Client(host=host) if key in {"", "x"} else ollama.Client(
                host=host, headers={"Authorization": f"Bearer {key}"})
            try:
                if version < "0.26":
                    return [client.embeddings(prompt=t, model=model, options={"use_mmap": True},
                                              keep_alive=-1)["embedding"] for t in texts]
                answer = client.embed(model=model, input=texts, truncate=True, options={"use_mmap": True},
                                      keep_alive=-1)
            except ollama.ResponseError as exc:
                raise ClientFailed(str(exc)) from exc
            return [list(v) for v in answer["embeddings"]]
        raise KeyError(provider)

    return drive


def _ragflow_rerank_endpoint(provider: str, url: str, key: str) -> tuple[str, dict[str, str]]:
    json_ = {"Content-Type": "application/json"}
    if provider == "OpenAI-API-Compatible":  # the path is kept from 0.24 on
        base = url.strip().rstrip("/")
        endpoint = base if "/rerank" in url else urljoin(base + "/", "rerank")
        return endpoint, {**json_, "Authorization": f"Bearer {key}"}
    if provider == "LocalAI":  # urljoin with an absolute path: host-root /rerank
        return (url if "/rerank" in url else urljoin(url, "/rerank")), {**json_, "Authorization": f"Bearer {key}"}
    if provider == "Xinference":  # host-root /v1/rerank; the key "x" sends none
        endpoint = url
        if "/v1" not in endpoint:
            endpoint = urljoin(endpoint, "/v1/rerank")
        if "/rerank" not in endpoint:
            endpoint = urljoin(endpoint, "/v1/rerank")
        return endpoint, {**json_, "accept": "application/json",
                          **({"Authorization": f"Bearer {key}"} if key and key != "x" else {})}
    if provider == "GPUStack":
        return str(URL(url) / "v1" / "rerank"), {"accept": "application/json", "content-type": "application/json",
                                                 "authorization": f"Bearer {key}"}
    raise KeyError(provider)


def _ragflow_tei_rerank(url: str, version: str, query: str, docs: list[str]) -> Scores:
    """RAGFlow's HuggingFace rerank: ``http://<url>/rerank`` up to 0.25; later it adds http:// only when missing."""
    if version < "0.26":
        endpoint = f"http://{url}/rerank"
    else:
        endpoint = url.rstrip("/")
        if not endpoint.startswith(("http://", "https://")):
            endpoint = f"http://{endpoint}"
        if not endpoint.endswith("/rerank"):
            endpoint += "/rerank"
    scores: Scores = {}
    for start in range(0, len(docs), 8):  # batches of 8, no Authorization header
        answer = _ok(requests.post(endpoint, headers={"Content-Type": "application/json"}, timeout=30,
                                   json={"query": query, "texts": docs[start:start + 8], "raw_scores": False,
                                         "truncate": True}), f"POST {endpoint}")
        scores.update({item["index"] + start: item["score"] for item in answer})
    return scores


def ragflow_rerank(provider: str, version: str) -> Callable[[str, str, str, str, list[str]], Scores]:
    def drive(url: str, key: str, model: str, query: str, docs: list[str]) -> Scores:
        body: dict[str, Any] = {"model": model, "query": query, "documents": docs, "top_n": len(docs)}
        if provider in {"Cohere", "VLLM"}:  # the cohere SDK 5.6.2: base/rerank, "Bearer <key>" always
            base = vllm_base(url, version) if provider == "VLLM" else url
            if provider == "VLLM" and version >= "0.26" and not key:
                key = "x"  # the provider service fills an empty VLLM key in
            answer = _cohere526_post(base, "rerank", key, {**body, "return_documents": False})
            return {r["index"]: r["relevance_score"] for r in answer["results"]}
        if provider == "HuggingFace":
            return _ragflow_tei_rerank(url, version, query, docs)
        endpoint, headers = _ragflow_rerank_endpoint(provider, url, key)
        if provider == "Xinference":
            body = {"model": model, "query": query, "return_documents": "true", "return_len": "true",
                    "documents": docs}
        answer = _ok(requests.post(endpoint, headers=headers, json=body, timeout=30), f"POST {endpoint}")
        if "results" not in answer:
            raise ClientFailed("no 'results': RAGFlow would score every document 0")
        return {r["index"]: r["relevance_score"] for r in answer["results"]}

    return drive


# ---- the table of drivers ------------------------------------------------------------------------------------------

DIFY_EMBEDDING: dict[str, Callable[[str, str, str, list[str]], Vectors]] = {
    "Text Embedding Inference": dify_tei_embedding,
    "Xorbits Inference": dify_xinference_embedding,
    "Cohere": dify_cohere_embedding,
    "OpenAI": dify_openai_embedding,
    "Ollama": dify_ollama_embedding,
    "OpenAI-API-compatible": dify_openai_compatible_embedding,
    "GPUStack": dify_gpustack_embedding,
}
DIFY_RERANK: dict[str, Callable[[str, str, str, str, list[str]], Scores]] = {
    "Text Embedding Inference": dify_tei_rerank,
    "Xorbits Inference": dify_xinference_rerank,
    "Cohere": dify_cohere_rerank,
    "Ollama": dify_ollama_rerank,
    "OpenAI-API-compatible": dify_openai_compatible_rerank,
    "GPUStack": dify_gpustack_rerank,
}
RAGFLOW_EMBEDDING_PROVIDERS = ("OpenAI-API-Compatible", "VLLM", "Xinference", "LocalAI", "GPUStack", "HuggingFace",
                               "Ollama")
RAGFLOW_RERANK_PROVIDERS = ("OpenAI-API-Compatible", "VLLM", "Xinference", "LocalAI", "GPUStack", "HuggingFace",
                            "Cohere")
