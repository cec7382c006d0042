"""What each client sends, and how its answer is judged: ONE table, read by the doctor and by the console.

Each ``ClientCheck`` is what one client (or one family of clients) does to a server: the requests it sends
(method, path, body) and, for each, how the answer is judged — the status it wants and a few ``Rule``s over the
JSON answer, each naming a path into it and a test from ``judge.TESTS``. ``bge-local doctor`` runs the table from
Python (``judge.py``); the console serves the same entries, addressed to the URL the user pastes, to the browser,
whose ``connect.js`` interprets the same rules. A new client is one entry in ``CHECKS`` (and its check id on its
rows in ``forms.py``).

Bodies name the model as ``"{embedding}"`` or ``"{reranker}"``: the served names replace them. A request whose
``model`` kind is not served is left out; a check left with no request is skipped. ``under_model_url`` requests
go to the per-model base URL (``/models/<name>``). Paths into answers: ``a.b.0`` walks objects and lists, ``*``
takes every item, ``#`` is a length, ``~f32`` decodes a base64 little-endian float32 array.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["embedding", "reranker"]

QUERY = "What is the capital of France?"
DOCUMENTS = [
    "The capital of France is Paris.",
    "巴黎是法国的首都，也是最大的城市。",
    "Horses and cows are both animals.",
]
TEXTS = ["What is the capital of France?", "巴黎是法国的首都。"]
# cl100k_base token ids of "What is the capital of France?" (what Dify's OpenAI plugin and LangChain send)
TOKEN_IDS = [3923, 374, 279, 6864, 315, 9822, 30]
NOT_SERVED = {"embedding": "no embedding model served", "reranker": "no reranker served"}


@dataclass(frozen=True)
class Rule:
    """``test`` holds for the value at ``path`` (for each of its items when ``each``); else ``message``."""

    path: str
    test: str  # a key of judge.TESTS (and of TESTS in ui/connect.js)
    message: str  # {i}: the item's index when ``each``
    arg: Any = None
    each: bool = False


@dataclass(frozen=True)
class ClientRequest:
    method: str
    path: str
    body: Any = None
    model: Kind | None = None  # the model it needs (and whose name fills "{model}")
    rules: tuple[Rule, ...] = ()
    status: int = 200
    sends_key: bool = True  # False: the client sends no Authorization header at all
    under_model_url: bool = False
    detail: str = ""  # what the doctor says of a passing answer: {path}, {path:.3f}, {path|onoff}
    keep: tuple[tuple[str, str], ...] = ()  # (name, path): values for the check's summary
    reference: str = ""  # a path to the dense vectors that later answers must agree with ("agrees")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ClientCheck:
    id: str  # the doctor's check id; forms.PasteRow.checks name it
    title: str  # the doctor's line
    client: str  # who sends these requests
    requests: tuple[ClientRequest, ...]
    summary: str = "{details}"  # {details}: the passing requests' details joined by ``joiner``; kept values
    joiner: str = ", "


def _embeddings(n: int, what: str) -> tuple[Rule, ...]:
    """OpenAI's answer as Dify and RAGFlow read it: ``n`` indexed items and a model name."""
    return (Rule("", "object", f"{what}: not a JSON object"),
            Rule("model", "present", f"{what}: no top-level 'model' (older Dify versions require it)"),
            Rule("data", "length", f"{what}: expected {n} items in 'data'", n),
            Rule("data.*.index", "sequence", f"{what}: 'index' missing or out of order"))


def _usage(what: str, path: str = "usage.total_tokens") -> Rule:
    return Rule(path, "positive_int", f"{what}: {path} missing or 0; RAGFlow 0.27 refuses 0 (it counts tokens "
                                      "from usage.total_tokens)")


def _ranked(what: str, n: int, usage: bool = True) -> tuple[Rule, ...]:
    return (Rule("", "object", f"{what}: not a JSON object"),
            Rule("results", "list", f"{what}: no 'results' (RAGFlow would silently score every document 0)"),
            Rule("results", "length", f"{what}: expected {n} results, one per document", n),
            Rule("results.*.index", "permutation", f"{what}: indices are not 0..{n - 1}"),
            Rule("results.*.relevance_score", "unit", f"{what}: scores are not all within 0..1 (Dify's threshold "
                                                      "and RAGFlow assume 0..1)"),
            Rule("results.*.relevance_score", "descending", f"{what}: results are not sorted by score"),
            *((_usage(what),) if usage else ()))


_RANKED_DETAIL = "{results.#} results sorted, top score {results.0.relevance_score:.3f} (document {results.0.index})"
_FLOATS = Rule("data.*.embedding", "numbers", "embedding {i} is not a list of finite numbers", each=True)
_EMBEDDINGS = ClientRequest("POST", "/v1/embeddings", {"model": "{embedding}", "input": TEXTS}, "embedding",
                            (*_embeddings(len(TEXTS), "/v1/embeddings"), _FLOATS, Rule(
                                "data.*.embedding", "agrees", "/v1/embeddings disagrees with itself")))


