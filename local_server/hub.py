"""Which files of a model repository inference needs, and fetching them: shared by ``serve`` and ``download``.

Only what inference needs is fetched: the config, the tokenizer files, one copy of the weights
(``model.safetensors`` when the repository has it, else ``pytorch_model.bin``), bge-m3's
``colbert_linear.pt`` and ``sparse_linear.pt``, and a few small metadata files. BAAI/bge-m3 also carries
an ONNX export (``onnx/``, another 2.3 GB) and images (``imgs/``) that nothing here loads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from fnmatch import fnmatchcase

log = logging.getLogger("bge_local.hub")

HF_DEFAULT_ENDPOINT = "https://huggingface.co"

# Small files a model directory needs (or that cost nothing and let other tools load the same directory).
SMALL_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
    "added_tokens.json",
    "colbert_linear.pt",
    "sparse_linear.pt",
    "modules.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "README.md",
    "LICENSE",
)
SAFETENSORS_WEIGHTS = ("model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json")
PYTORCH_WEIGHTS = ("pytorch_model.bin", "pytorch_model-*-of-*.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "sentencepiece.bpe.model")


def matches_any(path: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(path, pattern) for pattern in patterns)


def select_files(repo_files: Iterable[str]) -> list[str]:
    """The files of a repository that inference needs, from its full listing.

    One copy of the weights: safetensors when present (faster, safe to load), else the pickled .bin.
    Everything else (onnx/, imgs/, *.onnx, .gitattributes, other frameworks' weights) is skipped.
    """
    files = set(repo_files)
    chosen = {f for f in files if f in SMALL_FILES}
    weights = {f for f in files if matches_any(f, SAFETENSORS_WEIGHTS)}
    if not weights:
        weights = {f for f in files if matches_any(f, PYTORCH_WEIGHTS)}
    return sorted(chosen | weights)


def fallback_patterns() -> list[str]:
    """Patterns for when a repository cannot be listed first (both weight formats may then come)."""
    return [*SMALL_FILES, *SAFETENSORS_WEIGHTS, *PYTORCH_WEIGHTS]




class HubError(Exception):
    """A model that cannot be fetched; the message says what to do."""


def fetch(repo_id: str, cache_dir: str | None) -> str:
    """Fetch what inference needs of ``repo_id`` into huggingface_hub's cache and return the directory.

    huggingface_hub honours ``HF_ENDPOINT`` (mirrors such as https://hf-mirror.com) and ``HF_HUB_OFFLINE``
    (then only its cache is used, with the fallback patterns since the repository cannot be listed).
    """
    from huggingface_hub import constants, list_repo_files, snapshot_download

    endpoint = os.environ.get("HF_ENDPOINT", HF_DEFAULT_ENDPOINT)
    log.info("fetching %s from %s (set HF_ENDPOINT for a mirror, or use `bge-local download`)", repo_id, endpoint)
    try:
        patterns = fallback_patterns() if constants.HF_HUB_OFFLINE else select_files(list_repo_files(repo_id))
        return snapshot_download(repo_id=repo_id, cache_dir=cache_dir, allow_patterns=patterns)
    except Exception as exc:
        raise HubError(
            f"could not fetch {repo_id} from {endpoint} ({type(exc).__name__}: {exc}). Where huggingface.co "
            "is out of reach set HF_ENDPOINT=https://hf-mirror.com, or fetch the models with `bge-local download` "
            "(Hugging Face or ModelScope) and pass their directories"
        ) from exc
