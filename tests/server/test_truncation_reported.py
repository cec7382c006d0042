"""Every embedding and rerank answer says which inputs were cut and to how many tokens (issue #22): the header
``X-Truncated-Inputs`` on every dialect's answer (bare lists included), the field ``truncated`` in JSON objects,
counted as transformers counts them on the model's own tokenizer.

One real server with ``--max-length 16`` (so that a sentence is cut) and a CORS origin (the header is exposed).
"""

from __future__ import annotations

import httpx
import pytest
from support.server import ServerProcess

LIMIT = 16
ORIGIN = "http://rag-app.example"
SHORT = ["Paris", "capital of France"]
LONG = ["retrieval augmented generation keeps the index fresh",
        "A long document about retrieval and reranking and indexes"]
TEXTS = [SHORT[0], LONG[0], SHORT[1], LONG[1]]  # inputs 1 and 3 are over 16 tokens
QUERY = "capital of France"
HEADER, OMITTED = "x-truncated-inputs", "x-truncated-inputs-omitted"


@pytest.fixture(scope="module")
def short_server(tiny_models, tmp_path_factory):
    with (ServerProcess(tiny_models, "--max-length", str(LIMIT), "--cors-origin", ORIGIN,
                        log_dir=tmp_path_factory.mktemp("truncation-logs")) as proc,
          httpx.Client(base_url=proc.url, timeout=120) as client):
        yield client


@pytest.fixture(scope="module")
def hf(tiny_models):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_models / "bge-m3"))  # the reranker's tokenizer is the same


def cut_texts(hf, texts: list[str], limit: int = LIMIT, side: str = "right") -> list[tuple[int, int]]:
    """(index, tokens kept) of each text transformers cuts at ``limit`` tokens."""
    hf.truncation_side = side
    try:
        kept = hf(texts, truncation=True, max_length=limit)["input_ids"]
    finally:
        hf.truncation_side = "right"
    whole = hf(texts)["input_ids"]
    return [(i, len(k)) for i, (w, k) in enumerate(zip(whole, kept, strict=True)) if len(w) > len(k)]


