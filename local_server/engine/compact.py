"""ColBERT multi-vector scoring: MaxSim, the late-interaction score bge-m3's ColBERT output is made for.

FlagEmbedding's ``colbert_score``: for each query token vector, its best dot product with any document token
vector, averaged over the query's tokens. The rows are L2-normalised, so each dot product is a cosine.
"""

from __future__ import annotations

import numpy as np


def maxsim(query: np.ndarray, document: np.ndarray) -> float:
    """Mean over the query's rows of the row's largest dot product with the document's rows; 0.0 when either
    side has no rows (an empty text keeps no ColBERT vector)."""
    if len(query) == 0 or len(document) == 0:
        return 0.0
    scores = np.asarray(query, dtype=np.float32) @ np.asarray(document, dtype=np.float32).T
    return float(scores.max(axis=1).sum() / len(query))
