"""Glue between the SDK's model classes and the client: a customizable model's schema, and validation that a
Dify user can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelPropertyKey, ModelType
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeError

from provider import endpoints as ep
from provider.client import BgeClient
from provider.client.config import DEFAULT_BATCH, DEFAULT_CONTEXT, int_setting
from provider.client.kinds import NO_SUCH_MODEL, NOT_FOUND, WRONG_TYPE, error_kind


def customizable_model_entity(model: str, credentials: Mapping[str, Any], model_type: ModelType) -> AIModelEntity:
    """The schema Dify shows for a model the user added by hand (context size and batch size from its form)."""
    return AIModelEntity(
        model=model,
        label=I18nObject(en_US=model),
        model_type=model_type,
        fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
        model_properties={
            ModelPropertyKey.CONTEXT_SIZE: int_setting(credentials, "context_size", DEFAULT_CONTEXT, "Context size"),
            ModelPropertyKey.MAX_CHUNKS: int_setting(credentials, "max_chunks", DEFAULT_BATCH, "Batch size"),
        },
        parameter_rules=[],
    )


def validate_model(model: str, credentials: Mapping[str, Any], task: str) -> None:
    """Raise CredentialsValidateFailedError with a message a Dify user can act on."""
    try:
        BgeClient.for_model(model, credentials, task).check()
    except InvokeError as e:
        raise CredentialsValidateFailedError(str(e)) from None


def validate_provider(credentials: Mapping[str, Any], embedding_model: str, rerank_model: str) -> None:
    """Provider-level check: embeddings on the server URL (and the reranker, where it has its own URL).

    A server that serves only a reranker is accepted when the rerank call works.
    """
    try:
        BgeClient.for_model(embedding_model, credentials, ep.EMBEDDINGS).check()
    except InvokeError as e:
        if error_kind(e) not in (NOT_FOUND, WRONG_TYPE, NO_SUCH_MODEL):
            raise CredentialsValidateFailedError(str(e)) from None
        try:
            BgeClient.for_model(rerank_model, credentials, ep.RERANK).check()
        except InvokeError:
            raise CredentialsValidateFailedError(str(e)) from None
        return
    if str(credentials.get("rerank_server_url") or "").strip():
        try:
            BgeClient.for_model(rerank_model, credentials, ep.RERANK).check()
        except InvokeError as e:
            raise CredentialsValidateFailedError(f"Rerank server URL: {e}") from None
