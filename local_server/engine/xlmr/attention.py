"""Attention over a packed token stream: each sequence attends only to itself, and nothing is padded.

Every backend takes ``q, k, v`` of shape (tokens, heads, head_dim) — views into the fused QKV output — and
returns (tokens, heads, head_dim). Which one runs is chosen once per replica (``select``): on CUDA the
variable-length flash kernels first (flash-attn's ``flash_attn_varlen_func`` when installed, then torch's
``varlen_attn``; both take fp16/bf16 only), then SDPA over a jagged nested tensor (flash or memory-efficient
kernels, any dtype); each candidate is probed on the device and kept only if it runs and agrees with the
reference. On the CPU ``bench/attention_cpu.py`` measured the candidates; SDPA per run of equal lengths
(``grouped``) was the fastest exact one (see docs/performance.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from local_server.engine.xlmr.packing import Packed

log = logging.getLogger("bge_local.attention")

Attend = Callable[[Any, Any, Any, Packed], Any]


def _sdpa_rect(q: Any, k: Any, v: Any, count: int, length: int) -> Any:
    """SDPA on ``count`` sequences of ``length`` rows each, packed contiguously."""
    import torch.nn.functional as F

    heads, dim = q.shape[1], q.shape[2]

    def view(x: Any) -> Any:
        return x.reshape(count, length, heads, dim).transpose(1, 2)

    out = F.scaled_dot_product_attention(view(q), view(k), view(v))
    return out.transpose(1, 2).reshape(count * length, heads, dim)


def grouped(q: Any, k: Any, v: Any, packed: Packed) -> Any:
    """One SDPA call per run of equal-length sequences (the packing puts them next to each other)."""
    import torch

    if len(packed.groups) == 1:
        _, count, length = packed.groups[0]
        return _sdpa_rect(q, k, v, count, length)
    parts = []
    for first, count, length in packed.groups:
        rows = slice(first, first + count * length)
        parts.append(_sdpa_rect(q[rows], k[rows], v[rows], count, length))
    return torch.cat(parts)


def per_sequence(q: Any, k: Any, v: Any, packed: Packed) -> Any:
    """One SDPA call per sequence (a candidate measured on the CPU; ``grouped`` does at least as well)."""
    import torch

    parts = [_sdpa_rect(q[s:s + n], k[s:s + n], v[s:s + n], 1, n)
             for s, n in zip(packed.starts, packed.lengths, strict=True)]
    return torch.cat(parts)


def nested(q: Any, k: Any, v: Any, packed: Packed) -> Any:
    """SDPA over jagged nested tensors: on CUDA, torch dispatches to its flash / memory-efficient kernels."""
    import torch
    import torch.nn.functional as F

    offsets = packed.cu_seqlens.to(torch.int64)

    def jagged(x: Any) -> Any:
        return torch.nested.nested_tensor_from_jagged(x, offsets, max_seqlen=packed.max_len,
                                                      min_seqlen=packed.lengths[-1]).transpose(1, 2)

    out = F.scaled_dot_product_attention(jagged(q), jagged(k), jagged(v))
    return out.transpose(1, 2).values()


def torch_varlen(q: Any, k: Any, v: Any, packed: Packed) -> Any:
    from torch.nn.attention.varlen import varlen_attn

    cu = packed.cu_seqlens
    return varlen_attn(q, k, v, cu, cu, packed.max_len, packed.max_len)


def flash_attn(q: Any, k: Any, v: Any, packed: Packed) -> Any:
    from flash_attn import flash_attn_varlen_func

    cu = packed.cu_seqlens
    return flash_attn_varlen_func(q, k, v, cu, cu, packed.max_len, packed.max_len)


BACKENDS: dict[str, Attend] = {"flash-attn": flash_attn, "torch-varlen": torch_varlen, "nested-sdpa": nested,
                               "grouped-sdpa": grouped, "per-sequence-sdpa": per_sequence}
CUDA_ORDER = ("flash-attn", "torch-varlen", "nested-sdpa", "grouped-sdpa")
CPU_ORDER = ("grouped-sdpa",)


def _probe(attend: Attend, device: str, dtype: Any, heads: int, dim: int, pad_id: int) -> bool:
    """Run ``attend`` on three sequences of different lengths and compare with fp32 SDPA per sequence."""
    import torch

    from local_server.engine.xlmr.packing import pack

    packed = pack([[5] * 37, [5] * 130, [5] * 37], pad_id, device)
    gen = torch.Generator(device="cpu").manual_seed(0)
    q, k, v = (torch.randn(packed.tokens, heads, dim, generator=gen).to(device) for _ in range(3))
    want = per_sequence(q, k, v, packed)
    got = attend(q.to(dtype), k.to(dtype), v.to(dtype), packed).float()
    tol = 1e-4 if dtype == torch.float32 else 2e-2
    return got.shape == want.shape and bool(torch.allclose(got, want, atol=tol, rtol=tol))


def select(device: str, dtype: Any, heads: int, dim: int, pad_id: int, prefer: str | None = None,
           ) -> tuple[str, Attend]:
    """The first backend that runs correctly here (``prefer`` first when given)."""
    order = CUDA_ORDER if device.startswith("cuda") else CPU_ORDER
    if prefer:
        order = (prefer, *(name for name in order if name != prefer))
    for name in order:
        try:
            ok = _probe(BACKENDS[name], device, dtype, heads, dim, pad_id)
        except Exception as exc:  # an import error, a kernel this GPU or dtype lacks: try the next one
            log.info("attention backend %s unavailable on %s (%s): %s", name, device, dtype, exc)
            continue
        if ok:
            return name, BACKENDS[name]
        log.warning("attention backend %s gave wrong results on %s (%s); not using it", name, device, dtype)
    return "per-sequence-sdpa", per_sequence
