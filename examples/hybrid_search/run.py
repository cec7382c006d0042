"""Hybrid search with bge-local and Qdrant's embedded mode: index, retrieve, fuse, rerank three ways.

    python examples/hybrid_search/run.py --url http://127.0.0.1:8000 [--api-key KEY]

1. Every passage of corpus.py is embedded once by bge-m3 (/v1/embeddings with return_sparse and
   return_colbert_vecs) and stored in Qdrant (in this process) as a dense, a sparse and a ColBERT multivector.
2. Each query is embedded the same way; Qdrant retrieves the top k by dense and by sparse, and fuses the two
   lists with Reciprocal Rank Fusion (prefetch + RRF).
3. The fused candidates are reranked by the M3 hybrid score (/v1/rerank, model bge-m3-hybrid: bge-m3's dense,
   sparse and ColBERT scores weighted), by the cross-encoder (bge-reranker-v2-m3) and by ColBERT MaxSim inside
   Qdrant (the multivector), and every stage's ranking is printed side by side.

``--json FILE`` also writes every stage's ranking as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from pathlib import Path

from bge import BgeLocal, BgeLocalError, Encoded, Reranking
from corpus import PASSAGES, QUERIES
from store import Hit, PassageStore

HYBRID_MODEL = "bge-m3-hybrid"
CROSS_ENCODER = "bge-reranker-v2-m3"
STAGES = ["dense", "sparse", "fused (RRF)", "M3 hybrid", "cross-encoder", "ColBERT MaxSim"]
MAX_TOP_K = 64
CELL = 18  # characters per column: a key (up to 8) and a score


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="bge-local's address")
    parser.add_argument("--api-key", default=None, help="the server's --api-key, if it has one")
    parser.add_argument("--query", action="append", default=None,
                        help="a query (repeat for several); default: four queries in four languages")
    parser.add_argument("--top-k", type=int, default=8,
                        help=f"candidates from each retriever and after fusion, the rerankers' input (1..{MAX_TOP_K})")
    parser.add_argument("--hybrid-weights", default=None, metavar="D,S,C",
                        help="the M3 hybrid score's dense,sparse,colbert weights (default: the server's)")
    parser.add_argument("--qdrant-path", default=":memory:",
                        help="where Qdrant keeps the collection: a folder, or :memory: (default)")
    parser.add_argument("--json", type=Path, default=None, help="also write every stage's ranking to this file")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per HTTP request")
    args = parser.parse_args(argv)
    if not 1 <= args.top_k <= MAX_TOP_K:
        parser.error(f"--top-k must be between 1 and {MAX_TOP_K}")
    if args.hybrid_weights is not None:
        try:
            args.hybrid_weights = [float(w) for w in args.hybrid_weights.split(",")]
        except ValueError:
            args.hybrid_weights = []
        if len(args.hybrid_weights) != 3:
            parser.error("--hybrid-weights takes three numbers: dense,sparse,colbert (e.g. 0.4,0.2,0.4)")
    return args


def search(bge: BgeLocal, store: PassageStore, query: str, encoded: Encoded, args: argparse.Namespace) -> dict:
    """One query through every stage: {stage: [Hit, ...]}, plus what the M3 hybrid call answered."""
    k = args.top_k
    fused = store.fused(encoded, k)
    texts = [hit.text for hit in fused]
    extra: dict[str, object] = {"return_components": True}
    if args.hybrid_weights:
        extra["hybrid_weights"] = args.hybrid_weights
    hybrid = bge.rerank(HYBRID_MODEL, query, texts, **extra)
    cross = bge.rerank(CROSS_ENCODER, query, texts)
    return {
        "stages": {
            "dense": store.dense(encoded, k),
            "sparse": store.sparse(encoded, k),
            "fused (RRF)": fused,
            "M3 hybrid": _reordered(fused, hybrid),
            "cross-encoder": _reordered(fused, cross),
            "ColBERT MaxSim": store.colbert_rerank(encoded, k),
        },
        "hybrid": hybrid,
    }


def _reordered(candidates: list[Hit], reranking: Reranking) -> list[Hit]:
    return [Hit(candidates[r.index].key, r.score, candidates[r.index].text) for r in reranking.results]


def _width(text: str) -> int:
    """Columns a terminal gives ``text`` (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, columns: int) -> str:
    out = ""
    for ch in text:
        if _width(out + ch) > columns - 1:
            return out + "…"
        out += ch
    return out


def render(query: str, lang: str, result: dict) -> str:
    stages: dict[str, list[Hit]] = result["stages"]
    title = f"Query [{lang}]: {query}" if lang else f"Query: {query}"
    lines = [title, ("  # " + "".join(f"{name:<{CELL}}" for name in STAGES)).rstrip()]
    for rank in range(max(len(hits) for hits in stages.values())):
        cells = [f"{hits[rank].key:<9}{hits[rank].score:>7.3f}  " if rank < len(hits) else " " * CELL
                 for hits in stages.values()]
        lines.append(f"{rank + 1:>3} " + "".join(cells).rstrip())
    hybrid: Reranking = result["hybrid"]
    if any(r.components is not None for r in hybrid.results):
        fused = stages["fused (RRF)"]
        parts = [f"{fused[r.index].key} d={c['dense']:.3f} s={c['sparse']:.3f} c={c['colbert']:.3f}"
                 for r in hybrid.results if (c := r.components)]
        lines.append("    M3 hybrid components: " + "; ".join(parts))
    else:
        lines.append(f"    M3 hybrid: no components in the answer (model {hybrid.model!r}): this server does not "
                     f"serve {HYBRID_MODEL}")
    lines += [f"    {hit.key:<9}{_clip(hit.text, 90)}" for hit in stages["fused (RRF)"]]
    return "\n".join(lines)


def as_json(query: str, lang: str, result: dict) -> dict:
    hybrid: Reranking = result["hybrid"]
    stages = {name: [{"key": hit.key, "score": hit.score} for hit in hits] for name, hits in result["stages"].items()}
    for entry, ranked in zip(stages["M3 hybrid"], hybrid.results, strict=True):
        entry["components"] = ranked.components
    return {"query": query, "lang": lang, "stages": stages, "hybrid_model": hybrid.model}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    queries = [("", q) for q in args.query] if args.query else QUERIES
    bge = BgeLocal(args.url, args.api_key, args.timeout)
    store = PassageStore(args.qdrant_path)
    try:
        encoded = bge.embed([p.text for p in PASSAGES])
        store.index(PASSAGES, encoded)
        languages = sorted({p.lang for p in PASSAGES})
        print(f"Indexed {store.count()} passages ({', '.join(languages)}) in Qdrant ({args.qdrant_path}): "
              f"dense {len(encoded[0].dense)}-d, sparse, ColBERT multivectors (MaxSim); top {args.top_k} per stage\n")
        report = []
        for (lang, query), query_encoded in zip(queries, bge.embed([q for _, q in queries]), strict=True):
            result = search(bge, store, query, query_encoded, args)
            print(render(query, lang, result) + "\n")
            report.append(as_json(query, lang, result))
    except BgeLocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        bge.close()
        store.close()
    if args.json is not None:
        args.json.write_text(json.dumps({"passages": len(PASSAGES), "queries": report}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
