"""Text embeddings through the plugin's client (provider/client/): bge-m3 or any compatible model."""

import time
from collections.abc import Mapping

from dify_plugin import TextEmbeddingModel
from dify_plugin.entities.model import (
    AIModelEntity,
    EmbeddingInputType,
    ModelType,
    PriceType,
)
from dify_plugin.entities.model.text_embedding import EmbeddingUsage, TextEmbeddingResult

from provider.client import BgeClient
from provider.client.dify import customizable_model_entity, validate_model
from provider.client.errors import DifyErrorsMixin
from provider.endpoints import EMBEDDINGS


class BgeLocalTextEmbeddingModel(DifyErrorsMixin, TextEmbeddingModel):
    def _invoke(
        self,
        model: str,
        credentials: dict,
        texts: list[str],
        user: str | None = None,
        input_type: EmbeddingInputType = EmbeddingInputType.DOCUMENT,
    ) -> TextEmbeddingResult:
        # input_type (query or document; Dify sends it, the SDK passes it on since 0.10) changes nothing for
        # bge-m3, which embeds queries and documents alike, and the OpenAI/TEI wire formats have no such field.
        client = BgeClient.for_model(model, credentials, EMBEDDINGS)
        vectors, tokens = client.embed(texts, self._get_max_chunks(model, credentials))
        return TextEmbeddingResult(model=model, embeddings=vectors, usage=self._usage(model, credentials, tokens))

    def get_num_tokens(self, model: str, credentials: dict, texts: list[str]) -> list[int]:
        return BgeClient.for_model(model, credentials, EMBEDDINGS).count_tokens(texts)

    def validate_credentials(self, model: str, credentials: Mapping) -> None:
        validate_model(model, credentials, EMBEDDINGS)

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        return customizable_model_entity(model, credentials, ModelType.TEXT_EMBEDDING)

    def _usage(self, model: str, credentials: dict, tokens: int) -> EmbeddingUsage:
        price = self.get_price(model, credentials, PriceType.INPUT, tokens)
        return EmbeddingUsage(
            tokens=tokens,
            total_tokens=tokens,
            unit_price=price.unit_price,
            price_unit=price.unit,
            total_price=price.total_amount,
            currency=price.currency,
            latency=time.perf_counter() - self.started_at,
        )
