"""What to paste into each Dify and RAGFlow provider form for a server URL: the URL rules as data.

``docs/ragflow.md`` and ``bge-local doctor`` both render this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from local_server.loopback import is_loopback_host

NO_KEY_NOTE = "sends no usable API key: needs a server without one"

# --- URL handling ---------------------------------------------------------------------------------

_ROUTE_SUFFIXES = (
    "/v1/embeddings",
    "/v1/rerank",
    "/v1/score",
    "/v1/models",
    "/v2/rerank",
    "/embeddings",
    "/rerank",
    "/embed",
    "/score",
    "/health",
    "/v1",
    "/v2",
)


def normalise_url(url: str) -> str:
    """The server's root URL from whatever the user typed: scheme added, route and trailing slash dropped."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    url = url.rstrip("/")
    changed = True
    while changed:
        changed = False
        for suffix in _ROUTE_SUFFIXES:
            if url.endswith(suffix) and len(urlsplit(url[: -len(suffix)]).netloc) > 0:
                url = url[: -len(suffix)].rstrip("/")
                changed = True
    return url


def is_loopback(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")


# --- what to paste --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PasteRow:
    app: str  # Dify | RAGFlow
    provider: str  # the provider the user picks in the app
    model_type: str  # embedding | rerank | embedding + rerank
    value: str | None  # what to paste into the URL field; None: this provider cannot reach a self-hosted server
    reaches: str  # the route(s) the app then calls
    checks: tuple[str, ...]  # doctor checks that exercise those routes
    sends_key: bool = True  # False: the app sends no usable API key, so it needs a server without one
    note: str = ""


def paste_rows(url: str) -> list[PasteRow]:
    """One row per provider form a Dify or RAGFlow user may pick, for a server whose root is ``url``.

    The values follow each client's URL rule (docs/ragflow.md). Behind a reverse proxy with a path prefix
    (``http://gw/bge``), RAGFlow's ``urljoin(url, "v1")`` and ``urljoin(url, "/rerank")`` would drop the
    prefix, so there the table gives the forms those providers use verbatim (``…/v1``, ``…/rerank``).
    """
    u = normalise_url(url)
    parts = urlsplit(u)
    prefixed = bool(parts.path)
    hostport = parts.netloc + parts.path
    v1 = f"{u}/v1" if prefixed else u  # RAGFlow: urljoin(value, "v1") + /embeddings
    v1_note = "" if prefixed else f"{u}/v1 works too; no trailing slash"
    hf_rerank_note = "no http:// (RAGFlow writes http://<value>/rerank itself)"
    if parts.scheme == "https":
        hf_rerank_note = "RAGFlow writes http://<value>/rerank itself: needs a plain-http address"
    embeddings, rerank_v1, rerank_root = ("embeddings_float",), ("rerank_v1",), ("rerank_root",)
    return [
        # Dify
        PasteRow(
            "Dify",
            "bge-local plugin",
            "embedding + rerank",
            u,
            "/v1/embeddings, /v1/rerank",
            ("embeddings_float", "rerank_v1"),
            note="with or without /v1, any trailing slash",
        ),
        PasteRow(
            "Dify",
            "OpenAI-API-compatible",
            "embedding",
            f"{u}/v1",
            "/v1/embeddings",
            embeddings,
            note="keep the /v1: Dify appends only /embeddings",
        ),
        PasteRow(
            "Dify",
            "OpenAI-API-compatible",
            "rerank",
            u,
            "/rerank",
            rerank_root,
            note="no /v1, as for vLLM (with /v1 it reaches /v1/rerank, which works too)",
        ),
        PasteRow("Dify", "Text Embedding Inference", "embedding", u, "/info, /tokenize, /v1/embeddings", embeddings),
        PasteRow("Dify", "Text Embedding Inference", "rerank", u, "/rerank (TEI body)", ("tei_rerank",)),
        PasteRow("Dify", "GPUStack", "embedding", u, "/v1/embeddings", embeddings),
        PasteRow("Dify", "GPUStack", "rerank", u, "/v1/rerank", rerank_v1),
        # RAGFlow
        PasteRow("RAGFlow", "OpenAI-API-Compatible", "embedding", v1, "/v1/embeddings", embeddings, note=v1_note),
        PasteRow(
            "RAGFlow",
            "OpenAI-API-Compatible",
            "rerank",
            f"{u}/rerank" if prefixed else u,
            "/rerank",
            rerank_root,
            note="RAGFlow min-max rescales these scores (some releases zero them): prefer VLLM",
        ),
        PasteRow("RAGFlow", "VLLM", "embedding", v1, "/v1/embeddings", embeddings, note=v1_note),
        PasteRow("RAGFlow", "VLLM", "rerank", u, "/rerank", rerank_root, note="scores arrive unchanged, 0..1"),
        PasteRow("RAGFlow", "Xinference", "embedding", v1, "/v1/embeddings (base64)", ("embeddings_base64",)),
        PasteRow(
            "RAGFlow",
            "Xinference",
            "rerank",
            f"{u}/v1/rerank" if prefixed else u,
            "/v1/rerank",
            rerank_v1,
            note="Xinference body: flags as strings, no top_n",
        ),
        PasteRow(
            "RAGFlow",
            "LocalAI",
            "embedding",
            v1,
            "/v1/embeddings (base64)",
            ("embeddings_base64",),
            sends_key=False,
            note="its key is always 'empty'",
        ),
        PasteRow("RAGFlow", "LocalAI", "rerank", f"{u}/rerank" if prefixed else u, "/rerank", rerank_root),
        PasteRow("RAGFlow", "GPUStack", "embedding", v1, "/v1/embeddings", embeddings),
        PasteRow(
            "RAGFlow",
            "GPUStack",
            "rerank",
            u,
            "/v1/rerank",
            rerank_v1,
            note="never …/v1: RAGFlow appends /v1/rerank itself",
        ),
        PasteRow(
            "RAGFlow",
            "HuggingFace",
            "embedding",
            u,
            "/embed (TEI body)",
            ("tei_embed",),
            sends_key=False,
            note="",
        ),
        PasteRow(
            "RAGFlow",
            "HuggingFace",
            "rerank",
            hostport,
            "/rerank (TEI body)",
            ("tei_rerank",),
            sends_key=False,
            note=hf_rerank_note,
        ),
        PasteRow("RAGFlow", "Cohere", "rerank", u, "/rerank", rerank_root),
        PasteRow(
            "RAGFlow",
            "Cohere",
            "embedding",
            None,
            "api.cohere.com",
            (),
            note="RAGFlow's Cohere embedding ignores the URL: use VLLM or OpenAI-API-Compatible",
        ),
        PasteRow(
            "RAGFlow",
            "Jina",
            "embedding + rerank",
            None,
            "api.jina.ai",
            (),
            note="RAGFlow's Jina provider ignores the URL: use VLLM or OpenAI-API-Compatible",
        ),
    ]


def paste_markdown(url: str, app: str) -> str:
    """The table for one app, as Markdown (docs/ragflow.md and the README embed it)."""
    lines = [
        "| Provider | Model type | URL to paste | Requests go to | Notes |",
        "|---|---|---|---|---|",
    ]
    for row in paste_rows(url):
        if row.app != app:
            continue
        value = f"`{row.value}`" if row.value else "✘ not possible"
        notes = "; ".join(n for n in ("" if row.sends_key else NO_KEY_NOTE, row.note) if n)
        lines.append(f"| {row.provider} | {row.model_type} | {value} | {row.reaches} | {notes} |")
    return "\n".join(lines) + "\n"

