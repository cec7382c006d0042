"""The console's HTTP side without a browser: static files, headers, redirects, turning it off, /v1/stats."""

from __future__ import annotations

import math
import re
import time
from html.parser import HTMLParser

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.inprocess import serve_in_process

from local_server.console.routes import UI_DIR, load_files, prefers_html
from local_server.server.stats import histogram_quantile

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.fixture(scope="module")
def no_ui_server(tiny_models):
    """The app with the console turned off, in this process, all to itself (its /v1/stats history starts here)."""
    with serve_in_process(tiny_models, ui_enabled=False) as client:
        yield client


# --- static files -------------------------------------------------------------------------------------

def test_every_console_file_is_served_with_its_type_csp_and_etag(server):
    files = load_files()
    assert {"index.html", "app.js", "style.css", "vendor/uPlot.esm.js", "vendor/uPlot.LICENSE"} <= set(files)
    for name, item in files.items():
        reply = httpx.get(f"{server.url}/ui/{name}")
        assert reply.status_code == 200, name
        assert reply.content == item.body
        assert reply.headers["content-type"] == item.content_type
        assert "script-src 'self'" in reply.headers["content-security-policy"]
        assert "unsafe-inline" not in reply.headers["content-security-policy"]
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["cache-control"] == "no-cache"
        again = httpx.get(f"{server.url}/ui/{name}", headers={"If-None-Match": reply.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
    assert files["app.js"].content_type.startswith("text/javascript")
    assert files["style.css"].content_type.startswith("text/css")


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = {k for k, _ in attrs}
        if tag == "style" or "style" in names or any(k.startswith("on") for k in names):
            self.inline.append(f"<{tag} {sorted(names)}>")
        self._in_script = tag == "script" and "src" not in names
        if self._in_script:
            self.inline.append("<script> without src")


def test_the_page_has_no_inline_script_or_style_and_no_remote_url():
    finder = _InlineFinder()
    finder.feed((UI_DIR / "index.html").read_text())
    assert finder.inline == []
    for path in UI_DIR.rglob("*"):
        if path.suffix in {".html", ".js", ".css"} and "vendor" not in path.parts:
            text = path.read_text()
            assert not re.search(r"(src|href)=\"https?:", text), path  # no CDN: works offline
            assert ".innerHTML" not in text, path  # text goes in as text


def test_unknown_console_files_are_a_json_404(server):
    for name in ("nope.js", "../pyproject.toml", "%2e%2e/pyproject.toml", "vendor"):
        reply = httpx.get(f"{server.url}/ui/{name}")
        assert reply.status_code == 404, name
        assert reply.json()["error"]["type"] == "not_found_error"


def test_browsers_are_redirected_to_the_console_and_api_clients_keep_the_json(server):
    page = httpx.get(server.url + "/", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 307 and page.headers["location"] == "ui/"
    for accept in (None, "*/*", "application/json", "application/json, text/html;q=0.5"):
        reply = httpx.get(server.url + "/", headers={"Accept": accept} if accept else {})
        assert reply.status_code == 200 and reply.json()["console"] == "/ui/", accept
    slashless = httpx.get(server.url + "/ui")
    assert slashless.status_code == 307 and slashless.headers["location"] == "ui/"
    followed = httpx.get(server.url + "/", headers={"Accept": BROWSER_ACCEPT}, follow_redirects=True)
    assert str(followed.url) == server.url + "/ui/" and "<title>bge-local</title>" in followed.text


def test_prefers_html():
    assert prefers_html(BROWSER_ACCEPT)
    assert prefers_html("text/html")
    assert not prefers_html("")
    assert not prefers_html("*/*")
    assert not prefers_html("application/json")
    assert not prefers_html("text/html;q=0.5, application/json")
    assert not prefers_html("text/html;q=0")


def test_the_console_can_be_turned_off(no_ui_server):
    for path in ("/ui", "/ui/", "/ui/app.js", "/ui/api/connect"):
        assert no_ui_server.get(path).status_code == 404, path
    root = no_ui_server.get("/", headers={"Accept": BROWSER_ACCEPT})
    assert root.status_code == 200 and root.json()["name"] == "bge-local" and "console" not in root.json()
    assert no_ui_server.get("/v1/stats").status_code == 200  # scripts may still read the stats


def test_the_console_data_routes_need_the_key(keyed_server):
    for path in ("/v1/stats", "/stats", "/ui/api/connect"):
        assert httpx.get(keyed_server.url + path).status_code == 401, path
        ok = httpx.get(keyed_server.url + path, headers=keyed_server.headers())
        assert ok.status_code == 200, path
    assert httpx.get(keyed_server.url + "/ui/").status_code == 200  # the page itself holds nothing secret


# --- /v1/stats ----------------------------------------------------------------------------------------

def _metrics(client: httpx.Client) -> dict[str, dict[tuple, float]]:
    """/metrics as {sample name: {sorted label items: value}}."""
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def _wait_for_sample_after(client: httpx.Client, moment: float) -> dict:
    """Poll /v1/stats until its ring buffer holds a sample taken after ``moment`` (bounded)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stats = client.get("/v1/stats").json()
        if stats["samples"] and stats["samples"][-1]["t"] > moment:
            return stats
        time.sleep(0.2)
    raise AssertionError("no stats sample within 60 s")


def test_stats_hold_the_same_numbers_as_metrics(no_ui_server):
    client = no_ui_server
    calls = [("/v1/embeddings", {"input": ["one", "two"]}), ("/embed", {"inputs": "three"}),
             ("/embed", {"texts": ["four"], "mode": "sparse"}), ("/embed_sparse", {"inputs": "five"}),
             ("/rerank", {"query": "q", "documents": ["a", "b"]}), ("/rerank", {"query": "q", "texts": ["a"]}),
             ("/score", {"text_1": "a", "text_2": "b"}), ("/api/embed", {"input": "six"}),
             ("/v1/embed", {"texts": ["seven"]})]
    for path, body in calls:
        assert client.post(path, json=body).status_code == 200, path
    done = time.time()
    stats = _wait_for_sample_after(client, done)
    metrics = _metrics(client)  # after the stats call: counters for the model routes no longer move

    assert stats["requests_by_dialect"] == {"OpenAI": 1, "TEI": 3, "seed /embed": 1, "Jina/Cohere": 1, "vLLM": 1,
                                           "Ollama": 1, "Cohere": 1}
    assert {dict(k)["dialect"]: v for k, v in metrics["bge_local_dialect_requests_total"].items()} == \
        stats["requests_by_dialect"]
    tokens = {dict(k)["model"]: v for k, v in metrics["bge_local_tokens_total"].items()}
    assert stats["tokens"] == tokens and set(tokens) == {"embedding", "reranker"}
    by_route = {(r["route"], r["status"]): r["count"] for r in stats["requests"]}
    for path, _ in calls:
        assert by_route[(path, "200")] == metrics["bge_local_requests_total"][(("route", path), ("status", "200"))]

    # The samples' per-interval rates add up to the counters (none were taken before the first reading).
    samples = stats["samples"]
    for model, total in tokens.items():
        summed = sum(s["tokens_per_s"].get(model, 0.0) * s["interval_s"] for s in samples)
        assert math.isclose(summed, total, rel_tol=1e-2), (model, summed, total)
    embed_requests = sum(s["requests_per_s"].get("embed", 0.0) * s["interval_s"] for s in samples)
    assert round(embed_requests) == 6  # /v1/embeddings, /embed twice, /embed_sparse, /api/embed, /v1/embed
    rerank_requests = sum(s["requests_per_s"].get("rerank", 0.0) * s["interval_s"] for s in samples)
    assert round(rerank_requests) == 3
    latencies = [s["latency_ms"]["embed"]["p50"] for s in samples
                 if s["latency_ms"].get("embed", {}).get("p50") is not None]
    assert latencies and all(v > 0 for v in latencies)
    models = {m["name"]: m for m in stats["models"]}
    assert {m["replicas"] for m in models.values()} == {1}
    assert {m["queue_depth"] for m in models.values()} == {0}


def test_sparse_tokens_line_up_with_their_indices(server):
    """The try panel labels each sparse weight with its token: one string per index, duplicates included."""
    texts = ["BGE M3 是一个支持稠密检索的嵌入模型。", "What is BGE M3?"]
    body = {"input": texts, "return_dense": False, "return_sparse_tokens": True}
    for item in httpx.post(server.url + "/v1/embeddings", json=body, timeout=60).json()["data"]:
        sparse = item["sparse_embedding"]
        assert len(sparse["tokens"]) == len(sparse["indices"]) == len(sparse["values"]) > 0


def test_histogram_quantile_interpolates_like_prometheus():
    buckets = {0.1: 0.0, 0.25: 10.0, 0.5: 20.0, math.inf: 20.0}
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.175)  # 5th of 20: halfway into (0.1, 0.25]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.25)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.375)
    assert histogram_quantile(0.99, {0.1: 1.0, math.inf: 3.0}) == 0.1  # in +Inf: the highest finite bound
    assert histogram_quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None
    assert histogram_quantile(0.5, {}) is None
