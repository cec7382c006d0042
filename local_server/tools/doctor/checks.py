"""The doctor's checks: each sends the body a real client sends to the route that client reaches, and reads
the answer the way that client reads it."""

from __future__ import annotations

import base64
import math
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from local_server.tools.doctor.paste import normalise_url

OK, FAIL, SKIP = "✔", "✘", "–"
QUERY = "What is the capital of France?"
DOCUMENTS = [
    "The capital of France is Paris.",
    "巴黎是法国的首都，也是最大的城市。",
    "Horses and cows are both animals.",
]
TEXTS = ["What is the capital of France?", "巴黎是法国的首都。"]
# cl100k_base token ids of "What is the capital of France?" (what Dify's OpenAI plugin and LangChain send)
TOKEN_IDS = [3923, 374, 279, 6864, 315, 9822, 30]
CLIENT_TIME_LIMIT_S = 10.0  # RAGFlow validates a model within 10 s, GPUStack times out at 10 s


# --- checks ---------------------------------------------------------------------------------------


@dataclass
class Check:
    id: str
    title: str
    ok: bool | None = None  # None: skipped
    detail: str = ""
    status: int | None = None
    ms: float | None = None  # all of the check's requests together
    slowest_ms: float | None = None  # its slowest single request

    @property
    def mark(self) -> str:
        return SKIP if self.ok is None else (OK if self.ok else FAIL)


class CheckFailed(Exception):
    pass


class Blocked(CheckFailed):
    """A failure that makes the remaining checks pointless."""

    def __init__(self, message: str, stop: str):
        super().__init__(message)
        self.stop = stop


class Unreachable(Exception):
    pass


@dataclass
class Reply:
    status: int
    body: Any
    text: str
    ms: float


@dataclass
class Report:
    url: str
    api_key_given: bool
    checks: list[Check] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)  # kind -> served name

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def result(self, check_id: str) -> bool | None:
        for c in self.checks:
            if c.id == check_id:
                return c.ok
        return None


def _error_message(reply: Reply) -> str:
    body = reply.body
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if body.get("detail"):
            return str(body["detail"])
        if body.get("message"):
            return str(body["message"])
    return reply.text[:200]


def _expect(reply: Reply, status: int = 200) -> Any:
    if reply.status == status:
        if reply.body is None:
            raise CheckFailed(f"HTTP {reply.status} but the body is not JSON: {reply.text[:120]!r}")
        return reply.body
    message = _error_message(reply)
    if reply.status == 401:
        raise CheckFailed(f"401 Unauthorized ({message})")
    if reply.status == 404:
        raise CheckFailed(f"404 Not Found ({message}): is this a bge-local server, on the right port?")
    raise CheckFailed(f"HTTP {reply.status}: {message}")


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def _floats(value: Any, what: str) -> list[float]:
    _need(isinstance(value, list) and len(value) > 0, f"{what} is not a list of numbers")
    _need(all(isinstance(x, int | float) and math.isfinite(x) for x in value), f"{what} holds non-finite values")
    return [float(x) for x in value]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _usage_tokens(body: dict, what: str) -> int:
    usage = body.get("usage")
    _need(isinstance(usage, dict), f"{what}: no 'usage' object (RAGFlow counts tokens from usage.total_tokens)")
    total = usage.get("total_tokens")
    _need(
        isinstance(total, int) and total > 0,
        f"{what}: usage.total_tokens is {total!r}; RAGFlow 0.27 refuses 0",
    )
    return total


def _scores_ok(scores: list[float], what: str) -> None:
    _need(
        all(isinstance(s, int | float) and 0.0 <= s <= 1.0 for s in scores),
        f"{what}: scores {scores} are not all within 0..1 (Dify's threshold and RAGFlow assume 0..1)",
    )