def cut_pairs(hf, query: str, documents: list[str], limit: int = LIMIT) -> list[tuple[int, int]]:
    """FlagReranker's rule with transformers' counts: the query cut to 3/4 of the limit, the document to the rest,
    four special tokens (``<s> q </s></s> d </s>``)."""
    q_all = hf(query, add_special_tokens=False)["input_ids"]
    q = q_all[:limit * 3 // 4]
    out = []
    for i, doc in enumerate(documents):
        d = hf(doc, add_special_tokens=False)["input_ids"]
        if len(q_all) > len(q) or len(q) + len(d) + 4 > limit:
            out.append((i, len(q) + min(len(d), limit - len(q) - 4) + 4))
    return out


def check(response: httpx.Response, want: list[tuple[int, int]], *, field: bool) -> None:
    """The header lists ``want``; a JSON object also lists it in ``truncated`` (``field``), a bare list can't."""
    assert response.status_code == 200, response.text
    assert want, "the request must cut something"
    assert response.headers[HEADER] == ",".join(f"{i}={k}" for i, k in want)
    assert OMITTED not in response.headers
    body = response.json()
    if field:
        assert body["truncated"] == [{"index": i, "tokens": k} for i, k in want]
    else:
        assert isinstance(body, list)


EMBED_CASES = {  # name: (path, body, JSON object answer)
    "OpenAI": ("/v1/embeddings", {"input": TEXTS, "model": "bge-m3"}, True),
    "OpenAI at /embeddings, sparse and ColBERT": ("/embeddings", {"input": TEXTS, "return_sparse": True,
                                                                  "return_colbert_vecs": True}, True),
    "Jina": ("/v1/embeddings", {"model": "jina-embeddings-v3", "input": TEXTS, "task": "retrieval.passage"}, True),
    "Xinference (base64)": ("/v1/embeddings", {"model": "bge-m3", "input": TEXTS, "encoding_format": "base64"}, True),
    "Cohere v1": ("/v1/embed", {"texts": TEXTS, "model": "bge-m3", "input_type": "search_document"}, True),
    "Cohere v2": ("/v2/embed", {"texts": TEXTS, "model": "bge-m3", "input_type": "search_query",
                                "embedding_types": ["float", "int8"]}, True),
    "Cohere at /embed": ("/embed", {"texts": TEXTS, "input_type": "search_document"}, True),
    "TEI /embed": ("/embed", {"inputs": TEXTS}, False),
    "TEI /embed_sparse": ("/embed_sparse", {"inputs": TEXTS}, False),
    "TEI root": ("/", {"inputs": TEXTS}, False),
    "TEI /invocations": ("/invocations", {"inputs": TEXTS}, False),
    "seed /embed": ("/embed", {"texts": TEXTS, "mode": "dense"}, True),
    "seed /embed sparse": ("/embed", {"texts": TEXTS, "mode": "sparse"}, True),
    "Ollama /api/embed": ("/api/embed", {"model": "bge-m3", "input": TEXTS}, True),
    "per-model OpenAI": ("/models/bge-m3/v1/embeddings", {"input": TEXTS}, True),
    "per-model TEI": ("/models/bge-m3/embed", {"inputs": TEXTS}, False),
    "per-model TEI root": ("/models/bge-m3/", {"inputs": TEXTS}, False),
    "per-model Ollama": ("/models/BAAI/bge-m3/api/embed", {"input": TEXTS}, True),
}


@pytest.mark.parametrize("case", EMBED_CASES)
def test_every_embedding_answer_reports_the_inputs_cut(short_server, hf, case):
    path, body, field = EMBED_CASES[case]
    check(short_server.post(path, json=body), cut_texts(hf, TEXTS), field=field)


def test_ollama_embeddings_reports_its_one_prompt(short_server, hf):
    response = short_server.post("/api/embeddings", json={"model": "bge-m3", "prompt": LONG[1]})
    check(response, cut_texts(hf, [LONG[1]]), field=True)
    assert len(response.json()["embedding"]) > 0


def test_request_level_limits_report_too(short_server, hf):
    """The seed guide's ``max_length`` and Cohere v2's ``max_tokens`` cut to fewer tokens than the server's."""
    seed = short_server.post("/embed", json={"texts": TEXTS, "mode": "colbert", "max_length": 6})
    check(seed, cut_texts(hf, TEXTS, 6), field=True)
    cohere = short_server.post("/v2/embed", json={"texts": TEXTS, "max_tokens": 8, "input_type": "search_query",
                                                  "embedding_types": ["float"]})
    check(cohere, cut_texts(hf, TEXTS, 8), field=True)


def test_cohere_truncate_start_reports_the_tokens_it_kept_from_the_end(short_server, hf):
    want = cut_texts(hf, TEXTS, side="left")
    start = short_server.post("/v1/embed", json={"texts": TEXTS, "truncate": "START"})
    check(start, want, field=True)
    end = short_server.post("/v1/embed", json={"texts": TEXTS, "truncate": "END"})
    assert start.json()["embeddings"][1] != end.json()["embeddings"][1]  # the other end of input 1 was kept


DOCS_AS_OBJECTS = [{"text": t} for t in TEXTS]
RERANK_CASES = {  # name: (path, body, JSON object answer)
    "Jina /v1/rerank, top_n 1": ("/v1/rerank", {"model": "jina-reranker-v2", "query": QUERY, "documents": TEXTS,
                                                "top_n": 1}, True),
    "Cohere v1 /rerank": ("/rerank", {"model": "bge-reranker-v2-m3", "query": QUERY,
                                      "documents": DOCS_AS_OBJECTS, "return_documents": False}, True),
    "Cohere v2 /v2/rerank": ("/v2/rerank", {"model": "bge-reranker-v2-m3", "query": QUERY, "documents": TEXTS},
                             True),
    "vLLM /v1/rerank": ("/v1/rerank", {"model": "bge-reranker-v2-m3", "query": QUERY, "documents": TEXTS}, True),
    "Xinference": ("/v1/rerank", {"model": "bge-reranker-v2-m3", "query": QUERY, "documents": TEXTS,
                                  "return_documents": "false", "return_len": "true", "max_chunks_per_doc": None},
                   True),
    "Ollama /api/rerank": ("/api/rerank", {"model": "bge-reranker-v2-m3", "query": QUERY, "documents": TEXTS}, True),
    "TEI /rerank": ("/rerank", {"query": QUERY, "texts": TEXTS, "return_text": True}, False),
    "TEI root": ("/", {"query": QUERY, "texts": TEXTS}, False),
    "per-model TEI": ("/models/bge-reranker-v2-m3/rerank", {"query": QUERY, "texts": TEXTS}, False),
    "per-model TEI root": ("/models/bge-reranker-v2-m3", {"query": QUERY, "texts": TEXTS}, False),
    "per-model Jina": ("/models/bge-reranker-v2-m3/v1/rerank", {"query": QUERY, "documents": TEXTS}, True),
}


@pytest.mark.parametrize("case", RERANK_CASES)
def test_every_rerank_answer_reports_the_documents_cut(short_server, hf, case):
    path, body, field = RERANK_CASES[case]
    response = short_server.post(path, json=body)
    check(response, cut_pairs(hf, QUERY, TEXTS), field=field)
    if "top_n" in body:  # every document cut is listed, also those not in the answer
        assert len(response.json()["results"]) == 1


def test_vllm_score_reports_the_pairs_cut(short_server, hf):
    one_to_many = short_server.post("/score", json={"text_1": QUERY, "text_2": TEXTS})
    check(one_to_many, cut_pairs(hf, QUERY, TEXTS), field=True)
    limited = short_server.post("/v1/score", json={"text_1": QUERY, "text_2": TEXTS, "truncate_prompt_tokens": 10})
    check(limited, cut_pairs(hf, QUERY, TEXTS, 10), field=True)
    pairwise = short_server.post("/score", json={"text_1": [QUERY, LONG[0]], "text_2": ["Paris", "Paris"]})
    check(pairwise, [(1, LIMIT)], field=True)  # a long first text is cut to 3/4 of the limit: reported too


def test_a_long_query_is_reported_for_every_document(short_server, hf):
    query = LONG[1]  # 32 content tokens: cut to 12
    response = short_server.post("/v1/rerank", json={"query": query, "documents": SHORT})
    check(response, cut_pairs(hf, query, SHORT), field=True)
    assert [i for i, _ in cut_pairs(hf, query, SHORT)] == [0, 1]


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/embeddings", {"input": SHORT}), ("/embed", {"inputs": SHORT}), ("/embed", {"texts": SHORT}),
    ("/v1/embed", {"texts": SHORT, "truncate": "START"}), ("/api/embed", {"input": SHORT}),
    ("/api/embeddings", {"prompt": SHORT[0]}), ("/embed_sparse", {"inputs": SHORT}),
    ("/v1/rerank", {"query": QUERY, "documents": SHORT}), ("/rerank", {"query": QUERY, "texts": SHORT}),
    ("/score", {"text_1": QUERY, "text_2": SHORT}),
])
def test_nothing_is_reported_when_nothing_was_cut(short_server, path, body):
    response = short_server.post(path, json=body)
    assert response.status_code == 200, response.text
    assert HEADER not in response.headers and OMITTED not in response.headers
    assert isinstance(response.json(), list) or "truncated" not in response.json()


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/embeddings", {"input": TEXTS, "truncate": False}), ("/embed", {"inputs": TEXTS, "truncate": False}),
    ("/v1/embed", {"texts": TEXTS, "truncate": "NONE"}), ("/api/embed", {"input": TEXTS, "truncate": False}),
    ("/rerank", {"query": QUERY, "texts": TEXTS, "truncate": False}),
])
def test_truncate_false_still_refuses(short_server, path, body):
    response = short_server.post(path, json=body)
    assert response.status_code == 413 and response.json()["error"]["code"] == "input_too_long"
    assert HEADER not in response.headers


