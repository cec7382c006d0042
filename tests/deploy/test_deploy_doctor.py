"""`bge-local doctor` against the real server (tests/conftest.py runs it on 127.0.0.1 with the tiny models)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.server import REPO, ServerProcess

from local_server.clients import forms as paste_table
from local_server.tools import doctor

CHECKS = [
    "health",
    "models",
    "auth",
    "embeddings_float",
    "embeddings_base64",
    "tei_embed",
    "rerank_v1",
    "rerank_root",
    "tei_rerank",
    "score",
    "token_ids",
    "tei_models",
    "xinference",
    "cohere",
    "ollama",
    "ollama_embeddings",
    "ollama_rerank",
    "tei_root",
    "rerank_document",
    "hybrid",
    "url_mistakes",
]


def run_doctor(capsys, *argv: str) -> tuple[int, str]:
    rc = doctor.main(list(argv))
    return rc, capsys.readouterr().out


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    rc, out = run_doctor(capsys, *argv, "--json")
    return rc, json.loads(out)


def by_id(report: dict) -> dict[str, dict]:
    return {c["id"]: c for c in report["checks"]}


def paste(report: dict, app: str, client: str, form: str, hybrid: bool = False) -> dict:
    """The row of ``client``'s ``form``: the cross-encoder's, or with ``hybrid`` the hybrid's (a rerank form)."""
    (row,) = [r for r in report["paste"] if (r["app"], r["client"], r["form"]) == (app, client, form)
              and (r["model"] == "bge-m3-hybrid") == hybrid]
    return row


def test_a_healthy_server_passes_every_check(server, capsys, monkeypatch):
    monkeypatch.delenv("BGE_LOCAL_API_KEY", raising=False)
    rc, report = run_json(capsys, server.url)
    checks = by_id(report)
    assert [c["id"] for c in report["checks"]] == CHECKS
    assert {k: c["ok"] for k, c in checks.items()} == dict.fromkeys(CHECKS, True), checks
    assert rc == 0 and report["ok"] is True
    assert report["models"] == {"embedding": "bge-m3", "reranker": "bge-reranker-v2-m3", "hybrid": "bge-m3-hybrid"}
    assert report["hybrid"] == "bge-m3-hybrid"  # the name /health lists under the embedder's also_serves
    assert checks["hybrid"]["detail"].startswith("bge-m3-hybrid: 2 scores in 0..1")
    assert "components dense, sparse, colbert" in checks["hybrid"]["detail"]
    for app, client in (("Dify", "OpenAI-API-compatible"), ("RAGFlow", "VLLM")):
        assert paste(report, app, client, "rerank", hybrid=True)["ok"] is True
    assert all(c["ms"] is not None and c["ms"] >= 0 for c in report["checks"])
    assert "2 vectors × 32 dims" in checks["embeddings_float"]["detail"]  # the tiny model is 32 wide
    assert checks["rerank_v1"]["status"] == 200
    # every row a user can paste is backed by a passing check, except the two impossible providers
    failing = {(r["app"], r["client"], r["form"]) for r in report["paste"] if not r["ok"]}
    assert failing == {("RAGFlow", "Cohere", "embedding"), ("RAGFlow", "Jina", "embedding")}


def test_the_text_report_shows_marks_latency_and_what_to_paste(server, capsys, monkeypatch):
    monkeypatch.delenv("BGE_LOCAL_API_KEY", raising=False)
    rc, out = run_doctor(capsys, server.url + "/v1/")  # what users paste: the doctor finds the root
    assert rc == 0
    assert f"bge-local doctor: {server.url}  (API key not given)" in out
    assert "✔  POST /v1/embeddings  float" in out and " ms  " in out and "✘" not in out.split("WHAT TO PASTE")[0]
    assert f"{len(CHECKS)} passed, 0 failed, 0 skipped" in out
    lines = out.splitlines()

    def line(provider: str, model_type: str, app_header: str) -> str:
        start = next(i for i, s in enumerate(lines) if s.strip().startswith(app_header))
        return next(s for s in lines[start:] if f" {provider} " in s and f" {model_type} " in s)

    assert f"{server.url}/v1 " in line("OpenAI-API-compatible", "embedding", "Dify")
    assert line("OpenAI-API-compatible", "rerank", "Dify").split("→")[0].rstrip().endswith(server.url)
    assert "→ /v1/embeddings" in line("OpenAI-API-Compatible", "embedding", "RAGFlow")
    hf_rerank = line("HuggingFace", "rerank", "RAGFlow")
    assert f" {server.url.removeprefix('http://')} " in hf_rerank
    assert "loopback address" in out  # Dify/RAGFlow in Docker cannot use 127.0.0.1


