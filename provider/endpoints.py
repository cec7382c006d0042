"""Turn whatever URL a Dify user pastes into the endpoints to try, in order.

Standard library only: the tests import this file directly, without the Dify SDK.

A user may paste the server root (``http://host:8000``), the OpenAI base (``…/v1``, ``…/v1/``), or a full
endpoint (``…/v1/embeddings``, ``…/embed``, ``…/rerank``, ``…/v1/rerank``, ``…/score``), possibly behind a
reverse proxy that adds a path prefix (``https://gw.example.com/bge/v1``). We strip a known endpoint and a
trailing ``/v1`` to find the *base*, then list the paths each server family answers on:

* OpenAI embeddings (this project's server, vLLM, Infinity, TEI, Xinference…): ``/v1/embeddings``, ``/embeddings``
* TEI embeddings: ``/embed`` with ``{"inputs": [...]}``
* Jina/Cohere rerank (this project's server, vLLM, Infinity, Xinference…): ``/v1/rerank``, ``/rerank``, ``/v2/rerank``
* TEI rerank: ``/rerank`` with ``{"query", "texts"}``
* vLLM score: ``/score``, ``/v1/score`` with ``{"text_1", "text_2"}``

The endpoint the user typed, if any, is tried first; the rest are tried in order when one answers 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

# Wire formats: the body we send and the response shape we read.
OPENAI_EMBED = "openai-embeddings"  # {"model","input"} -> {"data":[{"index","embedding"}],"usage"}
TEI_EMBED = "tei-embed"  # {"inputs"} -> [[float]]
JINA_RERANK = "jina-rerank"  # {"model","query","documents","top_n"} -> {"results":[{"index","relevance_score"}]}
TEI_RERANK = "tei-rerank"  # {"query","texts"} -> [{"index","score"}]
VLLM_SCORE = "vllm-score"  # {"model","text_1","text_2"} -> {"data":[{"index","score"}]}
TOKENIZE = "tokenize"  # {"inputs": [...]} -> [[token]]

EMBEDDINGS = "embeddings"
RERANK = "rerank"

DIALECTS = ("auto", "openai", "tei", "vllm")

# Known endpoints, matched against the end of the pasted path (lower case).
# (segments, task it names, wire format it implies or None when the dialect decides)
_KNOWN_ENDPOINTS: tuple[tuple[tuple[str, ...], str | None, str | None], ...] = (
    (("v1", "embeddings"), EMBEDDINGS, OPENAI_EMBED),
    (("embeddings",), EMBEDDINGS, OPENAI_EMBED),
    (("embed",), EMBEDDINGS, TEI_EMBED),
    (("v1", "rerank"), RERANK, None),
    (("v2", "rerank"), RERANK, None),
    (("rerank",), RERANK, None),
    (("v1", "score"), RERANK, VLLM_SCORE),
    (("score",), RERANK, VLLM_SCORE),
    (("embed_sparse",), None, None),
    (("embed_all",), None, None),
    (("tokenize",), None, None),
    (("v1", "models"), None, None),
    (("models",), None, None),
    (("health",), None, None),
    (("info",), None, None),
    (("docs",), None, None),
    (("metrics",), None, None),
)
# A trailing API-version segment left after the endpoint is removed.
_VERSION_SEGMENTS = ("v1", "v2", "v1-openai")


class URLError(ValueError):
    """The text is not an http(s) URL we can use."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    wire: str


@dataclass(frozen=True)
class ParsedURL:
    origin: str  # scheme://host[:port]
    base_path: str  # prefix without endpoint and without a trailing /v1 ("" for the root)
    typed_path: str  # the pasted path without a known endpoint and trailing slashes
    hint_task: str | None  # the task the pasted endpoint names, if any
    hint_path: str | None  # the pasted endpoint's full path
    hint_wire: str | None

    @property
    def base(self) -> str:
        return self.origin + self.base_path

    @property
    def host(self) -> str:
        return urlsplit(self.origin).hostname or ""