class Doctor:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0):
        import httpx

        self.url = normalise_url(url)
        self.api_key = api_key or None
        self.timeout = timeout
        # trust_env=False: a proxy configured for the internet must not swallow requests to a LAN server
        self.client = httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)
        self.report = Report(self.url, bool(self.api_key))
        self.dimension: int | None = None
        self.float_vectors: list[list[float]] = []

    # -- HTTP

    def _headers(self, auth: bool | str) -> dict[str, str]:
        if auth is True:
            return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        if auth is False:
            return {}
        return {"Authorization": auth}

    def call(self, method: str, path: str, body: Any = None, auth: bool | str = True) -> Reply:
        import httpx

        start = time.perf_counter()
        try:
            response = self.client.request(method, path, json=body, headers=self._headers(auth))
        except httpx.ConnectError as exc:
            raise Unreachable(f"cannot connect to {self.url}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise Unreachable(f"no answer from {self.url} within {self.timeout:.0f} s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
        ms = (time.perf_counter() - start) * 1000
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        return Reply(response.status_code, parsed, response.text, ms)

    # -- running

    def run(self) -> Report:
        plan = [
            ("health", "GET  /health", self.check_health),
            ("models", "GET  /v1/models", self.check_models),
            ("auth", "auth", self.check_auth),
            ("embeddings_float", "POST /v1/embeddings  float", self.check_embeddings_float),
            ("embeddings_base64", "POST /v1/embeddings  base64", self.check_embeddings_base64),
            ("tei_embed", "POST /embed  (TEI)", self.check_tei_embed),
            ("rerank_v1", "POST /v1/rerank", self.check_rerank_v1),
            ("rerank_root", "POST /rerank  documents", self.check_rerank_root),
            ("tei_rerank", "POST /rerank  texts (TEI)", self.check_tei_rerank),
            ("score", "POST /score", self.check_score),
            ("token_ids", "POST /v1/embeddings  token ids", self.check_token_ids),
            ("tei_models", "GET  /models/<name>/info", self.check_tei_models),
            ("xinference", "GET  /v1/models/<uid>  (Xinference)", self.check_xinference),
            ("cohere", "POST /v1/embed, /v1/tokenize  (Cohere)", self.check_cohere),
            ("ollama", "POST /api/embed  (Ollama)", self.check_ollama),
            ("url_mistakes", "mistyped URLs", self.check_url_mistakes),
            *_more_clients(self),
        ]
        stop: str | None = None  # why the remaining checks cannot run
        for check_id, title, func in plan:
            check = Check(check_id, title)
            self.report.checks.append(check)
            if stop and not (check_id == "auth" and stop.startswith("not run: API key")):
                check.detail = stop
                continue
            try:
                skip = func(check)
                if skip:
                    check.detail = skip
                else:
                    check.ok = True
                    slowest = check.slowest_ms or 0.0
                    if slowest > CLIENT_TIME_LIMIT_S * 1000 and check_id != "health":
                        check.ok = False
                        check.detail += f"; a request took {slowest / 1000:.1f} s, over RAGFlow's 10 s validation limit"
            except Blocked as exc:
                check.ok = False
                check.detail = str(exc)
                stop = exc.stop
            except CheckFailed as exc:
                check.ok = False
                check.detail = str(exc)
                if check.detail.startswith("401"):
                    if self.api_key:
                        check.detail += ": the server refused this API key"
                        stop = "not run: API key refused"
                    else:
                        check.detail += ": pass the server's key with --api-key"
                        stop = "not run: API key missing"
            except Unreachable as exc:
                check.ok = False
                check.detail = str(exc)
                stop = "not run: server unreachable"
        return self.report

    def _timed(self, check: Check, reply: Reply) -> Reply:
        check.status = reply.status
        check.ms = (check.ms or 0.0) + reply.ms
        check.slowest_ms = max(check.slowest_ms or 0.0, reply.ms)
        return reply

    def _model(self, kind: str) -> str | None:
        if not self.report.models:  # no listing (e.g. /v1/models failed): try everything
            return "bge-m3" if kind == "embedding" else "bge-reranker-v2-m3"
        return self.report.models.get(kind)

    # -- the checks (each returns None when it ran, or a reason to skip)

    def check_health(self, check: Check) -> str | None:
        reply = self._timed(check, self.call("GET", "/health", auth=False))
        if reply.status == 503 and isinstance(reply.body, dict):
            state = reply.body.get("status")
            error = reply.body.get("error")
            if error:
                raise Blocked(f"not ready: the models failed to load: {error}", "not run: models not loaded")
            raise Blocked(
                f"not ready ({state}): the models are still loading, try again in a minute",
                "not run: models not loaded",
            )
        body = _expect(reply)
        _need(isinstance(body, dict), "/health did not answer a JSON object")
        models = body.get("models") or []
        described = ", ".join(
            f"{m.get('name')} ({m.get('type')}" + (f", {m['dimension']}-d)" if m.get("dimension") else ")")
            for m in models
            if isinstance(m, dict)
        )
        device = body.get("device")
        check.detail = (
            f"{body.get('status', 'ok')}"
            + (f" on {device}" if device else "")
            + (f": {described}" if described else "")
        )
        return None

    def check_models(self, check: Check) -> str | None:
        reply = self._timed(check, self.call("GET", "/v1/models"))
        body = _expect(reply)
        data = body.get("data") if isinstance(body, dict) else None
        _need(isinstance(data, list) and data, "/v1/models lists no model")
        for entry in data:
            kind = entry.get("type") or ("reranker" if "rerank" in str(entry.get("id", "")).lower() else "embedding")
            name = entry.get("root") or entry.get("id")
            self.report.models.setdefault(kind, name)
        check.detail = ", ".join(f"{name} ({kind})" for kind, name in self.report.models.items())
        return None

    def _protected_probe(self) -> tuple[str, str, Any]:
        if self._model("embedding"):
            return "POST", "/v1/embeddings", {"model": self._model("embedding"), "input": ["ping"]}
        return (
            "POST",
            "/v1/rerank",
            {"model": self._model("reranker"), "query": "ping", "documents": ["pong"]},
        )

    def check_auth(self, check: Check) -> str | None:
        method, path, body = self._protected_probe()
        if self.api_key:
            reply = self._timed(check, self.call(method, path, body, auth=False))
            if reply.status == 200:
                raise CheckFailed(
                    "a request WITHOUT the key was served: the server runs without an API key "
                    "(set BGE_LOCAL_API_KEY / --api-key on the server)"
                )
            _need(reply.status == 401, f"a request without the key got HTTP {reply.status}, expected 401")
            _need(isinstance(reply.body, dict), "the 401 answer is not JSON (clients crash on non-JSON errors)")
            wrong = self._timed(check, self.call(method, path, body, auth="Bearer not-the-key"))
            _need(wrong.status == 401, f"a request with a wrong key got HTTP {wrong.status}, expected 401")
            check.detail = "requests without the key or with a wrong one get 401 with a JSON error"
            return None
        # No key: every placeholder a client sends when the user leaves the key empty must be accepted.
        placeholders = {
            "no header": False,
            "Authorization: ''": "",
            "Bearer None": "Bearer None",
            "Bearer empty": "Bearer empty",
        }
        refused = []
        for label, header in placeholders.items():
            reply = self._timed(check, self.call(method, path, body, auth=header))
            if reply.status == 401:
                refused.append(label)
        if refused:
            raise CheckFailed(f"the server wants an API key ({', '.join(refused)} got 401): pass it with --api-key")
        check.detail = "no key needed; empty and placeholder keys (Dify, RAGFlow LocalAI) accepted"
        return None

    def _embedding_data(self, body: Any, n: int, what: str) -> list[Any]:
        _need(isinstance(body, dict), f"{what}: not a JSON object")
        _need("model" in body, f"{what}: no top-level 'model' (older Dify versions require it)")
        data = body.get("data")
        _need(isinstance(data, list) and len(data) == n, f"{what}: expected {n} items in 'data'")
        _need([d.get("index") for d in data] == list(range(n)), f"{what}: 'index' missing or out of order")
        return [d.get("embedding") for d in data]

    def check_embeddings_float(self, check: Check) -> str | None:
        model = self._model("embedding")
        if not model:
            return "no embedding model served"
        body = {"model": model, "input": TEXTS, "encoding_format": "float"}
        reply = self._timed(check, self.call("POST", "/v1/embeddings", body))
        answer = _expect(reply)
        vectors = [_floats(v, f"embedding {i}") for i, v in enumerate(self._embedding_data(answer, 2, "float"))]
        _need(len(vectors[0]) == len(vectors[1]), "the two vectors differ in length")
        _need(vectors[0] != vectors[1], "two different texts got the same vector")
        tokens = _usage_tokens(answer, "embeddings")
        self.dimension = len(vectors[0])
        self.float_vectors = vectors
        check.detail = f"2 vectors × {self.dimension} dims, {tokens} tokens"
        return None

    def check_embeddings_base64(self, check: Check) -> str | None:
        model = self._model("embedding")
        if not model:
            return "no embedding model served"
        # RAGFlow's Xinference/LocalAI and openai-python ≥1.62 send no encoding_format and get base64
        body = {"model": model, "input": TEXTS, "encoding_format": "base64"}
        answer = _expect(self._timed(check, self.call("POST", "/v1/embeddings", body)))
        encoded = self._embedding_data(answer, 2, "base64")
        vectors = []
        for i, item in enumerate(encoded):
            _need(isinstance(item, str), f"embedding {i} is not a base64 string")
            raw = base64.b64decode(item)
            _need(len(raw) % 4 == 0, f"embedding {i}: {len(raw)} bytes is not a float32 array")
            vectors.append(list(struct.unpack(f"<{len(raw) // 4}f", raw)))
        if self.float_vectors:
            _need(len(vectors[0]) == len(self.float_vectors[0]), "base64 and float vectors differ in length")
            similarity = min(_cosine(a, b) for a, b in zip(vectors, self.float_vectors, strict=True))
            _need(similarity > 0.999, f"base64 and float vectors disagree (cosine {similarity:.4f})")
        check.detail = f"little-endian float32, {len(vectors[0])} dims, same vectors as float"
        return None

    def check_tei_embed(self, check: Check) -> str | None:
        model = self._model("embedding")
        if not model:
            return "no embedding model served"
        answer = _expect(self._timed(check, self.call("POST", "/embed", {"inputs": [TEXTS[0]]})))
        _need(isinstance(answer, list) and len(answer) == 1, "TEI /embed must answer a bare [[floats]] list")
        vector = _floats(answer[0], "TEI embedding")
        if self.float_vectors:
            _need(len(vector) == len(self.float_vectors[0]), "/embed and /v1/embeddings differ in dimension")
            similarity = _cosine(vector, self.float_vectors[0])
            _need(similarity > 0.999, f"/embed and /v1/embeddings disagree (cosine {similarity:.4f})")
        check.detail = f"bare list, {len(vector)} dims"
        return None

    def _rerank_results(self, answer: Any, n: int, what: str, usage: bool = True) -> str:
        _need(isinstance(answer, dict), f"{what}: not a JSON object")
        results = answer.get("results")
        _need(isinstance(results, list), f"{what}: no 'results' (RAGFlow would silently score every document 0)")
        _need(len(results) == n, f"{what}: {len(results)} results for {n} documents")
        _need(sorted(r.get("index") for r in results) == list(range(n)), f"{what}: indices are not 0..{n - 1}")
        scores = [r.get("relevance_score") for r in results]
        _scores_ok(scores, what)
        _need(scores == sorted(scores, reverse=True), f"{what}: results are not sorted by score")
        tokens = _usage_tokens(answer, what) if usage else None
        top = results[0]["index"]
        return f"{n} results sorted, top score {scores[0]:.3f} (document {top})" + (
            f", {tokens} tokens" if tokens else ""
        )

    def check_rerank_v1(self, check: Check) -> str | None:
        model = self._model("reranker")
        if not model:
            return "no reranker served"
        body = {"model": model, "query": QUERY, "documents": DOCUMENTS, "top_n": len(DOCUMENTS)}
        reply = self._timed(check, self.call("POST", "/v1/rerank", body))
        answer = _expect(reply)
        check.detail = self._rerank_results(answer, len(DOCUMENTS), "/v1/rerank")
        # RAGFlow's Xinference provider: flags as strings, no top_n
        xinference = {
            "model": model,
            "query": QUERY,
            "documents": DOCUMENTS,
            "return_documents": "true",
            "return_len": "true",
        }
        answer = _expect(self._timed(check, self.call("POST", "/v1/rerank", xinference)))
        self._rerank_results(answer, len(DOCUMENTS), "/v1/rerank (Xinference body)", usage=False)
        return None

    def check_rerank_root(self, check: Check) -> str | None:
        model = self._model("reranker")
        if not model:
            return "no reranker served"
        # Dify's OpenAI-API-compatible validation: 3 documents, top_n 3 (RAGFlow VLLM: return_documents)
        body = {"model": model, "query": QUERY, "documents": DOCUMENTS, "top_n": 3, "return_documents": False}
        answer = _expect(self._timed(check, self.call("POST", "/rerank", body)))
        check.detail = self._rerank_results(answer, len(DOCUMENTS), "/rerank")
        return None

    def check_tei_rerank(self, check: Check) -> str | None:
        if not self._model("reranker"):
            return "no reranker served"
        body = {
            "query": QUERY,
            "texts": DOCUMENTS,
            "raw_scores": False,
            "truncate": True,
            "return_text": True,
        }
        answer = _expect(self._timed(check, self.call("POST", "/rerank", body)))
        _need(
            isinstance(answer, list) and len(answer) == len(DOCUMENTS),
            "TEI /rerank must answer a bare list with one item per text",
        )
        _need(sorted(a.get("index") for a in answer) == list(range(len(DOCUMENTS))), "indices are not 0..n-1")
        _scores_ok([a.get("score") for a in answer], "TEI /rerank")
        check.detail = f"bare list of {len(answer)} {{index, score}}"
        return None

    def check_score(self, check: Check) -> str | None:
        model = self._model("reranker")
        if not model:
            return "no reranker served"
        body = {"model": model, "text_1": QUERY, "text_2": DOCUMENTS}
        answer = _expect(self._timed(check, self.call("POST", "/score", body)))
        data = answer.get("data") if isinstance(answer, dict) else None
        _need(isinstance(data, list) and len(data) == len(DOCUMENTS), "/score: expected one item per text_2")
        _need([d.get("index") for d in data] == list(range(len(DOCUMENTS))), "/score: indices out of order")
        _scores_ok([d.get("score") for d in data], "/score")
        check.detail = f"{len(data)} scores in input order"
        return None

    def _same_vector(self, vector: Any, what: str) -> None:
        vector = _floats(vector, what)
        if self.float_vectors:
            similarity = _cosine(vector, self.float_vectors[0])
            _need(similarity > 0.999, f"{what} and /v1/embeddings disagree (cosine {similarity:.4f})")

    def check_token_ids(self, check: Check) -> str | None:
        """Dify's OpenAI plugin and LangChain send cl100k_base token ids (these are "What is the capital of
        France?"): the server must decode them, offline."""
        if not self._model("embedding"):
            return "no embedding model served"
        body = {"model": self._model("embedding"), "input": [TOKEN_IDS], "encoding_format": "float"}
        answer = _expect(self._timed(check, self.call("POST", "/v1/embeddings", body)))
        self._same_vector(self._embedding_data(answer, 1, "token ids")[0], "token ids")
        check.detail = "cl100k_base ids decoded on the server"
        return None

    def check_tei_models(self, check: Check) -> str | None:
        """Dify's TEI plugin asks GET <url>/info which one model the URL serves: one URL per model."""
        found = []
        for kind, want in (("embedding", "embedding"), ("reranker", "reranker")):
            name = self._model(kind)
            if not name:
                continue
            info = _expect(self._timed(check, self.call("GET", f"/models/{name}/info")))
            model_type = list((info.get("model_type") or {}).keys()) if isinstance(info, dict) else []
            _need(model_type[:1] == [want], f"/models/{name}/info describes {model_type}, not the {want}")
            found.append(f"/models/{name}")
        if not found:
            return "no model served"
        check.detail = "one TEI URL per model: " + ", ".join(found)
        return None

    def check_xinference(self, check: Check) -> str | None:
        """xinference-client probes /v1/cluster/auth with no key, then reads /v1/models/<uid>.model_type."""
        auth = _expect(self._timed(check, self.call("GET", "/v1/cluster/auth", auth=False)))
        _need(isinstance(auth, dict) and isinstance(auth.get("auth"), bool), "/v1/cluster/auth: no 'auth' flag")
        kinds = []
        for kind, want in (("embedding", "embedding"), ("reranker", "rerank")):
            name = self._model(kind)
            if name:
                described = _expect(self._timed(check, self.call("GET", f"/v1/models/{name}")))
                _need(described.get("model_type") == want, f"/v1/models/{name}: model_type is not {want!r}")
                kinds.append(f"{name} ({want})")
        check.detail = f"auth {'on' if auth['auth'] else 'off'}; " + ", ".join(kinds)
        return None

    def check_cohere(self, check: Check) -> str | None:
        """Dify's Cohere plugin: token_strings from /v1/tokenize, floats and billed tokens from /v1/embed."""
        model = self._model("embedding")
        if not model:
            return "no embedding model served"
        tokens = _expect(self._timed(check, self.call("POST", "/v1/tokenize", {"text": TEXTS[0], "model": model})))
        _need("".join(tokens.get("token_strings") or []) == TEXTS[0], "/v1/tokenize: token_strings do not join "
              "back into the text")
        body = {"texts": TEXTS[:1], "model": model, "input_type": "search_query"}
        answer = _expect(self._timed(check, self.call("POST", "/v1/embed", body)))
        _need(answer.get("response_type") == "embeddings_floats", "/v1/embed: not Cohere's embeddings_floats")
        billed = ((answer.get("meta") or {}).get("billed_units") or {}).get("input_tokens")
        _need(isinstance(billed, int) and billed > 0, "/v1/embed: no meta.billed_units.input_tokens")
        self._same_vector((answer.get("embeddings") or [None])[0], "/v1/embed")
        check.detail = f"{len(tokens['token_strings'])} token strings; floats, {billed} billed tokens"
        return None

    def check_ollama(self, check: Check) -> str | None:
        """Dify's and RAGFlow's Ollama providers: /api/embed (and /api/embeddings up to RAGFlow 0.25)."""
        model = self._model("embedding")
        if not model:
            return "no embedding model served"
        body = {"model": model, "input": TEXTS[:1], "truncate": True, "options": {"use_mmap": True}}
        answer = _expect(self._timed(check, self.call("POST", "/api/embed", body)))
        self._same_vector((answer.get("embeddings") or [None])[0], "/api/embed")
        legacy = _expect(self._timed(check, self.call("POST", "/api/embeddings", {"model": model,
                                                                                 "prompt": TEXTS[0]})))
        self._same_vector(legacy.get("embedding"), "/api/embeddings")
        check.detail = "/api/embed and /api/embeddings agree with /v1/embeddings"
        return None

    def check_url_mistakes(self, check: Check) -> str | None:
        probes = []
        if self._model("embedding"):
            body = {"model": self._model("embedding"), "input": ["ping"]}
            probes += [("/v1/v1/embeddings", body), ("/v1/embeddings/", body), ("/embeddings", body)]
        if self._model("reranker"):
            body = {"model": self._model("reranker"), "query": "ping", "documents": ["pong"]}
            probes += [("/v1/v1/rerank", body), ("/v2/rerank", body)]
        failed = []
        for path, body in probes:
            reply = self._timed(check, self.call("POST", path, body))
            if reply.status != 200:
                failed.append(f"{path} → {reply.status}")
        _need(not failed, "not answered: " + ", ".join(failed))
        check.detail = "answered too: " + ", ".join(p for p, _ in probes)
        return None


def _more_clients(doctor: Doctor) -> list[tuple[str, str, Any]]:
    """The rows of tools/doctor/more_clients.py (imported here: it imports this module)."""
    from local_server.tools.doctor import more_clients

    return [("tei_root", "POST /  (TEI root: huggingface_hub, Haystack)",
             lambda check: more_clients.check_tei_root(doctor, check)),
            ("rerank_document", "POST /v2/rerank document, /v1/v2/embed, dimensions 0",
             lambda check: more_clients.check_rerank_document(doctor, check))]
