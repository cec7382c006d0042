"""The names ``run.py --targets`` takes, and which pairs of them the precision comparison sets side by side.

Plain names are the original targets (``bge-local``, ``seed-http``, ``in-process``, ``infinity``). A name with
``@`` picks a variant:

- ``bge-local@<precision>``: this server started with ``--precision <precision>`` (fp32, bf16, int8, auto);
- ``infinity@<engine>-<dtype>``: Infinity with its torch engine (``--dtype float32 | bfloat16 | int8``; int8 is
  torch's dynamic quantization of every Linear) or its optimum/ONNX Runtime engine (``onnx-fp32``: the exported
  model; ``onnx-int8``: the same model dynamically quantized to int8, the file Infinity prefers on a CPU).

Presets expand to several names: ``precision`` (every bge-local precision and every Infinity variant) and
``default`` (the original four). ``bge-local@<commit>`` is *not* a target name: earlier commits come from
``--baseline REV``. This module imports nothing heavy, so the tests and ``--help`` can use it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

TARGET_ORDER = ["bge-local", "seed-http", "in-process", "infinity"]
PRECISIONS = ("fp32", "bf16", "int8", "auto")


@dataclass(frozen=True)
class InfinityVariant:
    engine: str  # Infinity's --engine
    dtype: str | None  # Infinity's --dtype (torch engine); None: the ONNX file decides
    onnx: str | None = None  # which exported ONNX model directory ("fp32" or "int8"); None for torch
    precision: str = "fp32"  # the precision it computes in, for the like-for-like pairs


INFINITY_VARIANTS: dict[str, InfinityVariant] = {
    "torch-fp32": InfinityVariant("torch", "float32"),
    "torch-bf16": InfinityVariant("torch", "bfloat16", precision="bf16"),
    "torch-int8": InfinityVariant("torch", "int8", precision="int8"),
    "onnx-fp32": InfinityVariant("optimum", None, onnx="fp32"),
    "onnx-int8": InfinityVariant("optimum", None, onnx="int8", precision="int8"),
}
PRECISION_TARGETS = [f"bge-local@{p}" for p in PRECISIONS] + [f"infinity@{v}" for v in INFINITY_VARIANTS]
PRESETS: dict[str, list[str]] = {"precision": PRECISION_TARGETS, "default": TARGET_ORDER}
KNOWN = [*TARGET_ORDER, *PRECISION_TARGETS]


def parse_targets(text: str) -> list[str]:
    """The target names in ``text`` (comma-separated; presets expanded; duplicates dropped, order kept).

    Raises ValueError naming what is wrong, so a typo stops the run before any model is built."""
    names: list[str] = []
    unknown: list[str] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        for name in PRESETS.get(item, [item]):
            if name not in KNOWN:
                unknown.append(name)
            elif name not in names:
                names.append(name)
    if unknown:
        raise ValueError(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(KNOWN)}; presets: "
                         f"{', '.join(PRESETS)} (earlier commits of this server: --baseline REV)")
    if not names:
        raise ValueError("no targets given")
    return names


def split(name: str) -> tuple[str, str | None]:
    """``"bge-local@int8"`` -> ``("bge-local", "int8")``; ``"infinity"`` -> ``("infinity", None)``."""
    family, _, variant = name.partition("@")
    return family, variant or None


def precision_of(name: str) -> str | None:
    """The precision a precision-comparison target computes in (None for the plain targets and baselines)."""
    family, variant = split(name)
    if family == "bge-local" and variant in PRECISIONS:
        return variant
    if family == "infinity" and variant in INFINITY_VARIANTS:
        return INFINITY_VARIANTS[variant].precision
    return None


def precision_pairs(names: list[str]) -> list[tuple[str, str]]:
    """The (numerator, denominator) pairs of the precision table, among ``names``:

    - each bge-local precision ÷ bge-local@fp32 (what the precision buys this server);
    - each bge-local precision ÷ every Infinity variant computing in the same precision (like for like);
    - bge-local@auto ÷ Infinity's own default on this device (torch, fp32 on a CPU): each out of the box;
    - bge-local@auto and @fp32 ÷ seed-http (the seeds' way, FlagEmbedding once per request): issue 23's goal for
      (a) is auto at 3x or more.
    """
    present = set(names)
    pairs: list[tuple[str, str]] = []
    for p in PRECISIONS:
        ours = f"bge-local@{p}"
        if ours not in present:
            continue
        if p != "fp32" and "bge-local@fp32" in present:
            pairs.append((ours, "bge-local@fp32"))
        for variant, spec in INFINITY_VARIANTS.items():
            theirs = f"infinity@{variant}"
            if theirs in present and spec.precision == p:
                pairs.append((ours, theirs))
        if p == "auto":
            for theirs in ("infinity", "infinity@torch-fp32"):
                if theirs in present:
                    pairs.append((ours, theirs))
                    break
        if p in ("auto", "fp32") and "seed-http" in present:
            pairs.append((ours, "seed-http"))
    return pairs
