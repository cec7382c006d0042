"""The check's answer as a text table (one per model) or as JSON (``--json``: the same numbers)."""

from __future__ import annotations

import math
from typing import Any

_EMBED_COLUMNS = (("dense cos mean/min", "dense_cosine"), ("sparse corr mean/min", "sparse_correlation"),
                  ("ColBERT MaxSim mean/min", "colbert_maxsim"), ("ColBERT rank tau mean/min", "colbert_rank_tau"))
_RERANK_COLUMNS = (("rank tau mean/min", "rank_tau"),)
SIMILAR = 0.9  # mean cosine between different texts above which the model is not telling them apart


def _pair(value: dict[str, float] | None) -> str:
    if not value or math.isnan(value["mean"]):
        return "-"
    return f"{value['mean']:.4f} / {value['min']:.4f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
             for line in (header, *rows)]
    return "\n".join(lines)


def _speed(entry: dict[str, Any]) -> list[str]:
    s = entry["speed"]
    return [f"{s['tokens_per_s']:.0f}", f"{s['vs_fp32']:.2f}x"]


def _section(title: str, section: dict[str, Any], columns: tuple[tuple[str, str], ...], extra: tuple[str, str],
             ) -> str:
    header = ["precision", *(name for name, _ in columns), extra[0], "tokens/s", "vs fp32"]
    rows = []
    for name, entry in section["precisions"].items():
        diff = entry.get(extra[1])
        rows.append([name, *(_pair(entry.get(key)) for _, key in columns),
                     "-" if diff is None else f"{diff:.4f}", *_speed(entry)])
    return f"{title}: {section['model']}\n{_table(header, rows)}"


def render_text(report: dict[str, Any]) -> str:
    machine = report["machine"]
    flags = ", ".join(machine["cpu_flags"]) or "none of avx512_bf16, amx_bf16, avx512_vnni, amx_int8"
    lines = [f"{report['texts']} texts ({report['source']}), {report['queries']} of them queries; inputs cut at "
             f"{report['max_length']} tokens; speed: best of {report['repeat']} runs on {machine['threads']} "
             "threads",
             f"CPU: {flags}; --precision auto would run {machine['auto']} here ({machine['auto_reason']})", ""]
    if "embedding" in report:
        lines += [_section("embedding model", report["embedding"], _EMBED_COLUMNS,
                           ("ColBERT max |dscore|", "colbert_score_diff_max")), ""]
        similarity = report["embedding"]["text_similarity"]
        if similarity > SIMILAR:
            lines += [f"Note: in fp32 these texts' dense vectors are nearly one vector (mean cosine {similarity:.3f}): "
                      "a randomly initialised stand-in? Its agreement numbers say little about a real model.", ""]
    if "reranker" in report:
        lines += [_section("reranker", report["reranker"], _RERANK_COLUMNS, ("max |dscore|", "score_diff_max")),
                  ""]
    lines.append("Each precision against fp32 on these texts: 1.0000 is identical. README.md (Precision) says what "
                 "to look for.")
    return "\n".join(lines)