def parse_url(text: str) -> ParsedURL:
    """Split a pasted URL into origin, base path and the endpoint it names (if any)."""
    raw = (text or "").strip()
    if not raw:
        raise URLError("The server URL is empty. Enter the address of your server, e.g. http://bge-local:8000")
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise URLError(f"The server URL must start with http:// or https:// (got {text.strip()!r}).")
    if not parts.netloc or not parts.hostname:
        raise URLError(f"The server URL {text.strip()!r} has no host name.")
    origin = f"{scheme}://{parts.netloc}"

    segments = [s for s in re.split(r"/+", parts.path) if s]
    lowered = [s.lower() for s in segments]

    hint_task = hint_path = hint_wire = None
    for tail, task, wire in _KNOWN_ENDPOINTS:
        n = len(tail)
        if len(lowered) >= n and tuple(lowered[-n:]) == tail:
            if task is not None:
                hint_task, hint_wire = task, wire
                hint_path = "/" + "/".join(segments)
            segments = segments[:-n]
            lowered = lowered[:-n]
            break

    typed_path = "/" + "/".join(segments) if segments else ""
    if lowered and lowered[-1] in _VERSION_SEGMENTS:
        segments = segments[:-1]
    base_path = "/" + "/".join(segments) if segments else ""
    return ParsedURL(origin, base_path, typed_path, hint_task, hint_path, hint_wire)


def _dedupe(endpoints: list[Endpoint]) -> list[Endpoint]:
    seen: set[tuple[str, str]] = set()
    out = []
    for ep in endpoints:
        key = (ep.url, ep.wire)
        if key not in seen:
            seen.add(key)
            out.append(ep)
    return out


def _paths(p: ParsedURL, suffixes: tuple[str, ...], wire: str) -> list[Endpoint]:
    return [Endpoint(p.base + s, wire) for s in suffixes]


def embedding_candidates(p: ParsedURL, dialect: str = "auto") -> list[Endpoint]:
    openai = _paths(p, ("/v1/embeddings", "/embeddings"), OPENAI_EMBED)
    tei = _paths(p, ("/embed",), TEI_EMBED)
    by_dialect = {"tei": tei, "openai": openai, "vllm": openai}
    eps = list(by_dialect.get(dialect, openai + tei))
    if p.hint_task == EMBEDDINGS and p.hint_path and p.hint_wire:
        eps.insert(0, Endpoint(p.origin + p.hint_path, p.hint_wire))
    return _dedupe(eps)


def rerank_candidates(p: ParsedURL, dialect: str = "auto") -> list[Endpoint]:
    score = _paths(p, ("/score", "/v1/score"), VLLM_SCORE)
    if dialect == "tei":
        eps = _paths(p, ("/rerank",), TEI_RERANK)
    elif dialect == "vllm":
        # vLLM serves rerank at the root; /v1 is what people paste because that is the OpenAI base.
        eps = _paths(p, ("/rerank", "/v1/rerank", "/v2/rerank"), JINA_RERANK) + score
    elif dialect == "openai":
        eps = _paths(p, ("/v1/rerank", "/rerank", "/v2/rerank"), JINA_RERANK)
    else:
        eps = _paths(p, ("/v1/rerank", "/rerank", "/v2/rerank"), JINA_RERANK) + score
    if p.hint_task == RERANK and p.hint_path:
        wire = p.hint_wire or (TEI_RERANK if dialect == "tei" else JINA_RERANK)
        eps.insert(0, Endpoint(p.origin + p.hint_path, wire))
    return _dedupe(eps)


def tokenize_candidates(p: ParsedURL) -> list[Endpoint]:
    return _dedupe(_paths(p, ("/tokenize",), TOKENIZE))


def candidates(p: ParsedURL, task: str, dialect: str = "auto") -> list[Endpoint]:
    if task == EMBEDDINGS:
        return embedding_candidates(p, dialect)
    if task == RERANK:
        return rerank_candidates(p, dialect)
    raise ValueError(f"unknown task {task!r}")


def means_this_container(host: str) -> bool:
    """True for names that mean "this machine", which inside Dify's plugin_daemon container is that container, not
    the machine running the server. Not a loopback check: ``0.0.0.0`` and ``::`` count (a listen address pasted as
    a URL), and it is kept apart from the server's own loopback rule on purpose."""
    host = host.lower().strip("[]")
    return host in ("localhost", "0.0.0.0", "::1", "::") or host.startswith("127.") or host.endswith(".localhost")
