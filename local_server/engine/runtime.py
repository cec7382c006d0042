"""Model runtimes: one loaded model replica on one device, turning token-id batches into outputs.

Both models run our own padding-free XLM-RoBERTa forward (``engine/xlmr/``): the weights are read from the
model directory as published (no transformers model class), a batch is one packed token stream, and only
the heads differ — bge-m3's dense / sparse / ColBERT outputs from one pass (its two extra heads,
``sparse_linear.pt`` and ``colbert_linear.pt``, are saved beside the backbone), and the reranker's
classification head. FlagEmbedding is not imported: it is the test suite's reference only
(``tests/unit/test_xlmr_forward.py``, ``tests/server/test_parity.py``), which keeps these outputs equal to
``BGEM3FlagModel`` / ``FlagReranker``.

A batch goes through three stages, which the batcher may run on three threads so that host work overlaps
the device: ``prepare`` (host: pack, pinned memory, non-blocking copies), ``execute`` (launch the forward
and the heads; no sync) and ``finish`` (the batch's one device-to-host copy, then one output per input).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from local_server.engine.tokenization import ModelTokenizer
from local_server.engine.types import EmbeddingVectors, EmbedNeeds

log = logging.getLogger("bge_local.runtime")


class Runtime:
    """What the batcher needs of a replica: three stages it runs on three threads, so that host work overlaps
    the device's. ``prepare`` (host side, no device sync) runs while the previous batch executes; ``execute``
    launches the device work and may return device tensors unsynchronised; ``finish`` makes the one
    device-to-host copy and splits it per input, on a post-processing thread. Any stage may raise (a CUDA
    out-of-memory included). ``forward`` = ``finish(p, execute(p))`` with ``p = prepare(batch, needs)``.

    A subclass overrides either the three stages (the model runtimes below) or ``forward`` alone (simple
    stand-ins in tests): the defaults then run the whole ``forward`` in ``execute``."""

    device: str
    tokenizer: ModelTokenizer
    dtype: Any
    max_positions: int
    pad_id: int
    attention_backend: str = "none"

    def prepare(self, batch: list[list[int]], needs: Any) -> Any:
        return batch, needs

    def execute(self, prepared: Any) -> Any:
        batch, needs = prepared
        return self.forward(batch, needs)

    def finish(self, prepared: Any, executed: Any) -> list[Any]:
        return executed

    def forward(self, batch: list[list[int]], needs: Any = None) -> list[Any]:
        prepared = self.prepare(batch, needs)
        return self.finish(prepared, self.execute(prepared))

    def device_context(self) -> AbstractContextManager[Any]:
        """Entered once by the replica's device thread for its lifetime: the hook where a runtime makes its own
        CUDA stream current (two replicas on one GPU then never share the default stream)."""
        return nullcontext()

    def release_memory(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


@dataclass
class _Launched:
    output: Any  # the device tensor finish copies once
    layout: Any = None


class XlmrRuntime(Runtime):
    """The shared part: config, tokenizer, encoder weights and attention backend on one device."""

    def __init__(self, path: str, device: str, dtype: str = "auto", attention: str | None = None,
                 precision: str | None = None):
        import torch

        from local_server.engine.precision import resolve
        from local_server.engine.xlmr import attention as attention_backends
        from local_server.engine.xlmr.config import XlmrConfig
        from local_server.engine.xlmr.encoder import Encoder
        from local_server.engine.xlmr.weights import read_state, take_encoder

        self.path = Path(path)
        self.device = device
        # None (a runtime built directly, as the tests' references are): fp32 on the CPU, --dtype on a GPU
        self.precision = resolve(precision, device, dtype)
        self.dtype = self.precision.dtype  # the activations' (int8: fp32 between the quantized matmuls)
        self.head_dtype = self.precision.head_dtype
        self.config = XlmrConfig.from_directory(self.path)
        self.tokenizer = ModelTokenizer.from_directory(self.path)
        self.pad_id = self.config.pad_id
        self.max_positions = self.config.max_positions
        self.hidden_size = self.config.hidden_size
        # One stream per replica: two replicas on one GPU do not queue behind each other on the default stream.
        self.stream = torch.cuda.Stream(device=device) if device.startswith("cuda") else None
        with torch.no_grad(), self._on_stream():
            self._state = read_state(self.path)
            p = self.precision
            weights = take_encoder(self._state, self.config, device, self.dtype, int8=p.int8,
                                   reduce_range=p.reduce_range, own=p.owns_weights)
            self.attention_backend, attend = attention_backends.select(
                device, self.dtype, self.config.num_heads, self.config.head_dim, self.pad_id, prefer=attention)
        self.encoder = Encoder(self.config, weights, attend)
        log.info("%s on %s (%s; %s): attention %s", self.path.name, device, self.precision.name,
                 self.precision.reason, self.attention_backend)

    def _on_stream(self) -> Any:
        import contextlib

        import torch

        return torch.cuda.stream(self.stream) if self.stream is not None else contextlib.nullcontext()

    def prepare(self, batch: list[list[int]], needs: Any) -> Any:
        from local_server.engine.xlmr.packing import pack

        longest = max(map(len, batch), default=0)
        if self.pad_id + longest >= self.max_positions:
            raise ValueError(f"an input of {longest} tokens is longer than the model's "
                             f"{self.max_positions - self.pad_id - 1} positions")
        with self._on_stream():
            return pack(batch, self.pad_id, self.device, needs)

    def _copy_out(self, launched: _Launched) -> np.ndarray:
        """The batch's one device-to-host copy (and so its one sync)."""
        with self._on_stream():
            return launched.output.cpu().numpy()


