"""Model runtimes: one loaded model replica on one device, turning padded token-id batches into outputs.

Both runtimes load through FlagEmbedding's own classes (``BGEM3FlagModel``, ``FlagReranker``), so the
weights, heads and dtype handling are exactly FlagEmbedding's; only the batching loop is ours (the
batcher forms batches across requests, so FlagEmbedding's per-call probe pass and re-sorting are skipped).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from local_server.engine.types import EmbeddingVectors, EmbedNeeds

log = logging.getLogger("bge_local.runtime")


def resolve_dtype(dtype: str, device: str):
    import torch

    if device.startswith("cpu"):
        return torch.float32  # FlagEmbedding upcasts on CPU as well
    return {"auto": torch.float16, "fp16": torch.float16, "float16": torch.float16, "bf16": torch.bfloat16,
            "bfloat16": torch.bfloat16, "fp32": torch.float32, "float32": torch.float32}[dtype]


def _pad(batch: list[list[int]], pad_id: int, device: str) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device)}


class Runtime:
    """What the batcher needs of a replica."""

    device: str
    tokenizer: Any
    dtype: Any
    max_positions: int

    def forward(self, batch: list[list[int]], needs: Any) -> list[Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def release_memory(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


class M3Runtime(Runtime):
    """bge-m3: dense, sparse and ColBERT outputs from one forward pass."""

    def __init__(self, path: str, device: str, dtype: str = "auto"):
        import torch
        from FlagEmbedding import BGEM3FlagModel

        torch_dtype = resolve_dtype(dtype, device)
        flag = BGEM3FlagModel(
            path,
            use_fp16=torch_dtype == torch.float16,
            use_bf16=torch_dtype == torch.bfloat16,
            devices=[device],
            normalize_embeddings=True,
        )
        self.device = device
        self.tokenizer = flag.tokenizer
        self.model = flag.model
        if torch_dtype == torch.float32:
            self.model.float()
        self.model.to(device)
        self.model.eval()
        self.dtype = torch_dtype
        self.hidden_size: int = self.model.model.config.hidden_size
        self.max_positions: int = self.model.model.config.max_position_embeddings
        self.pad_id: int = self.tokenizer.pad_token_id
        self.unused_ids = {
            self.tokenizer.convert_tokens_to_ids(self.tokenizer.special_tokens_map[name])
            for name in ("cls_token", "eos_token", "pad_token", "unk_token")
            if name in self.tokenizer.special_tokens_map
        }

    def forward(self, batch: list[list[int]], needs: EmbedNeeds) -> list[EmbeddingVectors]:
        import torch

        inputs = _pad(batch, self.pad_id, self.device)
        with torch.inference_mode():
            out = self.model(
                inputs,
                return_dense=needs.dense,
                return_sparse=needs.sparse,
                return_colbert_vecs=needs.colbert,
            )
            dense = out["dense_vecs"].float().cpu().numpy() if needs.dense else None
            weights = out["sparse_vecs"].squeeze(-1).float().cpu().numpy() if needs.sparse else None
            colbert = out["colbert_vecs"].float().cpu().numpy() if needs.colbert else None
        results = []
        for row, ids in enumerate(batch):
            item = EmbeddingVectors()
            if dense is not None:
                item.dense = dense[row]
            if weights is not None:
                item.sparse = self._lexical_weights(weights[row, : len(ids)], ids)
            if colbert is not None:
                # The first position (<s>) has no ColBERT vector: FlagEmbedding keeps tokens - 1 rows.
                item.colbert = np.ascontiguousarray(colbert[row, : len(ids) - 1])
            results.append(item)
        return results

    def _lexical_weights(self, weights: np.ndarray, ids: list[int]) -> dict[int, float]:
        result: dict[int, float] = {}
        for token_id, weight in zip(ids, weights.tolist(), strict=True):
            if token_id in self.unused_ids or weight <= 0:
                continue
            if weight > result.get(token_id, 0.0):
                result[token_id] = weight
        return result


class RerankerRuntime(Runtime):
    """bge-reranker-v2-m3: one relevance logit per (query, document) pair."""

    def __init__(self, path: str, device: str, dtype: str = "auto"):
        import torch
        from FlagEmbedding import FlagReranker

        torch_dtype = resolve_dtype(dtype, device)
        flag = FlagReranker(path, use_fp16=torch_dtype == torch.float16,
                            use_bf16=torch_dtype == torch.bfloat16, devices=[device])
        self.device = device
        self.tokenizer = flag.tokenizer
        self.model = flag.model
        self.model.to(device=device, dtype=torch_dtype)
        self.model.eval()
        self.dtype = torch_dtype
        self.pad_id: int = self.tokenizer.pad_token_id
        self.max_positions: int = self.model.config.max_position_embeddings

    def forward(self, batch: list[list[int]], needs: Any = None) -> list[float]:
        import torch

        inputs = _pad(batch, self.pad_id, self.device)
        with torch.inference_mode():
            logits = self.model(**inputs, return_dict=True).logits.view(-1).float()
        return logits.cpu().tolist()


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()
