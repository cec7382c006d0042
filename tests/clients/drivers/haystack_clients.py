"""Haystack: the Hugging Face API (TEI) text/document embedders, sparse embedder and ranker
(huggingface-api-haystack), and the Jina and Cohere integrations' embedders and rankers."""

from __future__ import annotations

from _common import DOCS, KEY, QUERY, TEXTS, floats, run


def _docs() -> list:
    from haystack import Document

    return [Document(content=d, id=str(i)) for i, d in enumerate(DOCS)]


def tei_text(url: str) -> dict:
    from haystack_integrations.components.embedders.huggingface_api import HuggingFaceAPITextEmbedder

    emb = HuggingFaceAPITextEmbedder(api_type="text_embeddings_inference", api_params={"url": url}, token=None)
    return {"vectors": floats([emb.run(text=TEXTS[0])["embedding"]])}


def tei_text_model_url(url: str) -> dict:
    from haystack_integrations.components.embedders.huggingface_api import HuggingFaceAPITextEmbedder

    emb = HuggingFaceAPITextEmbedder(api_type="text_embeddings_inference", api_params={"url": url + "/models/bge-m3"},
                                     token=None)
    return {"vectors": floats([emb.run(text=TEXTS[0])["embedding"]])}


def tei_documents(url: str) -> dict:
    from haystack import Document
    from haystack_integrations.components.embedders.huggingface_api import HuggingFaceAPIDocumentEmbedder

    emb = HuggingFaceAPIDocumentEmbedder(api_type="text_embeddings_inference", api_params={"url": url}, token=None)
    out = emb.run(documents=[Document(content=t) for t in TEXTS])["documents"]
    return {"vectors": floats([d.embedding for d in out])}


def tei_sparse(url: str) -> dict:
    from haystack_integrations.components.embedders.huggingface_api import HuggingFaceTEISparseTextEmbedder

    sparse = HuggingFaceTEISparseTextEmbedder(api_base_url=url, token=None).run(text=TEXTS[0])["sparse_embedding"]
    return {"sparse": [{"indices": list(sparse.indices), "values": list(sparse.values)}]}


def tei_ranker(url: str) -> dict:
    from haystack_integrations.components.rankers.huggingface_api import HuggingFaceTEIRanker

    ranked = HuggingFaceTEIRanker(url=url, top_k=3, token=None).run(query=QUERY, documents=_docs())["documents"]
    return {"ranking": [[int(d.id), d.score] for d in ranked]}


def jina_text(url: str) -> dict:
    from haystack.utils import Secret
    from haystack_integrations.components.embedders.jina import JinaTextEmbedder

    emb = JinaTextEmbedder(api_key=Secret.from_token(KEY), model="bge-m3", base_url=url + "/v1/embeddings")
    return {"vectors": floats([emb.run(text=TEXTS[0])["embedding"]])}


def jina_ranker(url: str) -> dict:
    from haystack.utils import Secret
    from haystack_integrations.components.rankers.jina import JinaRanker

    ranker = JinaRanker(model="bge-reranker-v2-m3", api_key=Secret.from_token(KEY), top_k=3,
                        base_url=url + "/v1/rerank")
    ranked = ranker.run(query=QUERY, documents=_docs())["documents"]
    return {"ranking": [[int(d.id), d.score] for d in ranked]}


def cohere_text(url: str) -> dict:
    from haystack.utils import Secret
    from haystack_integrations.components.embedders.cohere import CohereTextEmbedder

    emb = CohereTextEmbedder(api_key=Secret.from_token(KEY), model="bge-m3", api_base_url=url)
    return {"vectors": floats([emb.run(text=TEXTS[0])["embedding"]])}


def cohere_ranker(url: str) -> dict:
    from haystack.utils import Secret
    from haystack_integrations.components.rankers.cohere import CohereRanker

    ranker = CohereRanker(model="bge-reranker-v2-m3", top_k=2, api_key=Secret.from_token(KEY), api_base_url=url)
    ranked = ranker.run(query=QUERY, documents=_docs())["documents"]
    return {"ranking": [[int(d.id), d.score] for d in ranked]}


if __name__ == "__main__":
    run({"tei_text": tei_text, "tei_text_model_url": tei_text_model_url, "tei_documents": tei_documents,
         "tei_sparse": tei_sparse, "tei_ranker": tei_ranker, "jina_text": jina_text, "jina_ranker": jina_ranker,
         "cohere_text": cohere_text, "cohere_ranker": cohere_ranker})
