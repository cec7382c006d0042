"""How close MaxSim on the compact ColBERT forms stays to full precision: document rankings (Spearman, Kendall
tau-b per query, averaged) and the largest score error, over a fixed corpus embedded by a stand-in model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from local_server.engine.compact import COLBERT_FORMATS, decode_colbert, encode_colbert, maxsim, maxsim_compact

SUBJECTS = ["The capital of France", "A red fox", "Machine learning", "The river Thames", "Quantum computing",
            "Green tea", "The old lighthouse", "Solar panels", "A jazz pianist", "Mount Everest"]
VERBS = ["is known for", "depends on", "was compared with", "changed", "is described by"]
OBJECTS = ["Paris and its museums.", "the quick brown dog.", "large labelled data sets.", "London's bridges.",
           "entangled qubits.", "antioxidants and caffeine.", "storms at sea.", "sunlight in winter.",
           "improvised chords.", "thin air near the summit."]
QUERIES = ["What is the capital of France?", "fox and dog", "how do models learn from data", "bridges in London",
           "qubits entanglement", "is green tea healthy", "lighthouse storm", "solar power in winter",
           "jazz improvisation", "climbing Everest", "人工智能正在改变世界", "Paris museums"]


def documents() -> list[str]:
    """50 short documents: every subject with five verb/object combinations (a fixed, varied corpus)."""
    return [f"{s} {VERBS[j]} {OBJECTS[(i + 3 * j) % len(OBJECTS)]}" for i, s in enumerate(SUBJECTS)
            for j in range(len(VERBS))]


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(np.asarray(a)), _ranks(np.asarray(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def kendall_tau_b(a: np.ndarray, b: np.ndarray) -> float:
    da = np.sign(np.subtract.outer(a, a))
    db = np.sign(np.subtract.outer(b, b))
    upper = np.triu_indices(len(a), 1)
    da, db = da[upper], db[upper]
    return float((da * db).sum() / np.sqrt((da != 0).sum() * (db != 0).sum()))


@dataclass
class Agreement:
    form: str
    side: str  # "asymmetric": float query, compact documents; "symmetric": both compact
    spearman: float  # mean over queries of the document ranking's Spearman correlation with float MaxSim's
    kendall: float  # the same with Kendall's tau-b
    top1: float  # share of queries whose best document stays the best
    max_abs_error: float  # the largest |score - float score| (binary: meaningful on the symmetric estimate)


def measure(queries: list[np.ndarray], docs: list[np.ndarray]) -> list[Agreement]:
    """Every form, both ways of scoring it, against float MaxSim over the queries × documents grid."""
    full = np.array([[maxsim(q, d) for d in docs] for q in queries])
    out = []
    for form in COLBERT_FORMATS[1:]:
        compact_docs = [encode_colbert(d, form) for d in docs]
        compact_queries = [encode_colbert(q, form) for q in queries]
        grids = {
            "asymmetric": np.array([[maxsim(q, decode_colbert(d)) for d in compact_docs] for q in queries]),
            "symmetric": np.array([[maxsim_compact(q, d) for d in compact_docs] for q in compact_queries]),
        }
        for side, grid in grids.items():
            out.append(Agreement(
                form, side,
                spearman=float(np.mean([spearman(f, g) for f, g in zip(full, grid, strict=True)])),
                kendall=float(np.mean([kendall_tau_b(f, g) for f, g in zip(full, grid, strict=True)])),
                top1=float(np.mean(full.argmax(axis=1) == grid.argmax(axis=1))),
                max_abs_error=float(np.abs(full - grid).max())))
    return out


def table(rows: list[Agreement]) -> str:
    lines = ["| form | scoring | Spearman | Kendall τ-b | top-1 kept | max abs score error |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r.form} | {r.side} | {r.spearman:.4f} | {r.kendall:.4f} | {r.top1:.2f} | {r.max_abs_error:.2e} |"
              for r in rows]
    return "\n".join(lines)


def synthetic(dim: int, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Isotropic rows (unlike the stand-ins', which all lean one way): 12 queries of 8 random unit rows, 50
    documents of 24 rows, each document sharing 0..7 of a query's rows plus noise — graded relevance."""
    rng = np.random.default_rng(seed)

    def unit(x: np.ndarray) -> np.ndarray:
        return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)

    queries = [unit(rng.standard_normal((8, dim))) for _ in range(12)]
    docs = []
    for i in range(50):
        rows = rng.standard_normal((24, dim))
        shared = i % 8
        rows[:shared] = queries[i % 12][:shared] * np.sqrt(dim) + rng.standard_normal((shared, dim)) * 1.5
        docs.append(unit(rows))
    return queries, docs


def stand_in_colbert(model_dir: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """QUERIES and documents() through a bge-m3 directory's ColBERT head (our forward, on the CPU)."""
    from local_server.engine.runtime import M3Runtime
    from local_server.engine.types import EmbedNeeds

    m3 = M3Runtime(model_dir, "cpu")

    def colbert(texts: list[str]) -> list[np.ndarray]:
        ids = m3.tokenizer.encode(texts, max_length=8192, truncate=True)
        return [v.colbert for v in m3.forward(ids, EmbedNeeds(dense=False, colbert=True))]

    return colbert(QUERIES), colbert(documents())


if __name__ == "__main__":  # PYTHONPATH=. python tests/support/agreement.py MODEL_DIR...: docs/formats.md's tables
    import sys

    for model_dir in sys.argv[1:]:
        print(f"{model_dir}:\n{table(measure(*stand_in_colbert(model_dir)))}\n")
    print(f"synthetic 1024-d:\n{table(measure(*synthetic(1024)))}")
