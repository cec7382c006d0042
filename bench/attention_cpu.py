"""Which attention over a packed stream is fastest on this CPU, among the exact ones (engine/xlmr/attention.py).

    .venv/bin/python bench/attention_cpu.py [--heads 16] [--reps 5]

Each candidate runs on the same random q, k, v for three batch shapes (mixed lengths, many short inputs, equal
lengths); the table gives the median time per call and the largest difference from per-sequence SDPA in fp32.
A CPU measurement on a shared machine: read the ratios between rows, not the absolute times.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from local_server.engine.xlmr import attention
from local_server.engine.xlmr.packing import pack


def padded_mask(q, k, v, packed):
    """Not a candidate (it computes padding): the rectangle transformers runs, for comparison."""
    import torch.nn.functional as F

    b, width = packed.size, packed.max_len
    heads, dim = q.shape[1], q.shape[2]
    rect = [q.new_zeros(b, width, heads, dim) for _ in range(3)]
    mask = torch.zeros(b, 1, 1, width, dtype=torch.bool)
    for j, (s, n) in enumerate(zip(packed.starts, packed.lengths, strict=True)):
        for r, x in zip(rect, (q, k, v), strict=True):
            r[j, :n] = x[s:s + n]
        mask[j, ..., :n] = True
    out = F.scaled_dot_product_attention(*(r.transpose(1, 2) for r in rect), attn_mask=mask).transpose(1, 2)
    return torch.cat([out[j, :n] for j, n in enumerate(packed.lengths)])


SHAPES = {
    "mixed 32 x 8..256": lambda rng: [rng.randint(8, 256) for _ in range(32)],
    "short 64 x 6..24": lambda rng: [rng.randint(6, 24) for _ in range(64)],
    "equal 8 x 512": lambda rng: [512] * 8,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: robust on a loaded machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(0)
    candidates = {"grouped-sdpa": attention.grouped, "per-sequence-sdpa": attention.per_sequence,
                  "nested-sdpa": attention.nested, "padded+mask (reference)": padded_mask}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, heads {args.heads} x {args.dim}")
    for shape, lengths_of in SHAPES.items():
        lengths = lengths_of(rng)
        packed = pack([[5] * n for n in lengths], 1, "cpu")
        q, k, v = (torch.randn(packed.tokens, args.heads, args.dim) for _ in range(3))
        want = attention.per_sequence(q, k, v, packed)
        print(f"\n{shape}: {packed.tokens} tokens, {len(packed.groups)} runs of equal length")
        for name, fn in candidates.items():
            try:
                with torch.no_grad():
                    got = fn(q, k, v, packed)
                    times = []
                    for _ in range(args.reps):
                        t0 = time.perf_counter()
                        fn(q, k, v, packed)
                        times.append(time.perf_counter() - t0)
            except Exception as exc:  # a candidate this torch lacks on the CPU
                print(f"  {name:26s} unavailable: {type(exc).__name__}: {str(exc)[:80]}")
                continue
            err = (got - want).abs().max().item()
            spread = max(times) / min(times)
            print(f"  {name:26s} {statistics.median(times) * 1e3:8.2f} ms  (max/min {spread:.2f})  "
                  f"max |diff| {err:.1e}")


if __name__ == "__main__":
    main()
