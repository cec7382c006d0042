"""The bge_local model provider: one server URL for the predefined bge-m3 and bge-reranker-v2-m3."""

from dify_plugin import ModelProvider

from provider.client.dify import validate_provider

EMBEDDING_MODEL = "bge-m3"
RERANK_MODEL = "bge-reranker-v2-m3"


class BgeLocalProvider(ModelProvider):
    def validate_provider_credentials(self, credentials: dict) -> None:
        validate_provider(credentials, EMBEDDING_MODEL, RERANK_MODEL)
