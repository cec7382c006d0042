"""The server's configuration: the one home of every default.

Each setting is a command-line option of ``bge-local serve`` and an environment variable
``BGE_LOCAL_<NAME>`` (the option wins). ``Settings`` is a plain dataclass so tests and the CLI build
it directly; ``add_serve_arguments`` and ``settings_from_args`` are the only bridge from argv/env.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields

DEFAULT_EMBEDDING_MODEL = "BAAI/bge-m3"
DEFAULT_RERANKER_MODEL = "BAAI/bge-reranker-v2-m3"
OFF_VALUES = {"", "none", "off", "false", "0", "disabled"}


@dataclass
class Settings:
    embedding_model: str | None = DEFAULT_EMBEDDING_MODEL
    reranker_model: str | None = DEFAULT_RERANKER_MODEL
    host: str = "0.0.0.0"
    port: int = 8000
    device: str | None = None  # None: every visible GPU's first device, else CPU
    dtype: str = "auto"  # auto (fp16 on GPU, fp32 on CPU) | fp16 | bf16 | fp32
    api_keys: list[str] = field(default_factory=list)
    max_length: int = 8192
    embedding_names: list[str] = field(default_factory=list)  # extra served aliases
    reranker_names: list[str] = field(default_factory=list)
    strict_model_names: bool = False
    allow_dimension_truncation: bool = False
    # batching
    max_batch_tokens: int = 16384  # padded tokens per forward pass
    max_batch_size: int = 128  # inputs per forward pass
    batch_wait_ms: float = 2.0
    max_padding: float = -1.0  # share of a batch that may be padding; -1: 0.1 on CPU, no cap on GPU
    max_queue_inputs: int = 20000  # queued inputs before 429
    # request limits
    max_client_batch_size: int = 4096  # inputs per request
    max_rerank_documents: int = 4096
    max_request_bytes: int = 64 * 1024 * 1024
    # exposure
    docs_enabled: bool = True
    metrics_enabled: bool = True
    cors_origins: list[str] = field(default_factory=list)
    cache_dir: str | None = None  # where hub downloads go (default: huggingface_hub's cache)
    log_level: str = "info"
    log_format: str = "text"  # text | json
    drain_timeout_s: int = 60

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys)


_HELP: dict[str, str] = {
    "embedding_model": "Hugging Face id or local directory of the embedding model; 'none' to serve no embedder",
    "reranker_model": "Hugging Face id or local directory of the reranker; 'none' to serve no reranker",
    "host": "interface to bind",
    "port": "port to listen on",
    "device": "cuda, cuda:0, cuda:0,cuda:1 (one replica per GPU) or cpu; default: the GPU when there is one",
    "dtype": "auto (fp16 on GPU, fp32 on CPU), fp16, bf16 or fp32",
    "api_keys": "API key clients must send as 'Authorization: Bearer KEY' (repeatable; comma-separated in env)",
    "max_length": "maximum tokens per input (per query+document pair for rerank); longer inputs are truncated",
    "embedding_names": "extra model name the embedder answers to (repeatable)",
    "reranker_names": "extra model name the reranker answers to (repeatable)",
    "strict_model_names": "refuse unknown model names with 404 instead of serving the route's only model",
    "allow_dimension_truncation": "accept 'dimensions' below the model width: truncate and re-normalise",
    "max_batch_tokens": "padded tokens per forward pass (the batch token budget)",
    "max_batch_size": "inputs per forward pass",
    "batch_wait_ms": "how long a batch waits for company before it runs",
    "max_padding": "largest share of a batch's computed tokens that may be padding (0..1); default 0.1 on CPU, "
                   "no cap on GPU",
    "max_queue_inputs": "inputs waiting in the queue before new requests get 429",
    "max_client_batch_size": "inputs one request may carry (413 above)",
    "max_rerank_documents": "documents one rerank request may carry (413 above)",
    "max_request_bytes": "largest request body in bytes (413 above)",
    "docs_enabled": "serve OpenAPI docs at /docs",
    "metrics_enabled": "serve Prometheus metrics at /metrics",
    "cors_origins": "allowed CORS origin (repeatable); CORS is off when none is given",
    "cache_dir": "directory for models downloaded from a hub",
    "log_level": "debug, info, warning or error",
    "log_format": "text, or json for one JSON object per line",
    "drain_timeout_s": "on SIGTERM, how long accepted requests may take to finish before the process exits",
}

_OPTION_NAMES = {"api_keys": "api-key", "embedding_names": "served-name", "reranker_names": "reranker-served-name",
                 "cors_origins": "cors-origin"}


def _env_name(name: str) -> str:
    return "BGE_LOCAL_" + (_OPTION_NAMES.get(name, name)).upper().replace("-", "_")


def _parse_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one option per setting; defaults come from the environment, then from ``Settings``."""
    defaults = Settings()
    for f in fields(Settings):
        option = "--" + _OPTION_NAMES.get(f.name, f.name).replace("_", "-")
        env = _env_name(f.name)
        help_text = f"{_HELP.get(f.name, '')} [env {env}]"
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            parser.add_argument(option, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        elif isinstance(default, list):
            parser.add_argument(option, dest=f.name, action="append", default=None, help=help_text)
        else:
            parser.add_argument(option, dest=f.name, default=None, help=help_text)


def settings_from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    defaults = Settings()
    values = {}
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        raw = getattr(args, f.name, None)
        if raw is None:
            env_value = environ.get(_env_name(f.name))
            if env_value is None:
                values[f.name] = default
                continue
            raw = [v for v in env_value.split(",") if v.strip()] if isinstance(default, list) else env_value
        if isinstance(default, bool):
            values[f.name] = raw if isinstance(raw, bool) else _parse_bool(str(raw))
        elif isinstance(default, list):
            values[f.name] = [v.strip() for item in raw for v in str(item).split(",") if v.strip()]
        elif isinstance(default, int):
            values[f.name] = int(raw)
        elif isinstance(default, float):
            values[f.name] = float(raw)
        else:
            values[f.name] = raw
    for name in ("embedding_model", "reranker_model"):
        if values[name] is not None and str(values[name]).strip().lower() in OFF_VALUES:
            values[name] = None
    settings = Settings(**values)
    if not settings.embedding_model and not settings.reranker_model:
        raise SystemExit("error: both models are turned off; serve at least one of them")
    return settings
