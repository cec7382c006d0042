"""Documents per second: bge-m3's hybrid score vs the cross-encoder, on the same documents, side by side.

One process, one ``InferenceCore`` (the server's engine, no HTTP) serving both models; each repetition reranks
the same query and documents with the hybrid score (``hybrid_rerank``: one bge-m3 pass over query + documents,
then dense / sparse / MaxSim on the host), with the cross-encoder (``rerank``: one bge-reranker-v2-m3 pass per
(query, document) pair), and with the cascade (``cascade_k``: the hybrid pass, then k cross-encoder pairs), in
turns (A B C A B C ...) so that a busy machine slows all three alike. The median of the repetitions is reported.

    python bench/hybrid_rerank.py --tiny --reps 1                       # smoke run on the tiny stand-ins
    python bench/hybrid_rerank.py --embedding-model BAAI/bge-m3 --reranker-model BAAI/bge-reranker-v2-m3 \\
        --device cuda --docs 256 --words 200 --reps 5 --json bench/results/hybrid.json

Cost model: the hybrid encodes 1 + n texts of at most 512 tokens each (query and documents apart), the
cross-encoder n pairs of query + document (up to 8192 tokens each); the cascade is the hybrid plus k pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORDS = ("capital", "city", "river", "mountain", "history", "language", "science", "music", "market", "energy",
         "water", "school", "garden", "train", "bridge", "museum", "forest", "island", "winter", "summer",
         "festival", "paper", "engine", "doctor", "village", "ocean")


def documents(count: int, words: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)) + "." for _ in range(count)]


def _settings(args: argparse.Namespace):
    from local_server.config import Settings

    embedder, reranker = args.embedding_model, args.reranker_model
    if args.tiny:
        from local_server.tools.test_models import make_test_models

        target = REPO / ".cache" / "tiny-models"
        if not (target / "bge-reranker-v2-m3" / "config.json").is_file():
            make_test_models(target, "tiny")
        embedder, reranker = str(target / "bge-m3"), str(target / "bge-reranker-v2-m3")
    return Settings(embedding_model=embedder, reranker_model=reranker, device=args.device,
                    max_rerank_documents=max(args.docs, 1))


async def _measure(args: argparse.Namespace) -> dict:
    from local_server.engine.core import InferenceCore
    from local_server.engine.types import HYBRID

    core = InferenceCore(_settings(args))
    await asyncio.to_thread(core.load)
    hybrid, reranker = core.models.of_kind(HYBRID), core.reranker
    assert hybrid is not None and reranker is not None, "the benchmark needs both models"
    query, docs = "which city is the capital by the river", documents(args.docs, args.words)
    k = min(args.cascade_k, len(docs))
    runs = {
        "hybrid": lambda: core.hybrid_rerank(hybrid, query, docs),
        "cross_encoder": lambda: core.rerank(reranker, query, docs),
        f"cascade_k{k}": lambda: core.hybrid_rerank(hybrid, query, docs, cascade_k=k),
    }
    for run in runs.values():  # warm-up: first-call costs (allocations, kernel choices) stay out of the numbers
        await run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.reps):
        for name, run in runs.items():
            start = time.perf_counter()
            await run()
            seconds[name].append(time.perf_counter() - start)
    core.close()
    result = {"docs": len(docs), "words_per_doc": args.words, "reps": args.reps, "device": args.device or "auto",
              "embedder": hybrid.path, "reranker": reranker.path, "runs": {}}
    for name, times in seconds.items():
        median = statistics.median(times)
        result["runs"][name] = {"median_s": round(median, 4), "docs_per_s": round(len(docs) / median, 1)}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedding-model", default="BAAI/bge-m3")
    parser.add_argument("--reranker-model", default="BAAI/bge-reranker-v2-m3")
    parser.add_argument("--tiny", action="store_true", help="the tiny offline stand-ins (a smoke run)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:0 (default: the server's choice)")
    parser.add_argument("--docs", type=int, default=64, help="documents per request")
    parser.add_argument("--words", type=int, default=120, help="words per document")
    parser.add_argument("--cascade-k", type=int, default=16, help="the cascade's shortlist")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions of each (the median is reported)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    if args.docs < 1 or args.reps < 1 or args.cascade_k < 1:
        parser.error("--docs, --reps and --cascade-k must be at least 1")
    result = asyncio.run(_measure(args))
    print(f"{result['docs']} documents of {result['words_per_doc']} words, median of {result['reps']}:")
    for name, run in result["runs"].items():
        print(f"  {name:<16} {run['docs_per_s']:>10.1f} docs/s   ({run['median_s']:.4f} s per request)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
