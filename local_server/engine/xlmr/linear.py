"""The encoder's linear layers: ``y = x W^T + b``, in full / half precision or dynamically quantized to int8.

The encoder calls a ``Linear`` and never asks which kind it holds. ``DenseLinear`` is ``F.linear`` on plain
tensors (fp32, bf16, fp16). ``Int8Linear`` is torch's dynamic quantization, the same kernels as
``torch.ao.nn.quantized.dynamic.Linear``: the weight quantized once per output channel (symmetric int8) and
packed for fbgemm at load; at each call the fp32 activations are quantized per batch, multiplied in int8 with
int32 accumulation and returned in fp32 with the bias added.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from typing import Any, Protocol


class Linear(Protocol):
    out_features: int

    def __call__(self, x: Any) -> Any: ...

    def tensors(self) -> Iterator[Any]:
        """Every tensor it keeps (for the memory checks: none may be a view of the checkpoint)."""
        ...


class DenseLinear:
    def __init__(self, weight: Any, bias: Any):
        self.weight, self.bias = weight, bias
        self.out_features = int(weight.shape[0])

    def __call__(self, x: Any) -> Any:
        import torch.nn.functional as F

        return F.linear(x, self.weight, self.bias)

    def tensors(self) -> Iterator[Any]:
        yield self.weight
        if self.bias is not None:
            yield self.bias


class Int8Linear:
    """``weight`` (out, in) and ``bias`` in any float dtype, on the CPU; neither is kept (the packed form holds
    its own copies)."""

    def __init__(self, weight: Any, bias: Any, reduce_range: bool = True):
        import torch

        w = weight.detach().to(torch.float32)
        scales = (w.abs().amax(dim=1).clamp_min(1e-8) / 127.0).to(torch.float64)
        zero_points = torch.zeros(w.shape[0], dtype=torch.int64)
        # a copy: the packed weight keeps the bias tensor it is given, which may be a view of the checkpoint
        b = None if bias is None else bias.detach().to(torch.float32, copy=True).contiguous()
        with warnings.catch_warnings():  # torch marks quantized tensors deprecated; the ops below remain
            warnings.simplefilter("ignore", UserWarning)
            q = torch.quantize_per_channel(w, scales, zero_points, 0, torch.qint8)
            self.packed = torch.ops.quantized.linear_prepack(q, b)
        self.reduce_range = reduce_range
        self.out_features = int(w.shape[0])

    def __call__(self, x: Any) -> Any:
        import torch

        return torch.ops.quantized.linear_dynamic(x.contiguous(), self.packed, self.reduce_range)

    def tensors(self) -> Iterator[Any]:
        import torch

        weight, bias = torch.ops.quantized.linear_unpack(self.packed)
        yield weight
        if bias is not None:
            yield bias


def make_linear(weight: Any, bias: Any, *, int8: bool = False, reduce_range: bool = True) -> Linear:
    """A ``Linear`` from tensors already on their device and in their dtype (``int8``: fp32 on the CPU)."""
    return Int8Linear(weight, bias, reduce_range) if int8 else DenseLinear(weight, bias)


def kept_tensors(obj: Any) -> Iterator[Any]:
    """Every tensor held by ``obj``: through dataclasses, lists, tuples, dicts and ``Linear``s."""
    import torch

    if isinstance(obj, torch.Tensor):
        yield obj
    elif hasattr(obj, "tensors") and callable(obj.tensors):
        yield from obj.tensors()
    elif is_dataclass(obj) and not isinstance(obj, type):
        for field in fields(obj):
            yield from kept_tensors(getattr(obj, field.name))
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from kept_tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from kept_tensors(item)