class M3Runtime(XlmrRuntime):
    """bge-m3: dense, sparse and ColBERT outputs from one forward pass."""

    def __init__(self, path: str, device: str, dtype: str = "auto", attention: str | None = None,
                 precision: str | None = None):
        super().__init__(path, device, dtype, attention, precision)
        from local_server.engine.xlmr.heads import M3Heads
        from local_server.engine.xlmr.weights import load_linear_head

        self.heads = M3Heads(load_linear_head(self.path / "sparse_linear.pt", device, self.head_dtype),
                             load_linear_head(self.path / "colbert_linear.pt", device, self.head_dtype),
                             self.hidden_size)
        self._state.clear()  # bge-m3's checkpoint may carry a pooler: nothing of it is used
        t = self.tokenizer
        # FlagEmbedding's rule: these never carry a lexical weight.
        self.unused_ids = [i for i in (t.cls_id, t.eos_id, t.pad_id, t.unk_id) if i is not None]

    def execute(self, prepared: Any) -> _Launched:
        import torch

        needs: EmbedNeeds = prepared.needs
        layout = self.heads.layout(needs)
        with torch.no_grad(), self._on_stream():
            hidden = self.encoder(prepared)
            return _Launched(self.heads(hidden, prepared, layout), layout)

    def finish(self, prepared: Any, executed: _Launched) -> list[EmbeddingVectors]:
        from local_server.engine.xlmr.heads import lexical_weights

        flat = self._copy_out(executed)
        layout, p = executed.layout, prepared
        dense_size, sparse_size, _ = layout.sizes(p)
        dense = flat[:dense_size].reshape(p.size, layout.hidden) if layout.dense else None
        weights = flat[dense_size:dense_size + sparse_size] if layout.sparse else None
        colbert = (flat[dense_size + sparse_size:].reshape(p.tokens - p.size, layout.colbert_dim)
                   if layout.colbert else None)
        results: list[EmbeddingVectors] = [EmbeddingVectors() for _ in p.order]
        for j, (index, start, length) in enumerate(zip(p.order, p.starts, p.lengths, strict=True)):
            item = results[index]
            if dense is not None:
                item.dense = dense[j]
            if weights is not None:
                item.sparse = lexical_weights(weights[start:start + length], p.ids_host[start:start + length],
                                              self.unused_ids)
            if colbert is not None:
                # rows without <s>: each earlier sequence has one fewer
                item.colbert = colbert[start - j:start - j + length - 1]
        return results


class RerankerRuntime(XlmrRuntime):
    """bge-reranker-v2-m3: one relevance logit per (query, document) pair."""

    def __init__(self, path: str, device: str, dtype: str = "auto", attention: str | None = None,
                 precision: str | None = None):
        super().__init__(path, device, dtype, attention, precision)
        from local_server.engine.xlmr.heads import ClassifierHead
        from local_server.engine.xlmr.weights import take_classifier

        self.head = ClassifierHead(take_classifier(self._state, device, self.head_dtype,
                                                   own=self.precision.owns_weights))
        self._state.clear()

    def execute(self, prepared: Any) -> _Launched:
        import torch

        with torch.no_grad(), self._on_stream():
            return _Launched(self.head(self.encoder(prepared), prepared))

    def finish(self, prepared: Any, executed: _Launched) -> list[float]:
        logits = self._copy_out(executed).tolist()
        results = [0.0] * prepared.size
        for j, index in enumerate(prepared.order):
            results[index] = logits[j]
        return results


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()
