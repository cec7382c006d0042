"""Model runtimes: one loaded model replica on one device, turning padded token-id batches into outputs.

bge-m3 loads the way its authors publish it: an XLM-RoBERTa backbone (``transformers.AutoModel``) plus two
small heads saved beside it, ``sparse_linear.pt`` and ``colbert_linear.pt``; this module applies the heads
itself (dense: the ``<s>`` state, L2-normalised; sparse: ReLU of the sparse head per token; ColBERT: the
ColBERT head on every position after ``<s>``, L2-normalised). The reranker is a plain transformers
sequence-classification model. FlagEmbedding is not imported: it is the test suite's reference only
(``tests/server/test_parity.py``), which keeps these outputs equal to ``BGEM3FlagModel`` / ``FlagReranker``.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from local_server.engine.types import EmbeddingVectors, EmbedNeeds

log = logging.getLogger("bge_local.runtime")


_DTYPES = {"auto": "float16", "fp16": "float16", "float16": "float16", "half": "float16",
           "bf16": "bfloat16", "bfloat16": "bfloat16", "fp32": "float32", "float32": "float32"}


def resolve_dtype(dtype: str, device: str):
    """fp16 on a GPU unless told otherwise (``bf16``/``fp32`` selectable); always fp32 on a CPU, where half
    precision is slower and less exact."""
    import torch

    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(_DTYPES)}")
    if device.startswith("cpu"):
        return torch.float32
    return getattr(torch, _DTYPES[dtype])


def _pad(batch: list[list[int]], pad_id: int, device: str) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device)}


def _from_pretrained(model_cls: Any, path: str, dtype: Any, **kwargs: Any) -> Any:
    """Load with PyTorch's fused attention (SDPA) where the architecture has it, else transformers' default."""
    try:
        return model_cls.from_pretrained(path, dtype=dtype, attn_implementation="sdpa", **kwargs)
    except (ValueError, ImportError) as exc:
        log.info("SDPA attention not available for %s (%s); using the default attention", path, exc)
        return model_cls.from_pretrained(path, dtype=dtype, **kwargs)


def _load_head(path: Path, dtype: Any, device: str):
    """One of bge-m3's linear heads (``sparse_linear.pt``: hidden -> 1, ``colbert_linear.pt``: hidden -> dim)."""
    import torch

    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a bge-m3 directory holds sparse_linear.pt and colbert_linear.pt "
                                "beside the backbone (fetch the model again with `bge-local download`)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    out_features, in_features = state["weight"].shape
    head = torch.nn.Linear(in_features, out_features, bias="bias" in state)
    head.load_state_dict(state)
    return head.to(device=device, dtype=dtype).eval()


class Runtime:
    """What the batcher needs of a replica: three stages it runs on three threads, so that host work overlaps
    the device's. ``prepare`` (host side, no device sync) runs while the previous batch executes; ``execute``
    launches the device work and may return device tensors unsynchronised; ``finish`` makes the one
    device-to-host copy and splits it per input, on a post-processing thread. Any stage may raise (a CUDA
    out-of-memory included). These defaults run the whole ``forward`` in ``execute``."""

    device: str
    tokenizer: Any
    dtype: Any
    max_positions: int
    pad_id: int

    def prepare(self, batch: list[list[int]], needs: Any) -> Any:
        return batch, needs

    def execute(self, prepared: Any) -> Any:
        batch, needs = prepared
        return self.forward(batch, needs)

    def finish(self, prepared: Any, executed: Any) -> list[Any]:
        return executed

    def device_context(self) -> AbstractContextManager[Any]:
        """Entered once by the replica's device thread for its lifetime: the hook where a runtime makes its own
        CUDA stream current (two replicas on one GPU then never share the default stream)."""
        return nullcontext()

    def forward(self, batch: list[list[int]], needs: Any) -> list[Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def release_memory(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


class M3Runtime(Runtime):
    """bge-m3: dense, sparse and ColBERT outputs from one forward pass."""

    def __init__(self, path: str, device: str, dtype: str = "auto"):
        from transformers import AutoModel, AutoTokenizer

        torch_dtype = resolve_dtype(dtype, device)
        self.device = device
        self.dtype = torch_dtype
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        # The pooler is not part of bge-m3's outputs (dense is the raw <s> state): leave it out.
        self.model = _from_pretrained(AutoModel, path, torch_dtype, add_pooling_layer=False).to(device).eval()
        self.sparse_head = _load_head(Path(path) / "sparse_linear.pt", torch_dtype, device)
        self.colbert_head = _load_head(Path(path) / "colbert_linear.pt", torch_dtype, device)
        self.hidden_size: int = self.model.config.hidden_size
        self.max_positions: int = self.model.config.max_position_embeddings
        self.pad_id: int = self.tokenizer.pad_token_id
        tok = self.tokenizer
        # FlagEmbedding's rule: these never carry a lexical weight.
        self.unused_ids = {i for i in (tok.cls_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id)
                           if i is not None}

    def forward(self, batch: list[list[int]], needs: EmbedNeeds) -> list[EmbeddingVectors]:
        import torch
        import torch.nn.functional as F

        inputs = _pad(batch, self.pad_id, self.device)
        with torch.inference_mode():
            hidden = self.model(**inputs, return_dict=True).last_hidden_state
            dense = F.normalize(hidden[:, 0].float(), dim=-1).cpu().numpy() if needs.dense else None
            weights = (torch.relu(self.sparse_head(hidden)).squeeze(-1).float().cpu().numpy()
                       if needs.sparse else None)
            # <s> has no ColBERT vector; padded rows are cut below, so no mask is needed here.
            colbert = (F.normalize(self.colbert_head(hidden[:, 1:]).float(), dim=-1).cpu().numpy()
                       if needs.colbert else None)
        results = []
        for row, ids in enumerate(batch):
            item = EmbeddingVectors()
            if dense is not None:
                item.dense = dense[row]
            if weights is not None:
                item.sparse = self._lexical_weights(weights[row, : len(ids)], ids)
            if colbert is not None:
                item.colbert = np.ascontiguousarray(colbert[row, : len(ids) - 1])
            results.append(item)
        return results

    def _lexical_weights(self, weights: np.ndarray, ids: list[int]) -> dict[int, float]:
        """Max weight per token id; special tokens and weights <= 0 dropped."""
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
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch_dtype = resolve_dtype(dtype, device)
        self.device = device
        self.dtype = torch_dtype
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = _from_pretrained(AutoModelForSequenceClassification, path, torch_dtype).to(device).eval()
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
