"""The packaged plugin, driven the way Dify drives it, against the real bundled server and tiny models.

Each test speaks the daemon's stdio protocol to `python -m main` running from the unpacked .difypkg in the
plugin's own venv, and compares what the plugin returns with what the server itself answers.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math

import httpx
import pytest
import yaml
from plugin_harness import DROP, REPO, PluginError, PluginProcess, RecordingProxy, SilentServer
from support.server import free_port


def same_vectors(got: list[list[float]], want: list[list[float]], tol: float = 1e-5) -> bool:
    """Equal up to float noise: the server batches inputs differently from call to call, and a batch's padding
    moves the last bits of a float32 result."""
    return len(got) == len(want) and all(
        len(a) == len(b) and all(math.isclose(x, y, abs_tol=tol) for x, y in zip(a, b, strict=True))
        for a, b in zip(got, want, strict=True)
    )

EMB = "bge-m3"
RR = "bge-reranker-v2-m3"
TEXTS = [
    "The giant panda is a bear native to south central China.",
    "大熊猫是中国特有的熊科动物。",
    "Paris is the capital and most populous city of France.",
    "bge-m3 gives dense, sparse and multi-vector embeddings.",
]
QUERY = "Which animal lives in China?"
DOCS = [
    "Paris is the capital of France.",
    "The giant panda lives in the mountains of central China.",
    "Bananas are rich in potassium.",
    "大熊猫生活在中国四川的山区。",
    "The Eiffel Tower was finished in 1889.",
]


# ---------------------------------------------------------------------------------------------------------------
# What the server itself answers (the reference)
# ---------------------------------------------------------------------------------------------------------------


def server_embeddings(url: str, texts: list[str], headers: dict | None = None) -> tuple[list[list[float]], int]:
    r = httpx.post(f"{url}/v1/embeddings", json={"model": EMB, "input": texts}, headers=headers, timeout=60)
    r.raise_for_status()
    body = r.json()
    return [d["embedding"] for d in sorted(body["data"], key=lambda d: d["index"])], body["usage"]["prompt_tokens"]


def server_rerank(url: str, query: str, docs: list[str], headers: dict | None = None) -> list[tuple[int, float]]:
    r = httpx.post(
        f"{url}/v1/rerank",
        json={"model": RR, "query": query, "documents": docs, "top_n": len(docs)},
        headers=headers,
        timeout=60,
    )
    r.raise_for_status()
    return [(x["index"], x["relevance_score"]) for x in r.json()["results"]]


def server_token_counts(url: str, texts: list[str], headers: dict | None = None) -> list[int]:
    r = httpx.post(f"{url}/tokenize", json={"inputs": texts}, headers=headers, timeout=60)
    r.raise_for_status()
    return [len(t) for t in r.json()]


def ranked(result: dict) -> list[tuple[int, float]]:
    return [(d["index"], d["score"]) for d in result["docs"]]


def assert_clear_failure(err: PluginError, plugin: PluginProcess, *phrases: str) -> None:
    """A failure the user can act on: the expected words, and no Python traceback anywhere."""
    for phrase in phrases:
        assert phrase in err.message, f"{phrase!r} not in: {err.message}"
    assert "Traceback" not in err.message and 'File "' not in err.message
    assert "Traceback" not in plugin.stderr()


# ---------------------------------------------------------------------------------------------------------------
# Start-up and schemas
# ---------------------------------------------------------------------------------------------------------------


def test_plugin_announces_manifest_and_provider(plugin: PluginProcess) -> None:
    assert plugin.manifest is not None
    manifest = yaml.safe_load((REPO / "manifest.yaml").read_text())
    assert plugin.manifest["name"] == "bge_local" and plugin.manifest["version"] == manifest["version"]
    assert plugin.wait_for_log("Installed model: bge_local"), plugin.logs()


def test_schemas_of_predefined_models(plugin: PluginProcess) -> None:
    emb = plugin.schema("text-embedding", EMB, {})
    assert emb["model_type"] == "text-embedding" and emb["fetch_from"] == "predefined-model"
    assert emb["model_properties"] == {"context_size": 8192, "max_chunks": 32}
    rr = plugin.schema("rerank", RR, {})
    assert rr["model_type"] == "rerank" and rr["model_properties"]["context_size"] == 8192


@pytest.mark.parametrize("model_type", ["text-embedding", "rerank"])
def test_schema_of_a_customizable_model(plugin: PluginProcess, server, model_type: str) -> None:
    creds = {"server_url": server.url, "context_size": "4096", "max_chunks": "8"}
    schema = plugin.schema(model_type, "my-own-model", creds)
    assert schema["model"] == "my-own-model" and schema["model_type"] == model_type
    assert schema["fetch_from"] == "customizable-model"
    assert schema["model_properties"] == {"context_size": 4096, "max_chunks": 8}


# ---------------------------------------------------------------------------------------------------------------
# Any URL the user pastes
# ---------------------------------------------------------------------------------------------------------------

URL_FORMS = [
    "",
    "/",
    "/v1",
    "/v1/",
    "/v1/embeddings",
    "/v1/embeddings/",
    "/embeddings",
    "/embed",
    "/rerank",
    "/v1/rerank",
    "/v2/rerank",
    "/score",
    "/v1/score",
    "/health",
]


@pytest.mark.parametrize("suffix", URL_FORMS)
def test_provider_validates_with_any_url_form(plugin: PluginProcess, server, suffix: str) -> None:
    answer = plugin.validate_provider({"server_url": server.url + suffix})
    assert answer["result"] is True


def test_url_without_scheme_works(plugin: PluginProcess, server) -> None:
    bare = server.url.removeprefix("http://")
    assert plugin.validate_provider({"server_url": f"  {bare}/v1/  "})["result"] is True


@pytest.mark.parametrize("suffix", ["", "/v1/", "/v1/embeddings", "/embed", "/rerank", "/v1/rerank", "/score"])
def test_embeddings_equal_the_servers_whatever_the_url(plugin: PluginProcess, server, suffix: str) -> None:
    want, tokens = server_embeddings(server.url, TEXTS)
    got = plugin.embed(EMB, {"server_url": server.url + suffix}, TEXTS)
    assert got["model"] == EMB
    assert same_vectors(got["embeddings"], want)
    if suffix != "/embed":  # TEI's /embed reports no usage; the plugin then estimates
        assert got["usage"]["tokens"] == got["usage"]["total_tokens"] == tokens
    assert got["usage"]["tokens"] > 0


@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/rerank", "/rerank", "/v2/rerank", "/score", "/v1/embeddings"])
def test_rerank_equals_the_servers_whatever_the_url(plugin: PluginProcess, server, suffix: str) -> None:
    want = server_rerank(server.url, QUERY, DOCS)
    got = plugin.rerank(RR, {"server_url": server.url + suffix}, QUERY, DOCS, top_n=len(DOCS))
    assert ranked(got) == want
    assert [d["text"] for d in got["docs"]] == [DOCS[i] for i, _ in want]


def test_behind_a_reverse_proxy_with_a_path_prefix(plugin: PluginProcess, server, make_proxy) -> None:
    proxy: RecordingProxy = make_proxy(server.url, prefix="/ai/bge")
    for url in (proxy.url, proxy.url + "/v1/", proxy.url + "/v1/embeddings"):
        assert plugin.validate_provider({"server_url": url})["result"] is True
        got = plugin.embed(EMB, {"server_url": url}, TEXTS)["embeddings"]
        assert same_vectors(got, server_embeddings(server.url, TEXTS)[0])
    got = plugin.rerank(RR, {"server_url": proxy.url + "/v1/rerank"}, QUERY, DOCS, top_n=5)
    assert ranked(got) == server_rerank(server.url, QUERY, DOCS)
    assert all(s.path.startswith("/ai/bge/") for s in proxy.posts())


# ---------------------------------------------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------------------------------------------


def test_predefined_model_sends_batches_of_max_chunks(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url)
    texts = [f"text number {i}: {TEXTS[i % len(TEXTS)]}" for i in range(70)]
    got = plugin.embed(EMB, {"server_url": proxy.url}, texts)
    assert same_vectors(got["embeddings"], server_embeddings(server.url, texts)[0])  # in input order
    assert [len(s.body["input"]) for s in proxy.posts()] == [32, 32, 6]


def test_customizable_model_uses_its_batch_size(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url)
    texts = [f"short text {i}" for i in range(13)]
    creds = {"server_url": proxy.url + "/v1", "max_chunks": "5", "served_model_name": "BAAI/bge-m3"}
    got = plugin.embed("my-embedder", creds, texts)
    assert got["model"] == "my-embedder"
    assert same_vectors(got["embeddings"], server_embeddings(server.url, texts)[0])
    assert [len(s.body["input"]) for s in proxy.posts()] == [5, 5, 3]
    assert {s.body["model"] for s in proxy.posts()} == {"BAAI/bge-m3"}


def test_a_413_splits_the_batch(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url, faults={"/v1/embeddings": [413]})
    texts = [f"t{i}" for i in range(8)]
    got = plugin.embed(EMB, {"server_url": proxy.url}, texts)
    assert same_vectors(got["embeddings"], server_embeddings(server.url, texts)[0])
    assert [(s.status, len(s.body["input"])) for s in proxy.posts()] == [(413, 8), (200, 4), (200, 4)]


def test_query_embeddings_are_the_same_vectors(plugin: PluginProcess, server, make_proxy) -> None:
    """Dify says whether it embeds a query or a document (SDK 0.10 passes it on); bge-m3 needs no prefix."""
    proxy = make_proxy(server.url)
    got = plugin.embed(EMB, {"server_url": proxy.url}, TEXTS, input_type="query")
    assert same_vectors(got["embeddings"], server_embeddings(server.url, TEXTS)[0])
    assert [s.body["input"] for s in proxy.posts()] == [TEXTS]


def test_token_counts_come_from_the_servers_tokenizer(plugin: PluginProcess, server) -> None:
    texts = [*TEXTS, "x" * 50]
    assert plugin.num_tokens(EMB, {"server_url": server.url + "/v1"}, texts) == server_token_counts(server.url, texts)


def test_token_counts_in_vllm_dialect(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url)
    creds = {"server_url": proxy.url + "/v1", "api_dialect": "vllm"}
    assert plugin.num_tokens(EMB, creds, TEXTS[:2]) == server_token_counts(server.url, TEXTS[:2])
    assert [s.path for s in proxy.posts()] == ["/tokenize", "/tokenize"]
    assert all("prompt" in s.body for s in proxy.posts())


def test_token_counts_without_a_server_are_estimated_locally(plugin: PluginProcess) -> None:
    creds = {"server_url": f"http://127.0.0.1:{free_port()}"}
    counts = plugin.num_tokens(EMB, creds, ["hello world", "大熊猫", "a much longer sentence about many things"])
    assert len(counts) == 3 and all(isinstance(c, int) and c > 0 for c in counts)
    assert counts[2] > counts[0]


def test_a_server_without_tokenize_is_asked_once(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url, blocked={"/tokenize"})
    creds = {"server_url": proxy.url + "/v1"}
    assert all(c > 0 for c in plugin.num_tokens(EMB, creds, ["hello world", "大熊猫"]))
    assert plugin.num_tokens(EMB, creds, ["again"])[0] > 0
    assert [(s.path, s.status) for s in proxy.posts()] == [("/tokenize", 404)]  # remembered: estimated since


# ---------------------------------------------------------------------------------------------------------------
# Rerank
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("top_n", "expected"), [(None, 5), (0, 5), (2, 2), (5, 5), (100, 5)])
def test_rerank_top_n_is_clamped(plugin: PluginProcess, server, top_n: int | None, expected: int) -> None:
    want = server_rerank(server.url, QUERY, DOCS)
    got = plugin.rerank(RR, {"server_url": server.url}, QUERY, DOCS, top_n=top_n)
    assert ranked(got) == want[:expected]


def test_rerank_applies_difys_score_threshold(plugin: PluginProcess, server) -> None:
    want = server_rerank(server.url, QUERY, DOCS)
    assert all(0.0 <= s <= 1.0 for _, s in want)
    threshold = (want[1][1] + want[2][1]) / 2
    got = plugin.rerank(RR, {"server_url": server.url}, QUERY, DOCS, top_n=5, score_threshold=threshold)
    assert ranked(got) == want[:2]
    scores = [s for _, s in ranked(got)]
    assert scores == sorted(scores, reverse=True)


def test_rerank_of_no_documents_is_empty(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url)
    assert plugin.rerank(RR, {"server_url": proxy.url}, QUERY, [], top_n=3)["docs"] == []
    assert proxy.posts() == []


def test_customizable_reranker_splits_documents_into_batches(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url)
    docs = [f"{doc} (version {k})" for k in range(3) for doc in DOCS]
    got = plugin.rerank("my-reranker", {"server_url": proxy.url, "max_chunks": "4"}, QUERY, docs, top_n=6)
    want = server_rerank(server.url, QUERY, docs)
    assert [i for i, _ in ranked(got)] == [i for i, _ in want[:6]]
    assert all(math.isclose(a, b, rel_tol=1e-6) for (_, a), (_, b) in zip(ranked(got), want[:6], strict=True))
    assert [len(s.body["documents"]) for s in proxy.posts()] == [4, 4, 4, 3]


# ---------------------------------------------------------------------------------------------------------------
# Speaking TEI's and vLLM's dialects
# ---------------------------------------------------------------------------------------------------------------


def test_tei_dialect(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url)
    creds = {"server_url": proxy.url, "api_dialect": "tei"}
    assert plugin.validate_model("text-embedding", EMB, creds)["result"] is True
    assert plugin.validate_model("rerank", RR, creds)["result"] is True
    assert same_vectors(plugin.embed(EMB, creds, TEXTS)["embeddings"], server_embeddings(server.url, TEXTS)[0])
    assert ranked(plugin.rerank(RR, creds, QUERY, DOCS, top_n=5)) == server_rerank(server.url, QUERY, DOCS)
    assert plugin.num_tokens(EMB, creds, TEXTS) == server_token_counts(server.url, TEXTS)
    paths = {s.path for s in proxy.posts()}
    assert paths == {"/embed", "/rerank", "/tokenize"}
    for s in proxy.posts():
        if s.path == "/embed":
            assert set(s.body) == {"inputs", "truncate"}
        if s.path == "/rerank":
            assert "texts" in s.body and "documents" not in s.body


def test_vllm_dialect_reranks_at_the_root_not_under_v1(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url)
    creds = {"server_url": proxy.url + "/v1", "api_dialect": "vllm"}
    assert plugin.validate_model("rerank", RR, creds)["result"] is True
    assert ranked(plugin.rerank(RR, creds, QUERY, DOCS, top_n=5)) == server_rerank(server.url, QUERY, DOCS)
    assert same_vectors(plugin.embed(EMB, creds, TEXTS)["embeddings"], server_embeddings(server.url, TEXTS)[0])
    assert [s.path for s in proxy.posts()] == ["/rerank", "/rerank", "/v1/embeddings"]


def test_vllm_score_api(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url)
    creds = {"server_url": proxy.url + "/score", "api_dialect": "vllm"}
    got = plugin.rerank(RR, creds, QUERY, DOCS, top_n=3)
    want = server_rerank(server.url, QUERY, DOCS)
    assert [i for i, _ in ranked(got)] == [i for i, _ in want[:3]]
    assert all(math.isclose(a, b, rel_tol=1e-6) for (_, a), (_, b) in zip(ranked(got), want, strict=False))
    assert [s.path for s in proxy.posts()] == ["/score"]
    assert set(proxy.posts()[0].body) == {"model", "text_1", "text_2"}


# ---------------------------------------------------------------------------------------------------------------
# Aliases, memory, retries
# ---------------------------------------------------------------------------------------------------------------


def test_tries_aliases_on_404_and_remembers_what_worked(fresh_plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url, blocked={"/v1/embeddings"})  # a server that only answers /embeddings
    creds = {"server_url": proxy.url + "/v1"}
    want = server_embeddings(server.url, TEXTS)[0]
    assert same_vectors(fresh_plugin.embed(EMB, creds, TEXTS)["embeddings"], want)
    assert [(s.path, s.status) for s in proxy.posts()] == [("/v1/embeddings", 404), ("/embeddings", 200)]
    proxy.seen.clear()
    assert same_vectors(fresh_plugin.embed(EMB, creds, TEXTS)["embeddings"], want)
    assert [s.path for s in proxy.posts()] == ["/embeddings"]  # straight to what worked
    # The remembered path disappears (server upgraded): the plugin finds the other one again.
    proxy.blocked = {"/embeddings"}
    proxy.seen.clear()
    assert same_vectors(fresh_plugin.embed(EMB, creds, TEXTS)["embeddings"], want)
    assert [(s.path, s.status) for s in proxy.posts()] == [("/embeddings", 404), ("/v1/embeddings", 200)]


def test_retries_dropped_connections_until_the_server_answers(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url, faults={"/v1/embeddings": [DROP, DROP]})
    got = plugin.embed(EMB, {"server_url": proxy.url, "max_retries": "2"}, TEXTS)
    assert same_vectors(got["embeddings"], server_embeddings(server.url, TEXTS)[0])
    assert [s.status for s in proxy.posts()] == [DROP, DROP, 200]


@pytest.mark.parametrize("retries", [0, 2])
def test_connection_errors_are_retried_as_often_as_set(
    plugin: PluginProcess, dropping_server: SilentServer, retries: int
) -> None:
    with pytest.raises(PluginError) as e:
        plugin.embed(EMB, {"server_url": dropping_server.url, "max_retries": str(retries)}, TEXTS)
    assert e.value.error_type == "InvokeConnectionError"
    assert_clear_failure(e.value, plugin, "Cannot reach the server", dropping_server.url)
    assert dropping_server.connections() == 1 + retries


@pytest.mark.parametrize("status", [503, 429])
def test_retries_with_backoff_on_503_and_429(plugin: PluginProcess, server, make_proxy, status: int) -> None:
    proxy = make_proxy(server.url, faults={"/v1/embeddings": [status, status]})
    got = plugin.embed(EMB, {"server_url": proxy.url, "max_retries": "2"}, TEXTS)
    assert same_vectors(got["embeddings"], server_embeddings(server.url, TEXTS)[0])
    assert [s.status for s in proxy.posts()] == [status, status, 200]


def test_retry_after_may_be_an_http_date(plugin: PluginProcess, server, make_proxy) -> None:
    past = email.utils.format_datetime(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), usegmt=True)
    proxy = make_proxy(server.url, faults={"/v1/rerank": [503]}, retry_after=past)
    got = plugin.rerank(RR, {"server_url": proxy.url, "max_retries": "1"}, QUERY, DOCS, top_n=5)
    assert ranked(got) == server_rerank(server.url, QUERY, DOCS)
    assert [s.status for s in proxy.posts()] == [503, 200]


@pytest.mark.parametrize(
    ("status", "error_type", "phrase"),
    [(503, "InvokeServerUnavailableError", "HTTP 503"), (429, "InvokeRateLimitError", "overloaded")],
)
def test_gives_up_after_the_retries(
    plugin: PluginProcess, server, make_proxy, status: int, error_type: str, phrase: str
) -> None:
    proxy = make_proxy(server.url, faults={"/v1/rerank": [status] * 5})
    with pytest.raises(PluginError) as e:
        plugin.rerank(RR, {"server_url": proxy.url, "max_retries": "1"}, QUERY, DOCS, top_n=2)
    assert e.value.error_type == error_type
    assert_clear_failure(e.value, plugin, phrase)
    assert [s.status for s in proxy.posts()] == [status, status]


# ---------------------------------------------------------------------------------------------------------------
# API keys
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "   "])
def test_no_authorization_header_without_a_key(plugin: PluginProcess, server, make_proxy, key: str | None) -> None:
    proxy = make_proxy(server.url)
    creds = {"server_url": proxy.url} if key is None else {"server_url": proxy.url, "api_key": key}
    plugin.validate_provider(creds)
    plugin.embed(EMB, creds, TEXTS[:1])
    plugin.rerank(RR, creds, QUERY, DOCS, top_n=1)
    plugin.num_tokens(EMB, creds, TEXTS[:1])
    assert len(proxy.posts()) >= 4
    assert all("authorization" not in s.headers for s in proxy.posts())


def test_requests_carry_the_plugins_version(plugin: PluginProcess, server, make_proxy) -> None:
    proxy = make_proxy(server.url)
    plugin.embed(EMB, {"server_url": proxy.url}, TEXTS[:1])
    version = yaml.safe_load((REPO / "manifest.yaml").read_text())["version"]
    assert {s.headers["user-agent"] for s in proxy.posts()} == {f"bge-local-dify-plugin/{version}"}


def test_with_a_key(plugin: PluginProcess, keyed_server, make_proxy) -> None:
    proxy = make_proxy(keyed_server.url)
    headers = {"Authorization": "Bearer test-key-1"}
    creds = {"server_url": proxy.url + "/v1", "api_key": "test-key-1"}
    assert plugin.validate_provider(creds)["result"] is True
    got = plugin.embed(EMB, creds, TEXTS)["embeddings"]
    assert same_vectors(got, server_embeddings(keyed_server.url, TEXTS, headers)[0])
    got = plugin.rerank(RR, creds, QUERY, DOCS, top_n=5)
    assert ranked(got) == server_rerank(keyed_server.url, QUERY, DOCS, headers)
    assert plugin.num_tokens(EMB, creds, TEXTS) == server_token_counts(keyed_server.url, TEXTS, headers)
    assert {s.headers.get("authorization") for s in proxy.posts()} == {"Bearer test-key-1"}


def test_wrong_key(plugin: PluginProcess, keyed_server) -> None:
    creds = {"server_url": keyed_server.url, "api_key": "not-the-key"}
    with pytest.raises(PluginError) as e:
        plugin.validate_provider(creds)
    assert e.value.error_type == "CredentialsValidateFailedError"
    assert_clear_failure(e.value, plugin, "refused the API key", "HTTP 401", "--api-key")
    with pytest.raises(PluginError) as e:
        plugin.embed(EMB, creds, TEXTS)
    assert e.value.error_type == "InvokeAuthorizationError"
    assert_clear_failure(e.value, plugin, "API key")
    with pytest.raises(PluginError) as e:
        plugin.rerank(RR, creds, QUERY, DOCS, top_n=2)
    assert e.value.error_type == "InvokeAuthorizationError"


def test_missing_key(plugin: PluginProcess, keyed_server) -> None:
    with pytest.raises(PluginError) as e:
        plugin.validate_model("rerank", RR, {"server_url": keyed_server.url})
    assert e.value.error_type == "CredentialsValidateFailedError"
    assert_clear_failure(e.value, plugin, "requires an API key", "API key field")


# ---------------------------------------------------------------------------------------------------------------
# What goes wrong, said so a Dify user can fix it
# ---------------------------------------------------------------------------------------------------------------


def test_server_down(plugin: PluginProcess) -> None:
    port = free_port()
    for host in ("127.0.0.1", "localhost"):
        creds = {"server_url": f"http://{host}:{port}/v1", "max_retries": "1"}
        with pytest.raises(PluginError) as e:
            plugin.validate_provider(creds)
        assert e.value.error_type == "CredentialsValidateFailedError"
        assert_clear_failure(
            e.value, plugin, "Cannot reach the server", "Is the server running", "host.docker.internal", str(port)
        )
    with pytest.raises(PluginError) as e:
        plugin.embed(EMB, creds, TEXTS)
    assert e.value.error_type == "InvokeConnectionError"
    with pytest.raises(PluginError) as e:
        plugin.rerank(RR, creds, QUERY, DOCS, top_n=2)
    assert e.value.error_type == "InvokeConnectionError"


def test_wrong_path(plugin: PluginProcess, server) -> None:
    with pytest.raises(PluginError) as e:
        plugin.validate_model("text-embedding", EMB, {"server_url": server.url + "/not-the-api/v1"})
    assert e.value.error_type == "CredentialsValidateFailedError"
    assert_clear_failure(
        e.value,
        plugin,
        "No embedding endpoint found",
        f"{server.url}/not-the-api/v1/embeddings (HTTP 404)",
        f"{server.url}/not-the-api/embed (HTTP 404)",
        "Check the server URL",
    )
    with pytest.raises(PluginError) as e:
        plugin.rerank(RR, {"server_url": server.url + "/not-the-api"}, QUERY, DOCS, top_n=2)
    assert e.value.error_type == "InvokeBadRequestError"
    assert_clear_failure(e.value, plugin, "No rerank endpoint found", "/not-the-api/score (HTTP 404)")


def test_bad_settings(plugin: PluginProcess, server) -> None:
    for creds, phrase in [
        ({"server_url": server.url, "timeout": "soon"}, "Timeout must be a number"),
        ({"server_url": "ftp://files.example.com"}, "must start with http:// or https://"),
        ({"server_url": ""}, "server URL is empty"),
        ({"server_url": server.url, "api_dialect": "grpc"}, "API dialect must be one of"),
    ]:
        with pytest.raises(PluginError) as e:
            plugin.validate_model("text-embedding", EMB, creds)
        assert_clear_failure(e.value, plugin, phrase)


def test_timeout(plugin: PluginProcess, silent_server) -> None:
    creds = {"server_url": silent_server.url, "timeout": "1", "max_retries": "3"}
    with pytest.raises(PluginError) as e:
        plugin.validate_model("text-embedding", EMB, creds)
    assert silent_server.connections() == 1  # a timeout is not retried: it would only multiply the wait
    assert_clear_failure(e.value, plugin, "did not answer within 1 seconds", "Timeout")
    with pytest.raises(PluginError) as e:
        plugin.embed(EMB, creds, TEXTS)
    assert e.value.error_type == "InvokeConnectionError"


def test_reranker_url_given_for_an_embedding_model(plugin: PluginProcess, reranker_only_server) -> None:
    url = reranker_only_server.url + "/v1/rerank"
    with pytest.raises(PluginError) as e:
        plugin.validate_model("text-embedding", EMB, {"server_url": url})
    assert_clear_failure(
        e.value, plugin, "does not serve an embedding model", "reranker", "ends in /v1/rerank", "Rerank model"
    )
    with pytest.raises(PluginError) as e:
        plugin.embed(EMB, {"server_url": url}, TEXTS)
    assert e.value.error_type == "InvokeBadRequestError"
    # At provider level a reranker-only server is fine: its rerank call works.
    assert plugin.validate_provider({"server_url": reranker_only_server.url})["result"] is True


def test_embedding_url_given_for_a_reranker(plugin: PluginProcess, embedder_only_server) -> None:
    with pytest.raises(PluginError) as e:
        plugin.validate_model("rerank", RR, {"server_url": embedder_only_server.url + "/v1/embeddings"})
    assert_clear_failure(e.value, plugin, "does not serve a reranker", "embedding server", "ends in /v1/embeddings")
    # The provider's own rerank URL must work when it is set.
    with pytest.raises(PluginError) as e:
        plugin.validate_provider(
            {"server_url": embedder_only_server.url, "rerank_server_url": embedder_only_server.url}
        )
    assert_clear_failure(e.value, plugin, "Rerank server URL", "does not serve a reranker")


def test_separate_rerank_server_url(plugin: PluginProcess, embedder_only_server, reranker_only_server) -> None:
    creds = {"server_url": embedder_only_server.url + "/v1", "rerank_server_url": reranker_only_server.url + "/v1"}
    assert plugin.validate_provider(creds)["result"] is True
    got = plugin.embed(EMB, creds, TEXTS)["embeddings"]
    assert same_vectors(got, server_embeddings(embedder_only_server.url, TEXTS)[0])
    got = plugin.rerank(RR, creds, QUERY, DOCS, top_n=5)
    assert ranked(got) == server_rerank(reranker_only_server.url, QUERY, DOCS)
