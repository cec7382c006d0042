"""Which number format a model runs in, decided once per model replica when it loads.

On the CPU (``--precision``, per model ``--embedding-precision`` / ``--reranker-precision``):

- ``fp32``: the reference.
- ``bf16``: weights and activations in bfloat16 (the heads still in fp32). Fast only where the CPU computes
  bf16 natively (AVX512-BF16, AMX); elsewhere torch emulates it and it is slower than fp32.
- ``int8``: the encoder's linear layers dynamically quantized (weights int8 per output channel, activations
  quantized per batch by torch's fbgemm kernels); embeddings, LayerNorm, attention and the heads in fp32.
- ``auto`` (default): bf16 when the CPU's flags say it computes bf16 natively AND a short matmul probe confirms
  that bf16 is faster than fp32 here and close to it; fp32 otherwise. int8 is never chosen by itself: its
  agreement depends on the model, so it is opt-in (``bge-local check-precision`` measures it on your texts).

On a GPU the existing ``--dtype`` governs (``auto``: fp16); an explicit ``fp32`` or ``bf16`` precision is
honoured there too, ``int8`` is refused (the quantized kernels are CPU ones).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("bge_local.precision")

PRECISIONS = ("auto", "fp32", "bf16", "int8")
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# Without VNNI, fbgemm's int8 kernels add pairs of u8*s8 products in int16 (vpmaddubsw), which saturates unless
# activations keep 7 bits ("reduce range"); VNNI accumulates straight into int32.
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
MIN_SPEEDUP = 1.15  # bf16 must beat fp32 by this factor in the probe (emulated bf16 is several times slower)
MAX_ERROR = 2e-2  # relative error of the probe's bf16 matmul against fp32 (bf16 rounding gives ~3e-3)

_INT8_ON_GPU = ("--precision int8 runs on the CPU only (torch's quantized kernels); on a GPU leave --precision "
                "at auto (then --dtype governs: fp16 by default) or choose bf16 or fp32")
_GPU_DTYPES = {"auto": "fp16", "fp16": "fp16", "float16": "fp16", "half": "fp16", "bf16": "bf16",
               "bfloat16": "bf16", "fp32": "fp32", "float32": "fp32"}
_TORCH_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "int8": "float32"}


@dataclass(frozen=True)
class Precision:
    """What a replica runs: ``name`` is what /health says (fp32, bf16, int8; fp16 on a GPU)."""

    name: str
    device: str
    reason: str = ""
    reduce_range: bool = True  # int8 only: quantize activations to 7 bits (CPUs without VNNI)

    @property
    def dtype(self) -> Any:
        """The torch dtype of the encoder's activations (and of its weights, but for int8's linear layers)."""
        import torch

        return getattr(torch, _TORCH_DTYPES[self.name])

    @property
    def head_dtype(self) -> Any:
        """The heads run in full precision on the CPU; on a GPU in the model's dtype, as they always have."""
        import torch

        return self.dtype if self.device.startswith("cuda") else torch.float32

    @property
    def int8(self) -> bool:
        return self.name == "int8"

    @property
    def owns_weights(self) -> bool:
        """Whether every kept tensor must be a copy: a view of the memory-mapped checkpoint keeps the whole file
        resident, so a reduced-precision model that kept any would use more memory than fp32, not less."""
        return self.name != "fp32" or self.device.startswith("cuda")


def normalize(value: str) -> str:
    """``fp32`` for ``float32`` and the like; ``ValueError`` naming the choices for anything else."""
    aliases = {"float32": "fp32", "bfloat16": "bf16", "qint8": "int8"}
    name = aliases.get(value.strip().lower(), value.strip().lower())
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {value!r}; choose one of {', '.join(PRECISIONS)}")
    return name


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags (the first ``flags`` line of /proc/cpuinfo); empty where there is none."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@dataclass(frozen=True)
class ProbeResult:
    """A bf16 matmul against the same fp32 one on this machine: seconds each (best of a few) and bf16's error."""

    fp32_s: float
    bf16_s: float
    error: float

    @property
    def speedup(self) -> float:
        return self.fp32_s / self.bf16_s if self.bf16_s > 0 else 0.0

    @property
    def fast(self) -> bool:
        return self.speedup >= MIN_SPEEDUP

    @property
    def close(self) -> bool:
        return self.error <= MAX_ERROR


