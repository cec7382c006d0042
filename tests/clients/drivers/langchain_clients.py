"""LangChain: langchain-community (Ollama and Infinity embeddings), langchain-cohere (embeddings, rerank);
langchain-openai is driven in tests/server/test_clients.py.

Not drivable today, whatever the server does: langchain-huggingface's HuggingFaceEndpointEmbeddings refuses a URL
from 1.2 ("must be a HuggingFace repo ID"); langchain-community's HuggingFaceHubEmbeddings calls
``InferenceClient.post``, gone from huggingface_hub 1.0; its LocalAIEmbeddings needs openai < 1 (``openai.error``).
TEI's root, which they would call, is driven through huggingface_hub and Haystack."""

from __future__ import annotations

from _common import DOCS, KEY, QUERY, TEXTS, floats, run


def community_ollama(url: str) -> dict:
    from langchain_community.embeddings import OllamaEmbeddings

    emb = OllamaEmbeddings(base_url=url, model="bge-m3")
    return {"vectors": floats(emb.embed_documents(TEXTS)), "query": floats([emb.embed_query(TEXTS[0])])}


def community_infinity(url: str) -> dict:
    from langchain_community.embeddings import InfinityEmbeddings

    emb = InfinityEmbeddings(model="bge-m3", infinity_api_url=url)
    return {"vectors": floats(emb.embed_documents(TEXTS)), "query": floats([emb.embed_query(TEXTS[0])])}


def cohere_embeddings(url: str) -> dict:
    from langchain_cohere import CohereEmbeddings

    emb = CohereEmbeddings(base_url=url, cohere_api_key=KEY, model="bge-m3")
    return {"vectors": floats(emb.embed_documents(TEXTS)), "query": floats([emb.embed_query(TEXTS[0])])}


def cohere_rerank(url: str) -> dict:
    from langchain_cohere import CohereRerank

    ranked = CohereRerank(base_url=url, cohere_api_key=KEY, model="bge-reranker-v2-m3", top_n=3).rerank(DOCS, QUERY)
    return {"ranking": [[r["index"], r["relevance_score"]] for r in ranked]}


def cohere_rerank_compressor(url: str) -> dict:
    from langchain_cohere import CohereRerank
    from langchain_core.documents import Document

    docs = [Document(page_content=d, metadata={"i": i}) for i, d in enumerate(DOCS)]
    kept = CohereRerank(base_url=url, cohere_api_key=KEY, model="bge-reranker-v2-m3", top_n=2).compress_documents(
        docs, QUERY)
    return {"ranking": [[d.metadata["i"], d.metadata["relevance_score"]] for d in kept]}


if __name__ == "__main__":
    run({name: fn for name, fn in globals().items() if callable(fn) and fn.__module__ == "__main__"
         and name not in {"run", "floats"}})