def _agrees(path: str, what: str) -> Rule:
    return Rule(path, "agrees", f"{what} and /v1/embeddings disagree (not the same vector)")


def _tei_embedding(what: str) -> tuple[Rule, ...]:
    """TEI's answer to one text, as its clients read it: a bare [[floats]] list agreeing with /v1/embeddings."""
    return (Rule("", "length", f"{what} must answer a bare [[floats]] list", 1),
            Rule("0", "numbers", f"{what}: the embedding is not a list of finite numbers"),
            _agrees("0", what))


_TEI_RANKED = (Rule("", "length", "TEI /rerank must answer a bare list with one item per text", len(DOCUMENTS)),
               Rule("*.index", "permutation", "indices are not 0..n-1"),
               Rule("*.score", "unit", "TEI /rerank: scores are not all within 0..1"))


CHECKS: tuple[ClientCheck, ...] = (
    ClientCheck("embeddings_float", "POST /v1/embeddings  float", "OpenAI SDK, Dify, RAGFlow", (
        ClientRequest("POST", "/v1/embeddings", {"model": "{embedding}", "input": TEXTS, "encoding_format": "float"},
                      "embedding", (*_embeddings(len(TEXTS), "float"), _FLOATS,
                                    Rule("data.*.embedding", "same_length", "the two vectors differ in length"),
                                    Rule("data.*.embedding", "distinct", "two different texts got the same vector"),
                                    _usage("embeddings")),
                      detail="{data.#} vectors × {data.0.embedding.#} dims, {usage.total_tokens} tokens",
                      reference="data.*.embedding"),)),
    ClientCheck("embeddings_base64", "POST /v1/embeddings  base64", "RAGFlow Xinference/LocalAI (openai-python)", (
        ClientRequest("POST", "/v1/embeddings", {"model": "{embedding}", "input": TEXTS, "encoding_format": "base64"},
                      "embedding", (*_embeddings(len(TEXTS), "base64"),
                                    Rule("data.*.embedding", "base64_f32", "embedding {i} is not a base64 float32 "
                                                                           "array", each=True),
                                    _agrees("data.*.embedding~f32", "base64")),
                      detail="little-endian float32, {data.0.embedding~f32.#} dims, same vectors as float"),)),
    ClientCheck("tei_embed", "POST /embed  (TEI)", "RAGFlow HuggingFace (TEI)", (
        ClientRequest("POST", "/embed", {"inputs": [TEXTS[0]]}, "embedding",
                      _tei_embedding("TEI /embed"),
                      detail="bare list, {0.#} dims"),)),
    ClientCheck("rerank_v1", "POST /v1/rerank", "Cohere/Jina clients, Dify bge-local, GPUStack, RAGFlow Xinference", (
        ClientRequest("POST", "/v1/rerank", {"model": "{reranker}", "query": QUERY, "documents": DOCUMENTS,
                                             "top_n": len(DOCUMENTS)}, "reranker",
                      _ranked("/v1/rerank", len(DOCUMENTS)), detail=_RANKED_DETAIL + ", {usage.total_tokens} tokens"),
        # RAGFlow's Xinference provider: flags as strings, no top_n
        ClientRequest("POST", "/v1/rerank", {"model": "{reranker}", "query": QUERY, "documents": DOCUMENTS,
                                             "return_documents": "true", "return_len": "true"}, "reranker",
                      _ranked("/v1/rerank (Xinference body)", len(DOCUMENTS), usage=False)))),
    ClientCheck("rerank_root", "POST /rerank  documents", "Dify OpenAI-API-compatible, RAGFlow VLLM/LocalAI", (
        # Dify's OpenAI-API-compatible validation: 3 documents, top_n 3 (RAGFlow VLLM: return_documents)
        ClientRequest("POST", "/rerank", {"model": "{reranker}", "query": QUERY, "documents": DOCUMENTS, "top_n": 3,
                                          "return_documents": False}, "reranker",
                      _ranked("/rerank", len(DOCUMENTS)), detail=_RANKED_DETAIL + ", {usage.total_tokens} tokens"),)),
    ClientCheck("tei_rerank", "POST /rerank  texts (TEI)", "RAGFlow HuggingFace (TEI)", (
        ClientRequest("POST", "/rerank", {"query": QUERY, "texts": DOCUMENTS, "raw_scores": False, "truncate": True,
                                          "return_text": True}, "reranker", _TEI_RANKED,
                      detail="bare list of {#} {{index, score}}"),)),
    ClientCheck("score", "POST /score", "vLLM clients", (
        ClientRequest("POST", "/score", {"model": "{reranker}", "text_1": QUERY, "text_2": DOCUMENTS}, "reranker",
                      (Rule("data", "length", "/score: expected one item per text_2", len(DOCUMENTS)),
                       Rule("data.*.index", "sequence", "/score: indices out of order"),
                       Rule("data.*.score", "unit", "/score: scores are not all within 0..1")),
                      detail="{data.#} scores in input order"),)),
    ClientCheck("token_ids", "POST /v1/embeddings  token ids", "Dify OpenAI plugin, LangChain (cl100k token ids)", (
        ClientRequest("POST", "/v1/embeddings", {"model": "{embedding}", "input": [TOKEN_IDS],
                                                 "encoding_format": "float"}, "embedding",
                      (*_embeddings(1, "token ids"), _FLOATS, _agrees("data.0.embedding", "token ids")),
                      detail="cl100k_base ids decoded on the server"),)),
    ClientCheck("tei_models", "GET  /models/<name>/info", "Dify Text Embedding Inference (one URL per model)", (
        ClientRequest("GET", "/info", model="embedding", under_model_url=True, detail="/models/{model}",
                      rules=(Rule("model_type", "first_key", "/info does not describe the embedding", "embedding"),)),
        ClientRequest("GET", "/info", model="reranker", under_model_url=True, detail="/models/{model}",
                      rules=(Rule("model_type", "first_key", "/info does not describe the reranker", "reranker"),)),
        ClientRequest("POST", "/v1/embeddings", {"model": "{embedding}", "input": TEXTS}, "embedding",
                      _EMBEDDINGS.rules, under_model_url=True),
        # Dify's TEI rerank: the per-model URL it was given + /rerank, texts with return_text
        ClientRequest("POST", "/rerank", {"query": QUERY, "texts": DOCUMENTS, "return_text": True}, "reranker",
                      (*_TEI_RANKED, Rule("*.text", "present", "TEI /rerank: item {i} has no 'text' (Dify's TEI "
                                                              "plugin reads it)", each=True)),
                      under_model_url=True)),
        summary="one TEI URL per model: {details}"),
    ClientCheck("xinference", "GET  /v1/models/<uid>  (Xinference)", "xinference-client (Dify, RAGFlow)", (
        # xinference-client probes /v1/cluster/auth with no key, then reads /v1/models/<uid>.model_type
        ClientRequest("GET", "/v1/cluster/auth", sends_key=False, keep=(("auth", "auth"),),
                      rules=(Rule("auth", "bool", "/v1/cluster/auth: no 'auth' flag"),)),
        ClientRequest("GET", "/v1/models/{model}", model="embedding", detail="{model} ({model_type})",
                      rules=(Rule("model_type", "equals", "/v1/models/<uid>: model_type is not 'embedding'",
                                  "embedding"),)),
        ClientRequest("GET", "/v1/models/{model}", model="reranker", detail="{model} ({model_type})",
                      rules=(Rule("model_type", "equals", "/v1/models/<uid>: model_type is not 'rerank'",
                                  "rerank"),)),
        _EMBEDDINGS),
        summary="auth {auth|onoff}; {details}"),
    ClientCheck("cohere", "POST /v1/embed, /v1/tokenize  (Cohere)", "Dify Cohere plugin", (
        ClientRequest("POST", "/v1/tokenize", {"text": TEXTS[0], "model": "{embedding}"}, "embedding",
                      (Rule("tokens", "numbers", "/v1/tokenize: no 'tokens'"),
                       Rule("token_strings", "joins", "/v1/tokenize: token_strings do not join back into the text",
                            TEXTS[0])),
                      detail="{token_strings.#} token strings"),
        ClientRequest("POST", "/v1/embed", {"texts": TEXTS[:1], "model": "{embedding}", "input_type": "search_query"},
                      "embedding",
                      (Rule("response_type", "equals", "/v1/embed: not Cohere's embeddings_floats",
                            "embeddings_floats"),
                       Rule("embeddings", "length", "/v1/embed: expected 1 vector in 'embeddings'", 1),
                       _usage("/v1/embed", "meta.billed_units.input_tokens"),
                       _agrees("embeddings.0", "/v1/embed")),
                      detail="floats, {meta.billed_units.input_tokens} billed tokens")),
        joiner="; "),
    ClientCheck("ollama", "POST /api/embed  (Ollama)", "Dify Ollama, RAGFlow Ollama from 0.26", (
        ClientRequest("POST", "/api/embed", {"model": "{embedding}", "input": TEXTS[:1], "truncate": True,
                                             "options": {"use_mmap": True}}, "embedding",
                      (Rule("embeddings", "length", "/api/embed: expected 1 vector in 'embeddings'", 1),
                       _agrees("embeddings.0", "/api/embed"))),),
        summary="/api/embed agrees with /v1/embeddings"),
    ClientCheck("ollama_embeddings", "POST /api/embeddings  (Ollama)", "RAGFlow Ollama up to 0.25", (
        ClientRequest("POST", "/api/embeddings", {"model": "{embedding}", "prompt": TEXTS[0]}, "embedding",
                      (_agrees("embedding", "/api/embeddings"),)),),
        summary="/api/embeddings agrees with /v1/embeddings"),
    ClientCheck("ollama_rerank", "POST /api/rerank  (Ollama)", "Dify Ollama plugin", (
        # what the plugin's validation and invocation send: no top_n unless asked; it reads index and
        # relevance_score, and a 'document' there as the text itself (a string), so it must be a string or absent
        ClientRequest("POST", "/api/rerank", {"model": "{reranker}", "query": QUERY, "documents": DOCUMENTS},
                      "reranker",
                      (*_ranked("/api/rerank", len(DOCUMENTS), usage=False),
                       Rule("results.*.document", "text_or_absent", "/api/rerank: results[{i}].document is not the "
                                                                     "text itself (Dify's RerankDocument)", each=True)),
                      detail=_RANKED_DETAIL),)),
    ClientCheck("tei_root", "POST /  (TEI's root)", "huggingface_hub InferenceClient, Haystack TEI embedders", (
        ClientRequest("POST", "/", {"inputs": TEXTS[:1]}, "embedding",
                      _tei_embedding("POST / (TEI's root)"),
                      detail="TEI's root embeds, {0.#} dims"),)),
    ClientCheck("rerank_document", "POST /v2/rerank  document", "MaxKB (cohere ClientV2), vLLM and Jina clients", (
        ClientRequest("POST", "/v2/rerank", {"model": "{reranker}", "query": QUERY, "documents": DOCUMENTS,
                                             "top_n": None, "max_tokens_per_doc": None}, "reranker",
                      (*_ranked("/v2/rerank", len(DOCUMENTS), usage=False),
                       Rule("results.*.document.text", "present", "/v2/rerank: results[{i}].document.text missing "
                                                                  "(MaxKB's vLLM reranker reads it)", each=True)),
                      detail="document.text in each of {results.#} results"),
        # a Cohere v2 client given the …/v1 URL; infinity_client's dimensions: 0
        ClientRequest("POST", "/v1/v2/embed", {"model": "{embedding}", "texts": TEXTS[:1],
                                               "input_type": "search_document", "embedding_types": ["float"]},
                      "embedding", (_agrees("embeddings.float.0", "/v1/v2/embed"),), detail="/v1/v2/embed"),
        ClientRequest("POST", "/v1/embeddings", {"model": "{embedding}", "input": TEXTS[:1], "dimensions": 0,
                                                 "encoding_format": "float"}, "embedding",
                      (*_embeddings(1, "dimensions 0"), _agrees("data.0.embedding", "dimensions 0")),
                      detail="dimensions 0 means not set")),
        joiner="; "),
)

