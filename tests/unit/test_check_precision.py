"""`bge-local check-precision` end to end through the CLI on the tiny models, its usage errors, and its measures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.server import REPO

from local_server.tools import check_precision
from local_server.tools.check_precision.measure import batches, kendall_tau, sparse_correlation


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local_server", "check-precision", *argv], cwd=REPO,
                          capture_output=True, text=True, timeout=900)


def test_json_report_on_both_models_with_the_built_in_sample(tiny_models: Path):
    result = cli("--embedding-model", str(tiny_models / "bge-m3"), "--reranker-model",
                 str(tiny_models / "bge-reranker-v2-m3"), "--precisions", "bf16,int8", "--repeat", "1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["source"] == "built-in multilingual sample" and report["texts"] >= 30 and report["queries"] == 6
    assert report["machine"]["auto"] in ("fp32", "bf16") and report["machine"]["auto_reason"]
    embedding, reranker = report["embedding"]["precisions"], report["reranker"]["precisions"]
    assert list(embedding) == list(reranker) == ["fp32", "bf16", "int8"]
    assert embedding["fp32"]["dense_cosine"]["min"] == pytest.approx(1.0, abs=1e-6)
    assert embedding["fp32"]["colbert_rank_tau"]["min"] == reranker["fp32"]["rank_tau"]["min"] == 1.0
    for name in ("bf16", "int8"):
        e = embedding[name]
        assert e["dense_cosine"]["min"] >= 0.999 and e["sparse_correlation"]["min"] >= 0.98
        assert e["colbert_maxsim"]["min"] >= 0.998 and -1 <= e["colbert_rank_tau"]["min"] <= 1
        assert reranker[name]["score_diff_max"] <= 0.02
        assert e["speed"]["tokens_per_s"] > 0 and reranker[name]["speed"]["vs_fp32"] > 0  # no timing is judged
    assert report["reranker"]["pairs"] == 6 * (report["texts"] - 6)
    assert -1 <= report["embedding"]["text_similarity"] < 1


def test_table_on_the_users_own_texts_for_the_reranker_alone(tiny_models: Path, tmp_path: Path):
    texts = tmp_path / "texts.txt"
    texts.write_text("什么是向量数据库？\nWhat is a vector database?\n\n向量数据库存储嵌入。\n"
                     "A vector database stores embeddings.\nLes chats dorment beaucoup.\n", encoding="utf-8")
    result = cli("--reranker-model", str(tiny_models / "bge-reranker-v2-m3"), "--texts", str(texts),
                 "--queries", "2", "--precisions", "int8", "--repeat", "1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"5 texts ({texts}), 2 of them queries" in out
    assert "reranker: " in out and "embedding model" not in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("fp32 ", "int8 "))}
    assert set(rows) == {"fp32", "int8"} and "1.0000 / 1.0000" in rows["fp32"] and rows["int8"].endswith("x")


@pytest.mark.parametrize(("argv", "message"), [
    ((), "give --embedding-model DIR, --reranker-model DIR or both"),
    (("--reranker-model", "{models}/bge-reranker-v2-m3", "--precisions", "fp8"), "--precisions: choose from"),
    (("--embedding-model", "{tmp}"), "not a model directory"),
    (("--reranker-model", "{models}/bge-reranker-v2-m3", "--texts", "{tmp}/one.txt"), "at least 2 non-blank"),
    (("--reranker-model", "{models}/bge-reranker-v2-m3", "--texts", "{tmp}/absent.txt"), "cannot read"),
    (("--reranker-model", "{models}/bge-reranker-v2-m3", "--repeat", "0"), "--repeat: must be between"),
])
def test_usage_errors_say_what_to_give(tiny_models: Path, tmp_path: Path, capsys, argv, message):
    (tmp_path / "one.txt").write_text("only one line\n", encoding="utf-8")
    argv = [a.format(models=tiny_models, tmp=tmp_path) for a in argv]
    assert check_precision.main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_subcommand_is_listed():
    result = subprocess.run([sys.executable, "-m", "local_server", "--help"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert "check-precision" in result.stdout


def test_measures():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert kendall_tau([1, 1, 2], [5, 5, 9]) == 1.0  # the same ties on both sides
    assert kendall_tau([1], [2]) == 1.0
    assert sparse_correlation({1: 0.5, 2: 0.1, 3: 0.3}, {1: 0.5, 2: 0.1, 3: 0.3}) == pytest.approx(1.0)
    assert sparse_correlation({1: 0.5, 2: 0.1}, {3: 0.5, 4: 0.1}) < 0
    assert sparse_correlation({}, {}) == 1.0
    sizes = [len(b) for b in batches([[0] * 9000, [0] * 9000, [0] * 10] + [[0] * 5] * 200)]
    assert sizes == [1, 128, 74]  # a token budget, then the input cap


def test_a_model_that_maps_every_text_to_one_vector_is_flagged():
    import numpy as np

    from local_server.engine.types import EmbeddingVectors
    from local_server.tools.check_precision.measure import Run, text_similarity
    from local_server.tools.check_precision.report import render_text

    def run(rows: list[list[float]]) -> Run:
        return Run("fp32", [EmbeddingVectors(dense=np.array(r, dtype=np.float32)) for r in rows], 10, 1.0)

    collapsed = text_similarity(run([[1, 0.01], [1, -0.01], [1, 0.02]]))
    assert collapsed > 0.99 and text_similarity(run([[1, 0], [0, 1], [-1, 0]])) < 0
    report = {"texts": 3, "source": "s", "queries": 1, "max_length": 8, "repeat": 1,
              "machine": {"cpu_flags": [], "auto": "fp32", "auto_reason": "r", "threads": 1},
              "embedding": {"model": "m", "text_similarity": collapsed, "precisions": {}}}
    assert "nearly one vector" in render_text(report)
    report["embedding"]["text_similarity"] = 0.3
    assert "nearly one vector" not in render_text(report)
