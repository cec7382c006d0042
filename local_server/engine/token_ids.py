"""Token-id inputs: LangChain's OpenAIEmbeddings sends texts pre-tokenized with tiktoken's cl100k_base.

We decode them back to text (bge-m3 has its own tokenizer) when the cl100k_base file is on this machine.
tiktoken would otherwise try to download it on first use, which hangs on offline servers, so we look
for its cache file first and answer a 400 that says what to change when it is not there.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

from local_server.engine.errors import InvalidInput

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def cl100k_cache_file() -> Path:
    """Where tiktoken keeps (and looks for) its cached copy of cl100k_base."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return Path(cache_dir) / hashlib.sha1(CL100K_URL.encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def decode_token_arrays(arrays: list[list[int]]) -> list[str]:
    if not cl100k_cache_file().is_file():
        raise InvalidInput(
            "input was sent as token ids (tiktoken cl100k_base), which this server cannot decode: the "
            "cl100k_base file is not available here. Send text instead — in LangChain use "
            "OpenAIEmbeddings(..., check_embedding_ctx_length=False) — or place cl100k_base.tiktoken in "
            f"TIKTOKEN_CACHE_DIR on the server (expected at {cl100k_cache_file()}).",
            code="token_ids_unsupported",
        )
    encoding = _encoding()
    try:
        return [encoding.decode(ids) for ids in arrays]
    except Exception as exc:  # ids outside the vocabulary
        raise InvalidInput(f"input token ids are not valid cl100k_base tokens: {exc}") from exc
