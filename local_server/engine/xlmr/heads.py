"""The outputs on top of the encoder, computed on the device over the packed stream.

bge-m3 (FlagEmbedding's ``BGEM3Model``): dense = the ``<s>`` state, L2-normalised; sparse = ReLU of the sparse
head per token (max per token id, specials dropped: done on the host, ``lexical_weights``); ColBERT = the
ColBERT head on every token after ``<s>``, L2-normalised. The reranker (``XLMRobertaClassificationHead``):
dense -> tanh -> out_proj on the ``<s>`` state. The heads run in their own dtype (fp32 on the CPU whatever the
encoder's precision; the model's dtype on a GPU). Everything the host needs is returned as ONE float32 tensor,
so ``finish`` copies it with one device-to-host transfer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from local_server.engine.xlmr.packing import Packed
from local_server.engine.xlmr.weights import ClassifierWeights


@dataclass(frozen=True)
class M3Layout:
    """Where each output lies in the flat float32 tensor ``M3Heads.__call__`` returns."""

    hidden: int
    colbert_dim: int
    dense: bool
    sparse: bool
    colbert: bool

    def sizes(self, packed: Packed) -> list[int]:
        n, t = packed.size, packed.tokens
        return [n * self.hidden if self.dense else 0, t if self.sparse else 0,
                (t - n) * self.colbert_dim if self.colbert else 0]


class M3Heads:
    def __init__(self, sparse: tuple[Any, Any], colbert: tuple[Any, Any], hidden: int):
        self.sparse_w, self.sparse_b = sparse
        self.colbert_w, self.colbert_b = colbert
        self.hidden = hidden
        self.colbert_dim = int(self.colbert_w.shape[0])

    def layout(self, needs: Any) -> M3Layout:
        return M3Layout(self.hidden, self.colbert_dim, needs.dense, needs.sparse, needs.colbert)

    def __call__(self, hidden: Any, packed: Packed, layout: M3Layout) -> Any:
        """The outputs ``layout`` asks for, flattened into one float32 tensor on the device."""
        import torch
        import torch.nn.functional as F

        hidden = hidden.to(self.sparse_w.dtype)  # bf16 / int8 encoders: the heads run in full precision
        parts = []
        if layout.dense:
            parts.append(F.normalize(hidden[packed.cls_rows].float(), dim=-1).reshape(-1))
        if layout.sparse:
            parts.append(torch.relu(F.linear(hidden, self.sparse_w, self.sparse_b)).float().reshape(-1))
        if layout.colbert:
            keep = torch.ones(packed.tokens, dtype=torch.bool, device=hidden.device)
            keep[packed.cls_rows] = False
            vectors = F.linear(hidden[keep], self.colbert_w, self.colbert_b)
            parts.append(F.normalize(vectors.float(), dim=-1).reshape(-1))
        if not parts:
            return hidden.new_zeros(0, dtype=torch.float32)
        return parts[0] if len(parts) == 1 else torch.cat(parts)


def lexical_weights(weights: np.ndarray, ids: np.ndarray, unused: Iterable[int]) -> dict[int, float]:
    """Max weight per token id in first-occurrence order; ``unused`` ids and weights <= 0 dropped
    (FlagEmbedding's ``_process_token_weights``)."""
    keep = (weights > 0) & ~np.isin(ids, list(unused))
    result: dict[int, float] = {}
    for token_id, weight in zip(ids[keep].tolist(), weights[keep].tolist(), strict=True):
        if weight > result.get(token_id, 0.0):
            result[token_id] = weight
    return result


class ClassifierHead:
    def __init__(self, weights: ClassifierWeights):
        self.w = weights

    def __call__(self, hidden: Any, packed: Packed) -> Any:
        """One float32 logit per sequence (the first label's), in packed order."""
        import torch
        import torch.nn.functional as F

        w = self.w
        x = torch.tanh(F.linear(hidden[packed.cls_rows].to(w.dense_w.dtype), w.dense_w, w.dense_b))
        return F.linear(x, w.out_w, w.out_b)[:, 0].float()