def test_the_header_keeps_to_its_budget_and_counts_the_rest(short_server, hf):
    texts = [LONG[i % 2] for i in range(1500)]
    want = [f"{i}={k}" for i, k in cut_texts(hf, texts)]
    bare = short_server.post("/embed", json={"inputs": texts})
    assert bare.status_code == 200
    listed = bare.headers[HEADER].split(",")
    assert len(bare.headers[HEADER]) <= 2048 < len(bare.headers[HEADER]) + 1 + len(want[len(listed)])
    assert listed == want[:len(listed)]
    assert int(bare.headers[OMITTED]) == len(want) - len(listed) > 0
    whole = short_server.post("/v1/embeddings", json={"input": texts})  # the JSON field lists every input
    assert [f"{t['index']}={t['tokens']}" for t in whole.json()["truncated"]] == want
    assert whole.headers[HEADER] == bare.headers[HEADER] and whole.headers[OMITTED] == bare.headers[OMITTED]


def test_browsers_may_read_the_headers_through_cors(short_server, hf):
    response = short_server.post("/v1/embeddings", json={"input": TEXTS}, headers={"Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {HEADER, OMITTED} <= exposed
    assert response.headers[HEADER] == ",".join(f"{i}={k}" for i, k in cut_texts(hf, TEXTS))


def test_at_the_models_own_limit_a_huge_text_reports_8192_tokens(server):
    """bge-m3's 8192 tokens (the server's default limit), a 10 MB text judged by its bounded prefix: where
    another server would cap silently, the answer says so."""
    huge = "word " * 2_000_000
    embedded = httpx.post(server.url + "/v1/embeddings", json={"input": ["short", huge]}, timeout=120)
    assert embedded.headers[HEADER] == "1=8192" and embedded.json()["truncated"] == [{"index": 1, "tokens": 8192}]
    ranked = httpx.post(server.url + "/rerank", json={"query": "q", "texts": ["a", huge]}, timeout=120)
    assert ranked.headers[HEADER] == "1=8192"
    fits = httpx.post(server.url + "/v1/embeddings", json={"input": "word " * 3000}, timeout=120)
    assert fits.json()["usage"]["prompt_tokens"] < 8192 and HEADER not in fits.headers


def _hybrid_cuts(hf, query: str, documents: list[str]) -> list[tuple[int, int]]:
    """The hybrid scores each document with its query: a pair is cut when either text was, and keeps the query's
    tokens plus the document's (both at the server's limit, special tokens included)."""
    query_cut = cut_texts(hf, [query])
    query_kept = query_cut[0][1] if query_cut else len(hf(query)["input_ids"])
    doc_cut = dict(cut_texts(hf, documents))
    return [(i, query_kept + (doc_cut[i] if i in doc_cut else len(hf(d)["input_ids"])))
            for i, d in enumerate(documents) if query_cut or i in doc_cut]


@pytest.mark.parametrize("path", ["/v1/rerank", "/api/rerank"])
def test_the_hybrid_reports_the_documents_it_cut(short_server, hf, path):
    body = {"model": "bge-m3-hybrid", "query": QUERY, "documents": TEXTS, "top_n": 1}
    check(short_server.post(path, json=body), _hybrid_cuts(hf, QUERY, TEXTS), field=True)


def test_the_hybrid_reports_a_long_query_for_every_document(short_server, hf):
    body = {"model": "bge-m3-hybrid", "query": LONG[0], "texts": SHORT}
    check(short_server.post("/rerank", json=body), _hybrid_cuts(hf, LONG[0], SHORT), field=False)


def test_the_hybrid_score_route_reports_the_pairs_it_cut(short_server, hf):
    body = {"model": "bge-m3-hybrid", "text_1": QUERY, "text_2": TEXTS}
    check(short_server.post("/score", json=body), _hybrid_cuts(hf, QUERY, TEXTS), field=True)


def test_a_cascade_reports_the_cross_encoders_cuts_of_its_shortlist(short_server, hf):
    """Every document is shortlisted (k = 4), so every reported cut is the cross-encoder's pair, by document."""
    body = {"model": "bge-m3-hybrid", "query": QUERY, "documents": TEXTS, "cascade_k": len(TEXTS)}
    check(short_server.post("/v1/rerank", json=body), cut_pairs(hf, QUERY, TEXTS), field=True)
