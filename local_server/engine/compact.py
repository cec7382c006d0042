"""ColBERT multi-vector scoring: MaxSim, the late-interaction score bge-m3's ColBERT output is made for.

FlagEmbedding's ``colbert_score``: for each query token vector, its best dot product with any document token
vector, averaged over the query's tokens. The rows are L2-normalised, so each dot product is a cosine.

Also the compact forms a client may ask ColBERT rows in (fp16, int8 with a per-row scale, binary sign bits), their
decoders and a MaxSim for each (docs/formats.md has the measured agreement), and the sparse weights' token-text map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def maxsim(query: np.ndarray, document: np.ndarray) -> float:
    """Mean over the query's rows of the row's largest dot product with the document's rows; 0.0 when either
    side has no rows (an empty text keeps no ColBERT vector)."""
    if len(query) == 0 or len(document) == 0:
        return 0.0
    scores = np.asarray(query, dtype=np.float32) @ np.asarray(document, dtype=np.float32).T
    return float(scores.max(axis=1).sum() / len(query))


# ---- compact ColBERT forms ------------------------------------------------------------------------------------
# What each form stores per token row of width d (bge-m3: d = 1024), and its bytes (little-endian, row-major):
#   float   float32 (n, d)              4d bytes a row   the model's numbers
#   fp16    float16 (n, d)              2d bytes a row   IEEE half precision, round to nearest
#   int8    int8 (n, d) + scale (n,)    d + 4 bytes      x ≈ q · scale, scale = max|x_row| / 127 (symmetric)
#   binary  uint8 (n, ⌈d/8⌉)            d/8 bytes        bit = x > 0; dimension 0 in the most significant bit of
#                                                        byte 0 (numpy's packbits, Vespa's pack_bits); padding 0
COLBERT_FORMATS = ("float", "fp16", "int8", "binary")
_POPCOUNT = np.array([bin(b).count("1") for b in range(256)], dtype=np.uint16)


@dataclass(frozen=True)
class CompactColbert:
    """One text's ColBERT rows in one form: ``data`` as stored, ``scales`` (int8 only) and the float width ``dim``."""

    form: str
    data: np.ndarray
    dim: int
    scales: np.ndarray | None = None


def encode_colbert(rows: np.ndarray, form: str) -> CompactColbert:
    """``rows`` (n, d) float32 in ``form`` (one of ``COLBERT_FORMATS``)."""
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"ColBERT rows are a matrix (tokens, dim), not shape {rows.shape}")
    dim = rows.shape[1]
    if form == "float":
        return CompactColbert(form, rows, dim)
    if form == "fp16":
        return CompactColbert(form, rows.astype(np.float16), dim)
    if form == "int8":
        scales = (np.abs(rows).max(axis=1) / 127.0).astype(np.float32) if len(rows) else np.zeros(0, np.float32)
        safe = np.where(scales > 0, scales, 1.0)[:, None]
        q = np.clip(np.rint(rows / safe), -127, 127).astype(np.int8)
        return CompactColbert(form, q, dim, scales)
    if form == "binary":
        return CompactColbert(form, np.packbits(rows > 0, axis=1), dim)
    raise ValueError(f"unknown ColBERT form {form!r}; one of {', '.join(COLBERT_FORMATS)}")


def decode_colbert(compact: CompactColbert) -> np.ndarray:
    """float32 (n, d) rows back. binary gives the signs scaled to unit rows (±1/√d): the direction that survives,
    so that ``maxsim(query, decode_colbert(doc))`` is the asymmetric sign-dot MaxSim."""
    if compact.form in ("float", "fp16"):
        return compact.data.astype(np.float32)
    if compact.form == "int8":
        assert compact.scales is not None
        return compact.data.astype(np.float32) * compact.scales[:, None]
    if compact.form == "binary":
        bits = np.unpackbits(compact.data, axis=1, count=compact.dim).astype(np.float32)
        return (2.0 * bits - 1.0) / np.sqrt(compact.dim, dtype=np.float32)
    raise ValueError(f"unknown ColBERT form {compact.form!r}")


def maxsim_compact(query: CompactColbert, document: CompactColbert) -> float:
    """MaxSim with both sides in the same compact form (FlagEmbedding's mean over query rows of the best match):

    - float, fp16: the float dot product (fp16 widened to float32);
    - int8: the scaled integer dot, ``(q_i · q_j) · s_i · s_j``: the int8 dot products are exact (float64
      accumulation of integers), so this equals the dot product of the dequantized rows;
    - binary: Hamming distance h over the d bits, turned into the SimHash estimate of the cosine, ``cos(π·h/d)``
      (two random-hyperplane signs disagree with probability angle/π), so scores stay on the cosine scale.

    For a float query against a compact document (the usual retrieval set-up: documents stored compact, queries
    encoded at search time) use ``maxsim(query, decode_colbert(document))``.
    """
    if query.form != document.form:
        raise ValueError(f"both sides must have one form, not {query.form!r} and {document.form!r}")
    if len(query.data) == 0 or len(document.data) == 0:
        return 0.0
    if query.form == "binary":  # one query row at a time: memory stays (document rows × bytes) at any query length
        least = np.array([_POPCOUNT[row ^ document.data].sum(axis=1).min() for row in query.data])
        return float(np.cos(np.pi * least / query.dim).sum() / len(query.data))  # the fewest differing bits is best
    if query.form != "int8":
        return maxsim(decode_colbert(query), decode_colbert(document))
    assert query.scales is not None and document.scales is not None
    dots = query.data.astype(np.float64) @ document.data.astype(np.float64).T  # integers: exact in float64
    scores = dots * query.scales[:, None].astype(np.float64) * document.scales[None, :].astype(np.float64)
    return float(scores.max(axis=1).sum() / len(query.data))


# ---- sparse forms ---------------------------------------------------------------------------------------------
SPARSE_FORMATS = ("indices", "id_map", "token_map")
WORD_START = "▁"  # XLM-R's SentencePiece word-start marker


def token_weights(tokens: list[str], weights: list[float]) -> dict[str, float]:
    """Sparse weights keyed by token text, with unique keys: FlagEmbedding's ``convert_id_to_token`` strings (the
    id decoded alone, so the word-start marker is gone: ``▁Paris`` and ``Paris`` both read ``Paris``); two ids that
    read the same keep the larger weight (FlagEmbedding keeps whichever came last); the bare marker ``▁``, which
    decodes to "", keeps its piece ``▁`` as key (an empty field name is refused by Elasticsearch and OpenSearch)."""
    result: dict[str, float] = {}
    for token, weight in zip(tokens, weights, strict=True):
        key = token or WORD_START
        if weight > result.get(key, float("-inf")):
            result[key] = weight
    return result
