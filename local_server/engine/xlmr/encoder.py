"""The XLM-RoBERTa encoder on a packed token stream: every matmul runs on (tokens, hidden), no padding.

Per layer: one fused QKV projection, attention per sequence (``attention.py``), output projection, residual
+ LayerNorm, feed-forward with the config's activation, residual + LayerNorm — the same operations, in the
same order, as transformers' ``XLMRobertaModel`` in eval mode (dropout is the identity). Each projection is a
``linear.Linear``: ``F.linear`` in the model's dtype, or int8 dynamic quantization (``--precision int8``).
"""

from __future__ import annotations

from typing import Any

from local_server.engine.xlmr.attention import Attend
from local_server.engine.xlmr.config import XlmrConfig
from local_server.engine.xlmr.packing import Packed
from local_server.engine.xlmr.weights import EncoderWeights, LayerWeights


class Encoder:
    def __init__(self, config: XlmrConfig, weights: EncoderWeights, attend: Attend):
        self.config = config
        self.weights = weights
        self.attend = attend

    def _activation(self, x: Any) -> Any:
        import torch.nn.functional as F

        if self.config.activation == "relu":
            return F.relu(x)
        return F.gelu(x, approximate=self.config.activation)

    def _layer(self, h: Any, w: LayerWeights, packed: Packed) -> Any:
        import torch.nn.functional as F

        c = self.config
        tokens, size = h.shape
        qkv = w.qkv(h).view(tokens, 3, c.num_heads, c.head_dim)
        context = self.attend(qkv[:, 0], qkv[:, 1], qkv[:, 2], packed).reshape(tokens, size)
        h = F.layer_norm(w.out(context) + h, (size,), w.ln1_w, w.ln1_b, c.layer_norm_eps)
        inner = self._activation(w.ffn_in(h))
        return F.layer_norm(w.ffn_out(inner) + h, (size,), w.ln2_w, w.ln2_b, c.layer_norm_eps)

    def __call__(self, packed: Packed) -> Any:
        """The last hidden state of every token of the stream, (tokens, hidden)."""
        import torch.nn.functional as F

        w, c = self.weights, self.config
        h = F.embedding(packed.input_ids, w.word) + F.embedding(packed.positions, w.positions)
        h = F.layer_norm(h, (c.hidden_size,), w.ln_w, w.ln_b, c.layer_norm_eps)
        for layer in w.layers:
            h = self._layer(h, layer, packed)
        return h
