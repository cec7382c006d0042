"""Random texts for tokenizer tests: words that exercise the tricky cases (CJK, a literal "<s>", accents, emoji,
whitespace runs), and the two texts that have no tokens at all."""

from __future__ import annotations

import random

WORDS = ["retrieval", "人工智能", "<s>", "naïve", "😀", "x", "  ", "\n", "Übersetzung", "capital"]


def random_texts(seed: int, count: int, most_words: int) -> list[str]:
    rng = random.Random(seed)
    return ["", " "] + [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, most_words))) for _ in range(count)]