def test_a_closed_port_fails_clearly(closed_port, capsys):
    rc, out = run_doctor(capsys, f"http://127.0.0.1:{closed_port}")
    assert rc == 1
    assert "✘  GET  /health" in out and "cannot connect" in out
    assert f"0 passed, 1 failed, {len(CHECKS) - 1} skipped" in out
    assert "could not be reached" in out and "journalctl -u bge-local" in out
    assert "WHAT TO PASTE" not in out


def test_a_server_whose_model_failed_to_load_exits_and_doctor_says_unreachable(tmp_path, capsys):
    """A broken model directory stops the server (exit 1, reason in the log) so that systemd or Docker
    restart it and the operator sees why; the doctor then reports the server as unreachable."""
    broken = tmp_path / "bge-m3"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    proc = ServerProcess(None, "--embedding-model", str(broken), "--reranker-model", "none", wait_ready=False,
                         log_dir=tmp_path).start()
    try:
        assert proc.proc.wait(600) == 1
        assert "model loading failed" in proc.log()
        rc, out = run_doctor(capsys, proc.url)
    finally:
        proc.stop()
    assert rc == 1
    assert "✘" in next(line for line in out.splitlines() if "/health" in line)


def test_a_wrong_key_fails_and_says_so(keyed_server, capsys):
    rc, report = run_json(capsys, keyed_server.url, "--api-key", "not-the-key")
    checks = by_id(report)
    assert rc == 1 and report["ok"] is False
    assert checks["models"]["ok"] is False and checks["models"]["status"] == 401
    assert "the server refused this API key" in checks["models"]["detail"]
    assert checks["auth"]["ok"] is True  # the server does refuse requests without the key
    assert all(checks[c]["ok"] is None and checks[c]["detail"] == "not run: API key refused" for c in CHECKS[3:])
    assert {r["status"] for r in report["paste"] if r["url"]} == {"not checked"}


def test_a_missing_key_is_named(keyed_server, capsys, monkeypatch):
    monkeypatch.delenv("BGE_LOCAL_API_KEY", raising=False)
    rc, report = run_json(capsys, keyed_server.url)
    checks = by_id(report)
    assert rc == 1
    assert "pass the server's key with --api-key" in checks["models"]["detail"]
    assert checks["auth"]["ok"] is False and "wants an API key" in checks["auth"]["detail"]


def test_the_right_key_passes_and_flags_providers_that_send_none(keyed_server, capsys):
    rc, report = run_json(capsys, keyed_server.url, "--api-key", "test-key-2")
    checks = by_id(report)
    assert rc == 0, checks
    assert "get 401" in checks["auth"]["detail"]
    hf = paste(report, "RAGFlow", "HuggingFace", "embedding")
    assert hf["ok"] is False and hf["status"] == paste_table.NO_KEY_NOTE
    assert paste(report, "RAGFlow", "LocalAI", "embedding")["ok"] is False
    assert paste(report, "RAGFlow", "VLLM", "rerank")["ok"] is True


def test_the_key_comes_from_the_environment(keyed_server, capsys, monkeypatch):
    monkeypatch.setenv("BGE_LOCAL_API_KEY", "test-key-1")
    rc, report = run_json(capsys, keyed_server.url)
    assert rc == 0 and report["api_key_given"] is True


def test_a_key_given_to_a_server_without_one_is_reported(server, capsys):
    rc, report = run_json(capsys, server.url, "--api-key", "sk-expected")
    auth = by_id(report)["auth"]
    assert rc == 1
    assert auth["ok"] is False and "runs without an API key" in auth["detail"]


def test_an_embedding_only_server_skips_the_rerank_checks(embedder_only_server, capsys, monkeypatch):
    monkeypatch.delenv("BGE_LOCAL_API_KEY", raising=False)
    rc, report = run_json(capsys, embedder_only_server.url)
    checks = by_id(report)
    assert rc == 0, checks
    assert report["models"] == {"embedding": "bge-m3", "hybrid": "bge-m3-hybrid"}
    for skipped in ("rerank_v1", "rerank_root", "tei_rerank", "score", "ollama_rerank"):
        assert checks[skipped]["ok"] is None and checks[skipped]["detail"] == "no reranker served"
    assert paste(report, "RAGFlow", "VLLM", "rerank")["status"] == "model not served"
    assert paste(report, "RAGFlow", "VLLM", "embedding")["ok"] is True
    assert checks["hybrid"]["ok"] is True  # the hybrid runs on the embedder: served without the reranker
    assert paste(report, "RAGFlow", "VLLM", "rerank", hybrid=True)["ok"] is True