BY_ID = {check.id: check for check in CHECKS}


def fill(value: Any, names: dict[str, str], model: str | None) -> Any:
    """``value`` with "{embedding}", "{reranker}" and "{model}" replaced by served names."""
    if isinstance(value, str):
        for key, name in (*names.items(), ("model", model)):
            if name is not None:
                value = value.replace("{" + key + "}", name)
        return value
    if isinstance(value, list):
        return [fill(v, names, model) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, names, model) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Call:
    """One request ready to send: ``url`` absolute; ``rules`` and ``status`` say how its answer is judged."""

    check: str
    method: str
    url: str
    body: Any
    model: str | None
    status: int
    sends_key: bool
    rules: list[dict[str, Any]]
    detail: str
    keep: list[tuple[str, str]]
    reference: str


def calls(check: ClientCheck, root: str, names: dict[str, str], kinds: tuple[str | None, ...] | None = None
          ) -> list[Call]:
    """``check``'s requests addressed to the server at ``root`` serving ``names`` (kind -> served name); only
    those for ``kinds`` when given (a console row tests its own model kind)."""
    out = []
    for request in check.requests:
        if request.model is not None and request.model not in names:
            continue
        if kinds is not None and request.model not in kinds:
            continue
        model = names.get(request.model) if request.model else None
        base = f"{root}/models/{model}" if request.under_model_url else root
        out.append(Call(check.id, request.method, base + fill(request.path, names, model),
                        fill(request.body, names, model), model, request.status, request.sends_key,
                        [asdict(rule) for rule in request.rules], request.detail, list(request.keep),
                        request.reference))
    return out


def skip_reason(check: ClientCheck, names: dict[str, str]) -> str:
    """Why ``check`` sends nothing to a server serving ``names``."""
    needed = {r.model for r in check.requests if r.model is not None}
    return NOT_SERVED[needed.pop()] if len(needed) == 1 else "no model served"
