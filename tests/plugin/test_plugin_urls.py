"""Whatever URL a Dify user pastes, the plugin derives the right endpoints (provider/endpoints.py).

The module is standard-library only, so it is loaded straight from its file: the test process never imports
the Dify SDK.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
from plugin_harness import REPO

_spec = importlib.util.spec_from_file_location("bge_plugin_endpoints", REPO / "provider" / "endpoints.py")
assert _spec and _spec.loader
endpoints = importlib.util.module_from_spec(_spec)
sys.modules["bge_plugin_endpoints"] = endpoints
_spec.loader.exec_module(endpoints)

OPENAI = endpoints.OPENAI_EMBED
TEI = endpoints.TEI_EMBED
JINA = endpoints.JINA_RERANK
TEI_R = endpoints.TEI_RERANK
SCORE = endpoints.VLLM_SCORE

H = "http://h:8000"
GW = "https://gw.example.com/bge"

# (what the user pasted, dialect, task, first endpoint tried, its wire format)
TABLE = [
    # embeddings, auto: the server root, the OpenAI base, full endpoints, proxies
    (H, "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/v1", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/v1/", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/v1/embeddings", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/v1/embeddings/", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/embeddings", "auto", "embeddings", f"{H}/embeddings", OPENAI),
    (f"{H}/embed", "auto", "embeddings", f"{H}/embed", TEI),
    (f"{H}/embed/", "auto", "embeddings", f"{H}/embed", TEI),
    (f"{H}/rerank", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/v1/rerank", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/v2/rerank", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/score", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/v1/models", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/health", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/tokenize", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/docs", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/v1?api-version=1", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}//v1//embeddings", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/v1/v1/embeddings", "auto", "embeddings", f"{H}/v1/v1/embeddings", OPENAI),
    ("h:8000", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    ("  http://h:8000/v1  ", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    ("HTTP://h:8000/v1", "auto", "embeddings", f"{H}/v1/embeddings", OPENAI),
    ("http://[::1]:8000/v1", "auto", "embeddings", "http://[::1]:8000/v1/embeddings", OPENAI),
    ("http://gpustack:80/v1-openai", "auto", "embeddings", "http://gpustack:80/v1/embeddings", OPENAI),
    ("https://h/api/v1/embeddings", "auto", "embeddings", "https://h/api/v1/embeddings", OPENAI),
    (GW, "auto", "embeddings", f"{GW}/v1/embeddings", OPENAI),
    (f"{GW}/v1/", "auto", "embeddings", f"{GW}/v1/embeddings", OPENAI),
    (f"{GW}/v1/embeddings", "auto", "embeddings", f"{GW}/v1/embeddings", OPENAI),
    (f"{GW}/embed", "auto", "embeddings", f"{GW}/embed", TEI),
    # rerank, auto
    (H, "auto", "rerank", f"{H}/v1/rerank", JINA),
    (f"{H}/v1", "auto", "rerank", f"{H}/v1/rerank", JINA),
    (f"{H}/v1/", "auto", "rerank", f"{H}/v1/rerank", JINA),
    (f"{H}/rerank", "auto", "rerank", f"{H}/rerank", JINA),
    (f"{H}/rerank/", "auto", "rerank", f"{H}/rerank", JINA),
    (f"{H}/v1/rerank", "auto", "rerank", f"{H}/v1/rerank", JINA),
    (f"{H}/v2/rerank", "auto", "rerank", f"{H}/v2/rerank", JINA),
    (f"{H}/score", "auto", "rerank", f"{H}/score", SCORE),
    (f"{H}/v1/score", "auto", "rerank", f"{H}/v1/score", SCORE),
    (f"{H}/v1/embeddings", "auto", "rerank", f"{H}/v1/rerank", JINA),
    (f"{H}/embed", "auto", "rerank", f"{H}/v1/rerank", JINA),
    (f"{GW}/v1/rerank", "auto", "rerank", f"{GW}/v1/rerank", JINA),
    (f"{GW}/v1", "auto", "rerank", f"{GW}/v1/rerank", JINA),
    # the dialect the user chose
    (H, "tei", "embeddings", f"{H}/embed", TEI),
    (f"{H}/v1", "tei", "embeddings", f"{H}/embed", TEI),
    (f"{H}/v1", "tei", "rerank", f"{H}/rerank", TEI_R),
    (f"{H}/rerank", "tei", "rerank", f"{H}/rerank", TEI_R),
    (f"{H}/v1", "vllm", "rerank", f"{H}/rerank", JINA),  # vLLM: rerank at the root, not under /v1
    (f"{H}/v1/", "vllm", "rerank", f"{H}/rerank", JINA),
    (f"{H}/v1", "vllm", "embeddings", f"{H}/v1/embeddings", OPENAI),
    (f"{H}/v1", "openai", "rerank", f"{H}/v1/rerank", JINA),
    (f"{H}/embed", "openai", "embeddings", f"{H}/embed", TEI),  # what the user typed comes first
]


@pytest.mark.parametrize(("pasted", "dialect", "task", "url", "wire"), TABLE)
def test_first_endpoint_for_each_pasted_url(pasted: str, dialect: str, task: str, url: str, wire: str) -> None:
    first = endpoints.candidates(endpoints.parse_url(pasted), task, dialect)[0]
    assert (first.url, first.wire) == (url, wire)


def _urls(pasted: str, task: str, dialect: str = "auto") -> list[tuple[str, str]]:
    return [(e.url, e.wire) for e in endpoints.candidates(endpoints.parse_url(pasted), task, dialect)]


def test_aliases_tried_in_order_after_a_404() -> None:
    assert _urls(f"{H}/v1", "embeddings") == [
        (f"{H}/v1/embeddings", OPENAI),
        (f"{H}/embeddings", OPENAI),
        (f"{H}/embed", TEI),
    ]
    assert _urls(f"{H}/v1", "rerank") == [
        (f"{H}/v1/rerank", JINA),
        (f"{H}/rerank", JINA),
        (f"{H}/v2/rerank", JINA),
        (f"{H}/score", SCORE),
        (f"{H}/v1/score", SCORE),
    ]
    assert _urls(f"{H}/v1", "rerank", "vllm")[:3] == [
        (f"{H}/rerank", JINA),
        (f"{H}/v1/rerank", JINA),
        (f"{H}/v2/rerank", JINA),
    ]


def test_typed_endpoint_first_then_the_rest_without_duplicates() -> None:
    urls = _urls(f"{GW}/embeddings", "embeddings")
    assert urls[0] == (f"{GW}/embeddings", OPENAI)
    assert len(urls) == len(set(urls))
    assert (f"{GW}/v1/embeddings", OPENAI) in urls


def test_dialect_restricts_the_wire_format() -> None:
    assert {w for _, w in _urls(H, "embeddings", "tei")} == {TEI}
    assert {w for _, w in _urls(H, "embeddings", "openai")} == {OPENAI}
    assert {w for _, w in _urls(H, "rerank", "tei")} == {TEI_R}
    assert {w for _, w in _urls(H, "rerank", "openai")} == {JINA}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ftp://h:8000", "http:// or https://"),
        ("http://", "no host"),
        ("http:///v1", "no host"),
    ],
)
def test_unusable_urls_are_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(endpoints.URLError, match=why):
        endpoints.parse_url(text)


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("bge-local", False),
        ("host.docker.internal", False),
        ("10.0.0.5", False),
    ],
)
def test_local_hosts_get_the_docker_hint(host: str, local: bool) -> None:
    assert endpoints.means_this_container(host) is local


def test_tokenize_lives_at_the_base() -> None:
    assert [e.url for e in endpoints.tokenize_candidates(endpoints.parse_url(f"{GW}/v1/embeddings"))] == [
        f"{GW}/tokenize"
    ]
