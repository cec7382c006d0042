"""The server's configuration: the one home of every default, its help text and what it accepts.

Each setting is a command-line option of ``bge-local serve`` and an environment variable
``BGE_LOCAL_<NAME>`` (the option wins). ``Settings`` is a pydantic model, so every value is checked when it is
built, by tests and by the CLI alike; ``add_serve_arguments`` and ``settings_from_args`` are the only bridge
from argv/env, and turn a bad value into a ``SettingsError`` that names the option and what it accepts.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from typing import Any, Literal, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_EMBEDDING_MODEL = "BAAI/bge-m3"
DEFAULT_RERANKER_MODEL = "BAAI/bge-reranker-v2-m3"
OFF_VALUES = {"", "none", "off", "false", "0", "disabled"}
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|\d+")
Precision = Literal["auto", "fp32", "bf16", "int8"]
_PRECISION_ALIASES = {"float32": "fp32", "bfloat16": "bf16"}


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    embedding_model: str | None = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="Hugging Face id or local directory of the embedding model; 'none' to serve no embedder")
    reranker_model: str | None = Field(
        DEFAULT_RERANKER_MODEL,
        description="Hugging Face id or local directory of the reranker; 'none' to serve no reranker")
    host: str = Field("0.0.0.0", min_length=1, description="interface to bind")
    port: int = Field(8000, ge=1, le=65535, description="port to listen on")
    device: str | None = Field(
        None, description="cuda, cuda:0, cuda:0,cuda:1 (one replica per GPU) or cpu; default: the GPU when there "
                          "is one")
    dtype: Literal["auto", "fp16", "float16", "bf16", "bfloat16", "fp32", "float32"] = Field(
        "auto", description="on a GPU: auto (fp16), fp16, bf16 or fp32 (on the CPU --precision governs)")
    precision: Precision = Field(
        "auto", description="on the CPU: auto (bf16 where the CPU computes it natively and a start-up probe finds "
                            "it faster, else fp32), fp32, bf16 or int8 (linear layers quantized; opt-in: check it "
                            "with `bge-local check-precision`); on a GPU only fp32/bf16 override --dtype")
    embedding_precision: Precision | None = Field(
        None, description="the embedding model's precision, overriding --precision (same choices)")
    reranker_precision: Precision | None = Field(
        None, description="the reranker's precision, overriding --precision (same choices)")
    api_keys: list[str] = Field(
        default_factory=list,
        description="API key clients must send as 'Authorization: Bearer KEY' (repeatable; comma-separated in env)")
    max_length: int = Field(
        8192, ge=2,
        description="maximum tokens per input (per query+document pair for rerank); longer inputs are truncated")
    embedding_names: list[str] = Field(default_factory=list,
                                       description="extra model name the embedder answers to (repeatable)")
    reranker_names: list[str] = Field(default_factory=list,
                                      description="extra model name the reranker answers to (repeatable)")
    # bge-m3's hybrid score as a reranker (engine/hybrid.py), served whenever the embedder is
    hybrid_names: list[str] = Field(
        default_factory=lambda: ["bge-m3-hybrid"], min_length=1,
        description="model name that reranks with bge-m3's own hybrid score (dense + sparse + ColBERT) on the "
                    "rerank routes (repeatable; the embedder's names do too)")
    hybrid_weights: list[float] = Field(
        default_factory=lambda: [0.4, 0.2, 0.4],
        description="weights of the hybrid score's dense, sparse and ColBERT parts: three numbers >= 0, not all 0 "
                    "(e.g. 0.4,0.2,0.4); the score is their weighted sum divided by the weights' sum")
    hybrid_query_max_length: int = Field(
        512, ge=2, description="tokens the hybrid score keeps of a query (FlagEmbedding's max_query_length)")
    hybrid_passage_max_length: int = Field(
        512, ge=2, description="tokens the hybrid score keeps of a document (FlagEmbedding's max_passage_length)")
    strict_model_names: bool = Field(
        False, description="refuse unknown model names with 404 instead of serving the route's only model")
    allow_dimension_truncation: bool = Field(
        False, description="accept 'dimensions' below the model width: truncate and re-normalise")
    # batching
    max_batch_tokens: int = Field(16384, ge=1, description="padded tokens per forward pass (the batch token budget)")
    max_batch_size: int = Field(128, ge=1, description="inputs per forward pass")
    batch_wait_ms: float = Field(2.0, ge=0, description="how long a batch waits for company before it runs")
    max_padding: float = Field(
        -1.0, description="largest share of a batch's computed tokens that may be padding (0..1); -1 (default): "
                          "no cap (batches are packed: padding is never computed)")
    max_queue_inputs: int = Field(20000, ge=1, description="inputs waiting in the queue before new requests get 429")
    # request limits
    max_client_batch_size: int = Field(4096, ge=1, description="inputs one request may carry (413 above)")
    max_rerank_documents: int = Field(4096, ge=1, description="documents one rerank request may carry (413 above)")
    max_request_bytes: int = Field(64 * 1024 * 1024, ge=1, description="largest request body in bytes (413 above)")
    max_tokenize_tokens: int = Field(
        262144, ge=1, description="most tokens one /tokenize answer may hold, all inputs together (413 above); each "
                                  "input is cut at the model's max length unless it asks for truncate: false")
    # connections (docs/security.md)
    max_header_bytes: int = Field(32768, ge=1024, description="largest request line + headers in bytes (431 above)")
    max_headers: int = Field(100, ge=8, description="most header lines one request may send (431 above)")
    header_timeout_s: float = Field(
        10.0, gt=0, description="seconds a client has to send a request's line and headers once it starts (or "
                                "once it connects) before 408 and close")
    body_timeout_s: float = Field(
        120.0, gt=0, description="seconds a client has to send a request's whole body after its headers before 408 "
                                 "and close")
    keep_alive_s: float = Field(5.0, gt=0, description="seconds an idle kept-alive connection stays open")
    max_connections: int = Field(
        1000, ge=1, description="open connections beyond which new ones get 503 JSON and are closed")
    # exposure
    docs_enabled: bool = Field(True, description="serve OpenAPI docs at /docs")
    metrics_enabled: bool = Field(True, description="serve Prometheus metrics at /metrics")
    public_metrics: bool = Field(
        False, description="serve /metrics without the API key (by default it needs the key when one is set)")
    ui_enabled: bool = Field(
        True, description="serve the web console at /ui (status, try-it, what to paste into Dify and RAGFlow)")
    cors_origins: list[str] = Field(
        default_factory=list, description="allowed CORS origin (repeatable); CORS is off when none is given")
    cache_dir: str | None = Field(None, description="directory for models downloaded from a hub")
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info", description="debug, info, warning, error or critical")
    log_format: Literal["text", "json"] = Field("text", description="text, or json for one JSON object per line")
    drain_timeout_s: int = Field(
        60, ge=0, description="on SIGTERM, how long accepted requests may take to finish before the process exits")

    @field_validator("embedding_model", "reranker_model", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in OFF_VALUES:
            return None
        return value

    @field_validator("precision", "embedding_precision", "reranker_precision", mode="before")
    @classmethod
    def _precision_alias(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            return None if value == "" else _PRECISION_ALIASES.get(value, value)
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = [p.strip() for p in value.split(",")]
        if not all(_DEVICE.fullmatch(p) for p in parts):
            raise ValueError("must be auto, cpu, cuda, cuda:N or N (a GPU index), or a comma-separated list of "
                             "them for one replica per device")
        return value

    @field_validator("max_padding")
    @classmethod
    def _padding_share(cls, value: float) -> float:
        if value != -1 and not 0 <= value <= 1:
            raise ValueError("must be a share between 0 and 1, or -1 for the device's default")
        return value

    @field_validator("hybrid_weights")
    @classmethod
    def _hybrid_weights(cls, value: list[float]) -> list[float]:
        if len(value) != 3:
            raise ValueError(f"must be three weights (dense, sparse, colbert), not {len(value)}")
        if any(not math.isfinite(w) or w < 0 for w in value) or sum(value) <= 0:
            raise ValueError("must be finite numbers >= 0, not all zero")
        return value

    @field_validator("api_keys", "embedding_names", "reranker_names", "hybrid_names", "cors_origins")
    @classmethod
    def _no_blank_items(cls, value: list[str]) -> list[str]:
        if any(not item.strip() for item in value):
            raise ValueError("must not contain an empty value")
        return value

    @model_validator(mode="after")
    def _serves_something(self) -> Settings:
        if not self.embedding_model and not self.reranker_model:
            raise ValueError("both models are turned off (--embedding-model and --reranker-model): serve at "
                             "least one of them")
        return self


class SettingsError(ValueError):
    """Settings that cannot be served; the message names each wrong option and what it accepts."""


_OPTION_NAMES = {"api_keys": "api-key", "embedding_names": "served-name", "reranker_names": "reranker-served-name",
                 "cors_origins": "cors-origin"}


def option_name(name: str) -> str:
    """``--max-length`` for the setting ``max_length``."""
    return "--" + _OPTION_NAMES.get(name, name).replace("_", "-")


def env_name(name: str) -> str:
    """``BGE_LOCAL_MAX_LENGTH`` for the setting ``max_length``."""
    return "BGE_LOCAL_" + _OPTION_NAMES.get(name, name).upper().replace("-", "_")


def _is_list(name: str) -> bool:
    return get_origin(Settings.model_fields[name].annotation) is list


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one option per setting; values are left as given (strings) for ``Settings`` to check."""
    for name, info in Settings.model_fields.items():
        help_text = f"{info.description or ''} [env {env_name(name)}]"
        if info.annotation is bool:
            parser.add_argument(option_name(name), dest=name, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        elif _is_list(name):
            parser.add_argument(option_name(name), dest=name, action="append", default=None, help=help_text)
        else:
            parser.add_argument(option_name(name), dest=name, default=None, help=help_text)


def settings_from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    """Settings from the command line, then ``BGE_LOCAL_*`` variables, then the defaults; ``SettingsError``
    when a value or a combination is wrong."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in Settings.model_fields:
        raw = getattr(args, name, None)
        source = option_name(name)
        if raw is None:
            if env_name(name) not in environ:
                continue
            raw, source = environ[env_name(name)], env_name(name)
            if _is_list(name):
                raw = [raw]
        if _is_list(name):
            raw = [v.strip() for item in raw for v in str(item).split(",") if v.strip()]
        values[name], sources[name] = raw, source
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError(_explain(exc, values, sources)) from None


# What pydantic's message leaves unsaid, by error type.
_ACCEPTS = {"bool_parsing": " (true/false, yes/no, on/off or 1/0)", "int_parsing": " (a whole number)",
            "float_parsing": " (a number)"}


def _explain(exc: ValidationError, values: dict[str, Any], sources: dict[str, str]) -> str:
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ") + _ACCEPTS.get(error["type"], "")
        if name in Settings.model_fields:
            given = values.get(name)
            where = sources.get(name, option_name(name))
            also = f" (env {env_name(name)})" if where == option_name(name) else f" (option {option_name(name)})"
            lines.append(f"{where}{also}: {message}; got {given!r}")
        else:
            lines.append(message)
    return "invalid settings:\n  " + "\n  ".join(lines)
