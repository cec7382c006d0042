"""Rerank through the plugin's client (provider/client.py): bge-reranker-v2-m3 or any compatible reranker."""

from collections.abc import Mapping

from dify_plugin import RerankModel
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelPropertyKey, ModelType
from dify_plugin.entities.model.rerank import RerankDocument, RerankResult

from provider.client import DEFAULT_BATCH, BgeClient, DifyErrorsMixin, int_setting, validate_model
from provider.endpoints import RERANK

DEFAULT_CONTEXT = 8192


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
        return AIModelEntity(
            model=model,
            label=I18nObject(en_US=model),
            model_type=ModelType.RERANK,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={
                ModelPropertyKey.CONTEXT_SIZE: int_setting(
                    credentials, "context_size", DEFAULT_CONTEXT, "Context size"
                ),
                ModelPropertyKey.MAX_CHUNKS: int_setting(credentials, "max_chunks", DEFAULT_BATCH, "Batch size"),
            },
            parameter_rules=[],
        )
