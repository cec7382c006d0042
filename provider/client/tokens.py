"""A local token estimate for XLM-R style tokenizers, for servers without /tokenize. It downloads nothing (the
SDK's own fallback fetches a GPT-2 vocabulary, which fails on air-gapped Dify installs)."""

from __future__ import annotations

import math
import re

_CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_PIECES = re.compile(r"[^\W\d_]+|\d+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """CJK characters count one token each; a word one token per ~6 letters; digits one per 3; punctuation one
    each; plus the two special tokens."""
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text)
    n = 0
    for piece in _PIECES.findall(rest):
        if piece.isdigit():
            n += math.ceil(len(piece) / 3)
        elif piece[0].isalpha():
            n += max(1, math.ceil(len(piece) / 6))
        else:
            n += 1
    return cjk + n + 2
