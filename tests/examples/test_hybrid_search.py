"""examples/hybrid_search/run.py end to end, as a user runs it: a subprocess against the real server on the tiny
models, Qdrant's embedded mode in that subprocess. Plumbing, not quality (the tiny models' rankings mean
nothing): every stage printed for every query, the right counts, the rerankers reordering exactly the fused
candidates, no error.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.server import REPO

EXAMPLE = REPO / "examples" / "hybrid_search"
STAGES = ["dense", "sparse", "fused (RRF)", "M3 hybrid", "cross-encoder", "ColBERT MaxSim"]
RERANKED = ["M3 hybrid", "cross-encoder", "ColBERT MaxSim"]
TOP_K = 8  # run.py's default


def _corpus():
    spec = importlib.util.spec_from_file_location("hybrid_search_corpus", EXAMPLE / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORPUS = _corpus()
KEYS = {p.key for p in CORPUS.PASSAGES}


def run_example(*args: str) -> subprocess.CompletedProcess[str]:
    # the timeout is a bound for a stuck run, not a timing assertion
    return subprocess.run([sys.executable, str(EXAMPLE / "run.py"), *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO)


@pytest.fixture(scope="module")
def default_run(server, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    """The README's command (default queries, Qdrant in memory), with --json to read the rankings back."""
    out = tmp_path_factory.mktemp("hybrid-search") / "rankings.json"
    done = run_example("--url", server.url, "--json", str(out))
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done, json.loads(out.read_text())


def test_corpus_is_a_few_dozen_multilingual_passages() -> None:
    assert 24 <= len(CORPUS.PASSAGES) == len(KEYS) <= 60
    assert {"zh", "en", "ja"} <= {p.lang for p in CORPUS.PASSAGES}


def test_every_stage_is_printed_for_every_query(default_run) -> None:
    done, _ = default_run
    assert "Traceback" not in done.stderr and "error" not in done.stderr.lower(), done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"Indexed {len(CORPUS.PASSAGES)} passages ")
    titles = [i for i, line in enumerate(lines) if line.startswith("Query [")]
    assert [lines[i] for i in titles] == [f"Query [{lang}]: {text}" for lang, text in CORPUS.QUERIES]
    for i in titles:
        header = lines[i + 1]
        positions = [header.index(stage) for stage in STAGES]
        assert positions == sorted(positions), header  # side by side, in stage order
        rows = lines[i + 2:i + 2 + TOP_K]
        assert [row.split()[0] for row in rows] == [str(rank) for rank in range(1, TOP_K + 1)]


def test_each_stage_ranks_the_right_candidates(default_run) -> None:
    _, report = default_run
    assert report["passages"] == len(CORPUS.PASSAGES)
    assert [(q["lang"], q["query"]) for q in report["queries"]] == CORPUS.QUERIES
    for query in report["queries"]:
        stages = query["stages"]
        assert list(stages) == STAGES
        for name, hits in stages.items():
            assert {hit["key"] for hit in hits} <= KEYS, name
            assert len({hit["key"] for hit in hits}) == len(hits), name
            scores = [hit["score"] for hit in hits]
            assert scores == sorted(scores, reverse=True), f"{name} is not best first: {scores}"
        assert len(stages["dense"]) == len(stages["fused (RRF)"]) == TOP_K
        assert 0 < len(stages["sparse"]) <= TOP_K
        fused = {hit["key"] for hit in stages["fused (RRF)"]}
        assert fused <= {hit["key"] for hit in stages["dense"] + stages["sparse"]}
        for name in RERANKED:  # each reranker reorders exactly the fused candidates
            assert sorted(hit["key"] for hit in stages[name]) == sorted(fused), name
        assert all(0 <= hit["score"] <= 1 for hit in stages["cross-encoder"])


def test_m3_hybrid_stage_is_bge_m3s_hybrid_score(default_run) -> None:
    """The "bge-m3-hybrid" rerank model: scores in 0..1 (the weighted sum, clipped) and, asked for them, each
    result's dense, sparse and ColBERT parts and their unclipped weighted sum."""
    done, report = default_run
    for query in report["queries"]:
        for hit in query["stages"]["M3 hybrid"]:
            assert 0 <= hit["score"] <= 1
            components = hit["components"]
            assert isinstance(components, dict), f"no components from {query['hybrid_model']!r}"
            assert set(components) == {"dense", "sparse", "colbert", "hybrid"}  # hybrid: the unclipped sum
            assert all(isinstance(v, float) for v in components.values())
            assert hit["score"] == pytest.approx(min(max(components["hybrid"], 0.0), 1.0), abs=1e-6)
    assert done.stdout.count("M3 hybrid components: ") == len(CORPUS.QUERIES)


def test_api_key_and_a_qdrant_folder(keyed_server, tmp_path: Path) -> None:
    folder = tmp_path / "qdrant"
    common = ["--url", keyed_server.url, "--qdrant-path", str(folder), "--query", "长城有多长？", "--top-k", "3"]
    for _ in range(2):  # the second run finds the collection in the folder and rebuilds it
        done = run_example(*common, "--api-key", "test-key-1")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0].startswith(f"Indexed {len(CORPUS.PASSAGES)} passages ")
        assert "Query: 长城有多长？" in done.stdout
    assert any(folder.iterdir())

    refused = run_example(*common)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: POST /v1/embeddings answered 401"), refused.stderr
    assert "Traceback" not in refused.stderr
