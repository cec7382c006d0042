"""tiktoken's cl100k_base file, for the clients (LangChain) that send token ids.

No test may reach the internet, and tiktoken downloads this file from Azure on first use. The exact
file (tiktoken verifies its SHA-256) ships inside the ``litellm`` wheel on PyPI, so we take it from
there once, through pip, into a cache directory that the tests point ``TIKTOKEN_CACHE_DIR`` at.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

LITELLM = "litellm==1.109.1"
CACHE_NAME = "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"  # sha1 of tiktoken's cl100k_base URL
MEMBER = f"litellm/litellm_core_utils/tokenizers/{CACHE_NAME}"


def ensure_cl100k(cache_dir: Path) -> Path:
    target = cache_dir / CACHE_NAME
    if target.is_file():
        return cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", LITELLM, "-d", tmp],
                       check=True)
        wheel = next(Path(tmp).glob("litellm-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            target.write_bytes(zf.read(MEMBER))
    return cache_dir
