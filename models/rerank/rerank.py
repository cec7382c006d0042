"""Rerank through the plugin's client (provider/client/): bge-reranker-v2-m3 or any compatible reranker."""

from collections.abc import Mapping

from dify_plugin import RerankModel
from dify_plugin.entities.model import AIModelEntity, ModelType
from dify_plugin.entities.model.rerank import RerankDocument, RerankResult

from provider.client import BgeClient
from provider.client.dify import customizable_model_entity, validate_model
from provider.client.errors import DifyErrorsMixin
from provider.endpoints import RERANK


class BgeLocalRerankModel(DifyErrorsMixin, RerankModel):
    def _invoke(
        self,
        model: str,
        credentials: dict,
        query: str,
        docs: list[str],
        score_threshold: float | None = None,
        top_n: int | None = None,
        user: str | None = None,
    ) -> RerankResult:
        ranked = BgeClient.for_model(model, credentials, RERANK).rerank(query, docs, top_n)
        return RerankResult(
            model=model,
            docs=[
                RerankDocument(index=i, text=docs[i], score=score)
                for i, score in ranked
                if score_threshold is None or score >= score_threshold
            ],
        )

    def validate_credentials(self, model: str, credentials: Mapping) -> None:
        validate_model(model, credentials, RERANK)

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        return customizable_model_entity(model, credentials, ModelType.RERANK)