def test_a_reranker_only_server_skips_the_hybrid_check_and_says_why(reranker_only_server, capsys, monkeypatch):
    monkeypatch.delenv("BGE_LOCAL_API_KEY", raising=False)
    rc, report = run_json(capsys, reranker_only_server.url)
    hybrid = by_id(report)["hybrid"]
    assert rc == 0, by_id(report)
    assert report["hybrid"] is None
    assert hybrid["ok"] is None and hybrid["detail"].startswith("no hybrid scorer served")
    assert paste(report, "RAGFlow", "VLLM", "rerank", hybrid=True)["status"] == "model not served"
    assert paste(report, "RAGFlow", "VLLM", "rerank")["ok"] is True
    rc, out = run_doctor(capsys, reranker_only_server.url)
    line = next(s for s in out.splitlines() if "POST /v1/rerank  hybrid" in s)
    assert line.lstrip().startswith("–") and "no hybrid scorer served" in line


def test_the_cli_runs_the_doctor_and_returns_its_exit_code(server, closed_port):
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    ok = subprocess.run(
        [sys.executable, "-m", "local_server", "doctor", server.url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "WHAT TO PASTE" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "local_server", "doctor", f"127.0.0.1:{closed_port}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "cannot connect" in bad.stdout


# --- the URL rules (no server needed) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "root"),
    [
        ("http://10.0.0.5:8000", "http://10.0.0.5:8000"),
        ("10.0.0.5:8000", "http://10.0.0.5:8000"),
        ("http://10.0.0.5:8000/v1/", "http://10.0.0.5:8000"),
        ("http://10.0.0.5:8000/v1/embeddings", "http://10.0.0.5:8000"),
        ("https://gw.example/bge/v1/rerank", "https://gw.example/bge"),
        ("https://gw.example/bge/", "https://gw.example/bge"),
        ("http://10.0.0.5:8000/score", "http://10.0.0.5:8000"),
        ("http://10.0.0.5:8000/health/", "http://10.0.0.5:8000"),
        ("http://10.0.0.5:8000/v1/v1/", "http://10.0.0.5:8000"),
    ],
)
def test_normalise_url(typed, root):
    assert paste_table.normalise_url(typed) == root


def _values(url: str) -> dict[tuple[str, str, str], str | None]:
    return {(r.app, r.client, r.form): r.url for r in paste_table.rows(url)}


def test_paste_values_follow_each_clients_url_rule():
    v = _values("http://10.0.0.5:8000/")
    assert v[("Dify", "OpenAI-API-compatible", "embedding")] == "http://10.0.0.5:8000/v1"
    assert v[("Dify", "OpenAI-API-compatible", "rerank")] == "http://10.0.0.5:8000"
    assert v[("RAGFlow", "OpenAI-API-Compatible", "embedding")] == "http://10.0.0.5:8000"
    assert v[("RAGFlow", "GPUStack", "rerank")] == "http://10.0.0.5:8000"  # never …/v1
    assert v[("RAGFlow", "HuggingFace", "rerank")] == "10.0.0.5:8000"  # RAGFlow prepends http:// itself
    assert v[("RAGFlow", "Jina", "embedding")] is None
    assert v[("Dify", "Text Embedding Inference", "rerank")] == "http://10.0.0.5:8000/models/bge-reranker-v2-m3"
    assert not [value for value in v.values() if value and value.endswith("/")]


def test_behind_a_path_prefix_the_urljoin_providers_get_forms_that_keep_it():
    """urljoin("http://gw/bge", "v1") is http://gw/v1: RAGFlow would drop the prefix."""
    v = _values("http://gw.example/bge")
    assert v[("RAGFlow", "OpenAI-API-Compatible", "embedding")] == "http://gw.example/bge/v1"
    assert v[("RAGFlow", "OpenAI-API-Compatible", "rerank")] == "http://gw.example/bge"  # ≥ 0.24 keep the path
    assert v[("RAGFlow", "Xinference", "rerank")] == "http://gw.example/bge/v1/rerank"
    assert v[("RAGFlow", "VLLM", "rerank")] == "http://gw.example/bge"  # the cohere client appends /rerank
    assert v[("RAGFlow", "HuggingFace", "rerank")] == "gw.example/bge"


def test_importing_the_doctor_pulls_in_no_http_client():
    code = "import sys, local_server.tools.doctor; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"