def probe_bf16(rows: int = 512, size: int = 1024, rounds: int = 7) -> ProbeResult:
    """Time one (rows x size) @ (size x size) matmul in fp32 and in bf16, alternately for ``rounds`` rounds after
    a warm-up (the best time of each counts: on a busy machine the others only lost time to someone else, and
    alternating exposes both to the same load), and measure bf16's relative error: ~0.2 s at start-up."""
    import torch

    gen = torch.Generator().manual_seed(0)
    x, w = torch.randn(rows, size, generator=gen), torch.randn(size, size, generator=gen) / size ** 0.5
    xb, wb = x.bfloat16(), w.bfloat16()

    def timed(a: Any, b: Any) -> tuple[float, Any]:
        start = time.perf_counter()
        out = a @ b
        return time.perf_counter() - start, out

    with torch.no_grad():
        want, got = x @ w, xb @ wb  # warm-up: kernel selection, first touch
        fp32_s = bf16_s = float("inf")
        for _ in range(rounds):
            fp32_s = min(fp32_s, timed(x, w)[0])
            bf16_s = min(bf16_s, timed(xb, wb)[0])
        error = float((got.float() - want).norm() / want.norm())
    return ProbeResult(fp32_s, bf16_s, error)


@functools.cache
def _machine_probe() -> ProbeResult:
    """The probe, once per process (both models and every replica share its answer)."""
    result = probe_bf16()
    log.info("bf16 probe: %.2fx fp32, relative error %.1e", result.speedup, result.error)
    return result


def choose_cpu(flags: Iterable[str], probe: Callable[[], ProbeResult]) -> tuple[str, str]:
    """``auto`` on a CPU: (``bf16`` or ``fp32``, why). ``probe`` runs only when the flags promise native bf16."""
    native = sorted(NATIVE_BF16_FLAGS.intersection(flags))
    if not native:
        return "fp32", "this CPU has no native bf16 (avx512_bf16 or amx_bf16): torch would emulate it, slowly"
    result = probe()
    if not result.close:
        return "fp32", f"bf16 matmul differs from fp32 by {result.error:.1e} here (more than {MAX_ERROR:.0e})"
    if not result.fast:
        return "fp32", (f"bf16 matmul is not faster here ({result.speedup:.2f}x fp32, want >= {MIN_SPEEDUP}x) "
                        f"despite {', '.join(native)}")
    return "bf16", f"native bf16 ({', '.join(native)}): {result.speedup:.1f}x fp32 in the start-up probe"


def unsupported(requested: str, devices: Iterable[str]) -> str | None:
    """Why ``requested`` cannot run on one of ``devices``, or None."""
    if normalize(requested) == "int8" and any(d.startswith("cuda") for d in devices):
        return _INT8_ON_GPU
    return None


def resolve(requested: str | None, device: str, dtype: str = "auto", flags: Iterable[str] | None = None,
            probe: Callable[[], ProbeResult] | None = None) -> Precision:
    """What a replica on ``device`` runs for ``--precision requested`` (and ``--dtype dtype`` on a GPU).
    ``requested`` None (a runtime built without settings): fp32 on the CPU, ``dtype`` on a GPU, no probe."""
    if requested is None:
        requested = "auto" if device.startswith("cuda") else "fp32"
    requested = normalize(requested)
    if device.startswith("cuda"):
        if requested == "int8":
            raise ValueError(_INT8_ON_GPU)
        if requested == "auto":
            if dtype not in _GPU_DTYPES:
                raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(_GPU_DTYPES)}")
            return Precision(_GPU_DTYPES[dtype], device, f"--dtype {dtype} on a GPU")
        return Precision(requested, device, f"--precision {requested}")
    flags = cpu_flags() if flags is None else frozenset(flags)
    reduce_range = not VNNI_FLAGS.intersection(flags)
    if requested == "auto":
        name, reason = choose_cpu(flags, probe or _machine_probe)
        return Precision(name, device, f"auto: {reason}", reduce_range)
    return Precision(requested, device, f"--precision {requested}", reduce_range)
