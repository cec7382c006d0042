"""LiteLLM: ``litellm.embedding`` and ``litellm.rerank`` with an ``api_base``, one provider prefix each."""

from __future__ import annotations

from _common import DOCS, KEY, QUERY, TEXTS, floats, run


def _embedding(model: str, api_base: str) -> dict:
    import litellm

    out = litellm.embedding(model=model, input=TEXTS, api_base=api_base, api_key=KEY)
    return {"vectors": floats([d["embedding"] for d in out.data])}


def _rerank(model: str, api_base: str, top_n: int = 3) -> dict:
    import litellm

    out = litellm.rerank(model=model, query=QUERY, documents=DOCS, top_n=top_n, api_base=api_base, api_key=KEY)
    return {"ranking": [[r["index"], r["relevance_score"]] for r in out.results]}


SCENARIOS = {
    "embedding_openai": lambda url: _embedding("openai/bge-m3", url + "/v1"),
    "embedding_hosted_vllm": lambda url: _embedding("hosted_vllm/bge-m3", url + "/v1"),
    "embedding_infinity": lambda url: _embedding("infinity/bge-m3", url),
    "embedding_ollama": lambda url: _embedding("ollama/bge-m3", url),
    "embedding_cohere": lambda url: _embedding("cohere/bge-m3", url),
    "rerank_cohere": lambda url: _rerank("cohere/bge-reranker-v2-m3", url),
    "rerank_jina": lambda url: _rerank("jina_ai/bge-reranker-v2-m3", url),
    "rerank_hosted_vllm": lambda url: _rerank("hosted_vllm/bge-reranker-v2-m3", url),
    "rerank_huggingface_tei": lambda url: _rerank("huggingface/bge-reranker-v2-m3", url),
}

if __name__ == "__main__":
    run(SCENARIOS)
