"""The FLOPs model: work per input from the encoder's shape, and the device peak it is compared with."""

from __future__ import annotations

import json
from pathlib import Path

from machine import gpu_names
from targets import InProcess, Target

# Dense bf16/fp16 tensor FLOP/s measured on these GPUs (docs/../spec performance.md: 800 TFLOP/s on H100/H200).
KNOWN_GPU_PEAK_TFLOPS = {"H100": 800.0, "H200": 800.0}


def encoder_shape(model_dir: str) -> dict[str, int]:
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    return {"hidden": cfg["hidden_size"], "layers": cfg["num_hidden_layers"], "ffn": cfg["intermediate_size"]}


def flops_per_input(tokens: int, shape: dict[str, int]) -> float:
    """2 x non-embedding parameters per token plus attention (4 x L x hidden per token per layer),
    the rule of docs/performance.md (617 MFLOP per token at 128 tokens for bge-m3)."""
    h, layers, f = shape["hidden"], shape["layers"], shape["ffn"]
    params = layers * (4 * h * h + 4 * h + 2 * h * f + h + f + 4 * h)
    return tokens * (2 * params + 4 * tokens * h * layers)


def peak_flops(device: str, given_tflops: float | None, targets: list[Target]) -> tuple[float | None, str]:
    """The device's peak in TFLOP/s for the "% peak" column, and where the figure comes from."""
    if given_tflops:
        return given_tflops, "--peak-tflops"
    if device.startswith("cuda"):
        names = " ".join(gpu_names())
        for key, value in KNOWN_GPU_PEAK_TFLOPS.items():
            if key in names:
                return value, f"{key} dense bf16/fp16 as measured in the project's performance spec"
    for t in targets:
        if isinstance(t, InProcess) and t.matmul_gflops:
            what = "fp16 4096^3" if device.startswith("cuda") else "fp32 1024^3"
            return t.matmul_gflops / 1000, f"measured {what} matmul rate on this device (torch)"
    return None, "unknown"
