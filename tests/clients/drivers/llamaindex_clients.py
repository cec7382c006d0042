"""LlamaIndex: the TEI, OpenAI, Cohere and Ollama embeddings, and the Jina and Cohere rerankers (node
postprocessors). LlamaIndex's JinaEmbedding has no base URL (api.jina.ai only): not drivable against any server."""

from __future__ import annotations

from _common import DOCS, KEY, QUERY, TEXTS, floats, run


def tei(url: str) -> dict:
    from llama_index.embeddings.text_embeddings_inference import TextEmbeddingsInference

    emb = TextEmbeddingsInference(base_url=url, model_name="bge-m3", timeout=60)
    return {"vectors": floats(emb.get_text_embedding_batch(TEXTS)),
            "query": floats([emb.get_query_embedding(TEXTS[0])])}


def openai(url: str) -> dict:
    from llama_index.embeddings.openai import OpenAIEmbedding

    emb = OpenAIEmbedding(model_name="bge-m3", api_base=url + "/v1", api_key=KEY)
    return {"vectors": floats(emb.get_text_embedding_batch(TEXTS)),
            "query": floats([emb.get_query_embedding(TEXTS[0])])}


def cohere(url: str) -> dict:
    from llama_index.embeddings.cohere import CohereEmbedding

    # LlamaIndex accepts only Cohere's model names; the server serves bge-m3 whatever the name
    emb = CohereEmbedding(api_key=KEY, base_url=url, model_name="embed-multilingual-v3.0", input_type="search_document")
    return {"vectors": floats(emb.get_text_embedding_batch(TEXTS))}


def ollama(url: str) -> dict:
    from llama_index.embeddings.ollama import OllamaEmbedding

    emb = OllamaEmbedding(model_name="bge-m3", base_url=url)
    return {"vectors": floats(emb.get_text_embedding_batch(TEXTS)),
            "query": floats([emb.get_query_embedding(TEXTS[0])])}


def _nodes() -> list:
    from llama_index.core.schema import NodeWithScore, TextNode

    return [NodeWithScore(node=TextNode(text=d, id_=str(i))) for i, d in enumerate(DOCS)]


def jina_rerank(url: str) -> dict:
    from llama_index.postprocessor.jinaai_rerank import JinaRerank

    ranked = JinaRerank(base_url=url + "/v1", api_key=KEY, model="bge-reranker-v2-m3", top_n=3).postprocess_nodes(
        _nodes(), query_str=QUERY)
    return {"ranking": [[int(n.node.id_), n.score] for n in ranked],
            "texts": [n.node.get_content() for n in ranked]}


def cohere_rerank(url: str) -> dict:
    from llama_index.postprocessor.cohere_rerank import CohereRerank

    ranked = CohereRerank(base_url=url, api_key=KEY, model="bge-reranker-v2-m3", top_n=2).postprocess_nodes(
        _nodes(), query_str=QUERY)
    return {"ranking": [[int(n.node.id_), n.score] for n in ranked]}


if __name__ == "__main__":
    run({"tei": tei, "openai": openai, "cohere": cohere, "ollama": ollama, "jina_rerank": jina_rerank,
         "cohere_rerank": cohere_rerank})
