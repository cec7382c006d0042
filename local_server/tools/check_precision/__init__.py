"""``bge-local check-precision``: how close each reduced precision comes to fp32 on YOUR model and texts, and
how fast each runs on this machine, before you serve with ``--precision``.

For the embedding model: dense cosine, sparse-weight correlation and ColBERT agreement (each text's token
vectors against fp32's by MaxSim, and the order MaxSim gives the documents of each query); for the reranker:
the order it gives each query's documents (Kendall's tau) and the largest change of a 0..1 score. Texts: a
built-in multilingual sample (``sample.py``) or ``--texts FILE`` (one per line; the first ``--queries`` lines
are the queries, the others their documents). Runs on the CPU, one precision loaded at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from local_server.engine.precision import NATIVE_BF16_FLAGS, VNNI_FLAGS, cpu_flags, resolve
from local_server.tools.check_precision.report import render_text
from local_server.tools.check_precision.sample import QUERIES, SAMPLE, read_texts

CHOICES = ("fp32", "bf16", "int8")
MAX_TEXTS = 200
MAX_CHARS = 20000  # per text read from --texts (a line longer than any max length is cut anyway)


class UsageError(ValueError):
    """A wrong command line; the message says what to give instead."""


def parse_precisions(value: str) -> list[str]:
    """``bf16,int8`` -> ``["fp32", "bf16", "int8"]``: fp32 (the reference) always first, each at most once."""
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    aliases = {"float32": "fp32", "bfloat16": "bf16"}
    names = [aliases.get(n, n) for n in names]
    wrong = [n for n in names if n not in CHOICES]
    if wrong or not names:
        raise UsageError(f"--precisions: choose from {', '.join(CHOICES)} (comma-separated); got {value!r}")
    return list(dict.fromkeys(["fp32", *names]))


def _directory(value: str | None, option: str) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    if not (path / "config.json").is_file():
        raise UsageError(f"{option} {value}: not a model directory (no config.json); fetch the model with "
                         "`bge-local download` and give its directory")
    return path


def _texts(args: argparse.Namespace) -> tuple[list[str], str]:
    if args.texts is None:
        return list(SAMPLE[:args.max_texts]), "built-in multilingual sample"
    try:
        texts = read_texts(args.texts, args.max_texts, MAX_CHARS)
    except ValueError as exc:
        raise UsageError(f"--texts: {exc}") from None
    if len(texts) < 2:
        raise UsageError(f"--texts {args.texts}: needs at least 2 non-blank lines (queries first, then documents)")
    return texts, str(args.texts)


def _bounded(value: int, option: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise UsageError(f"{option}: must be between {low} and {high}; got {value}")
    return value


def check(args: argparse.Namespace) -> dict[str, Any]:
    """The whole report as plain data (``--json`` prints it as is)."""
    import torch

    from local_server.engine.runtime import M3Runtime, RerankerRuntime
    from local_server.tools.check_precision import measure

    embedder = _directory(args.embedding_model, "--embedding-model")
    reranker = _directory(args.reranker_model, "--reranker-model")
    if embedder is None and reranker is None:
        raise UsageError("give --embedding-model DIR, --reranker-model DIR or both")
    precisions = parse_precisions(args.precisions)
    _bounded(args.max_texts, "--max-texts", 2, 100000)
    max_length = _bounded(args.max_length, "--max-length", 8, 8192)
    repeat = _bounded(args.repeat, "--repeat", 1, 100)
    texts, source = _texts(args)
    queries = min(_bounded(args.queries, "--queries", 1, args.max_texts), len(texts) // 2)
    flags = cpu_flags()
    auto = resolve("auto", "cpu", flags=flags)
    report: dict[str, Any] = {
        "texts": len(texts), "source": source, "queries": queries, "documents": len(texts) - queries,
        "max_length": max_length, "repeat": repeat,
        "machine": {"cpu_flags": sorted((NATIVE_BF16_FLAGS | VNNI_FLAGS) & flags), "auto": auto.name,
                    "auto_reason": auto.reason, "threads": torch.get_num_threads()}}
    if embedder is not None:
        def encode_texts(tokenizer: Any) -> list[list[int]]:
            return tokenizer.encode(texts, max_length=max_length, truncate=True)

        runs = [measure.timed_run(lambda p=p: M3Runtime(str(embedder), "cpu", precision=p), p, encode_texts,
                                  measure.ALL, repeat) for p in precisions]
        report["embedding"] = {"model": str(embedder), "text_similarity": measure.text_similarity(runs[0]),
                               "precisions": {
            run.precision: {**measure.compare_embeddings(runs[0], run, queries), "speed": measure.speed(runs[0], run)}
            for run in runs}}
    if reranker is not None:
        pairs = [(q, d) for q in texts[:queries] for d in texts[queries:]]

        def encode_pairs(tokenizer: Any) -> list[list[int]]:
            return tokenizer.encode_pairs(pairs, max_length=max_length, truncate=True)

        runs = [measure.timed_run(lambda p=p: RerankerRuntime(str(reranker), "cpu", precision=p), p, encode_pairs,
                                  None, repeat) for p in precisions]
        report["reranker"] = {"model": str(reranker), "pairs": len(pairs), "precisions": {
            run.precision: {**measure.compare_rerank(runs[0], run, queries), "speed": measure.speed(runs[0], run)}
            for run in runs}}
    return report


def run(args: argparse.Namespace) -> int:
    try:
        report = check(args)
    except UsageError as exc:
        print(f"bge-local check-precision: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(render_text(report))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedding-model", metavar="DIR", help="the bge-m3 directory (as `bge-local download` "
                                                                 "writes it)")
    parser.add_argument("--reranker-model", metavar="DIR", help="the reranker's directory")
    parser.add_argument("--texts", metavar="FILE", help="UTF-8 file, one text per line: the first --queries lines "
                                                        "are queries, the rest documents (default: a built-in "
                                                        "multilingual sample)")
    parser.add_argument("--precisions", default="fp32,bf16,int8",
                        help="comma-separated, from fp32, bf16, int8 (fp32 is always measured: the reference)")
    parser.add_argument("--queries", type=int, default=QUERIES, help=f"how many of the first texts are queries "
                                                                      f"(default {QUERIES})")
    parser.add_argument("--max-texts", type=int, default=MAX_TEXTS,
                        help=f"read at most this many texts (default {MAX_TEXTS})")
    parser.add_argument("--max-length", type=int, default=512,
                        help="tokens per input (per query+document pair); longer ones are cut (default 512)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per precision; the best counts "
                                                              "(default 3)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check-precision", help="how close bf16 / int8 come to fp32 on your model and texts, and how fast each is",
        description="Runs your embedding model and reranker in each precision on the CPU over a sample of texts "
                    "(built-in multilingual, or --texts FILE) and prints their agreement with fp32 (dense cosine, "
                    "sparse correlation, ColBERT MaxSim, rerank order) and their speed on this machine.")
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bge-local check-precision")
    add_arguments(parser)
    return run(parser.parse_args(argv))
