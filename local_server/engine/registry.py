"""Which model? Decided here, once: the kinds of model the engine can serve, and the models a core serves.

``KINDS`` is the table of model kinds: for each, the runtime class that runs it, the settings that name it and
how a batch merges its requests' needs. A third kind of model (another reranker) is one entry here plus its
runtime class. A kind may instead ``share`` another kind's loaded model: ``HYBRID`` (bge-m3's own hybrid score,
served on the rerank routes) is the embedder's model, replicas and batcher under names of its own — never a
second load, locally or under Ray Serve (``with_shared`` adds it to whatever a loader loaded).

``ModelRegistry`` holds the served models and answers every "which model?" question with one lenient look-up,
used by the core (``model_for``: a route's kind and the name in its body; ``for_rerank``: the reranker or the
hybrid), by the dialects that look models up by name alone (Xinference, Ollama) and by the per-model base URLs
(a registry scoped to one model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from local_server.engine import names
from local_server.engine.errors import ModelNotServed
from local_server.engine.runtime import M3Runtime, RerankerRuntime, Runtime
from local_server.engine.types import EMBEDDING, HYBRID, RERANKER, EmbedNeeds, ServedModel


def _first(a: Any, b: Any) -> Any:
    return a


@dataclass(frozen=True)
class ModelKind:
    """One kind of model: what runs it and which settings configure it."""

    kind: str
    runtime: type[Runtime]
    source_setting: str  # the setting naming the model to serve (a hub id or a directory; None: not served)
    names_setting: str  # the setting listing extra names it answers to
    what: str  # in messages: "this server runs no <what>"
    merge_needs: Callable[[Any, Any], Any] = _first  # the union of two requests' needs in one batch
    shares: str | None = None  # the kind whose loaded model this one runs on (never loaded on its own)
    precision_setting: str | None = None  # the per-model --precision override (None: --precision alone)

    @property
    def option(self) -> str:
        return "--" + self.source_setting.replace("_", "-")

    def source(self, settings: Any) -> str | None:
        return getattr(settings, self.source_setting)

    def aliases(self, settings: Any) -> list[str]:
        return list(getattr(settings, self.names_setting))

    def precision(self, settings: Any) -> str:
        """The precision asked for this kind: its own setting when given, else ``--precision``."""
        own = getattr(settings, self.precision_setting, None) if self.precision_setting else None
        return own or getattr(settings, "precision", "auto")


KINDS: dict[str, ModelKind] = {
    EMBEDDING: ModelKind(EMBEDDING, M3Runtime, "embedding_model", "embedding_names", "embedding model",
                         EmbedNeeds.union, precision_setting="embedding_precision"),
    RERANKER: ModelKind(RERANKER, RerankerRuntime, "reranker_model", "reranker_names", "reranker",
                        precision_setting="reranker_precision"),
    HYBRID: ModelKind(HYBRID, M3Runtime, "embedding_model", "hybrid_names",
                      "embedding model (bge-m3's hybrid score runs on it)", EmbedNeeds.union, shares=EMBEDDING,
                      precision_setting="embedding_precision"),
}


def with_shared(models: list[ServedModel], settings: Any) -> list[ServedModel]:
    """``models`` (what a loader loaded) and, for each kind that shares one of them, that model under the kind's
    names (its batcher, tokenizer and devices: the same replicas). The hybrid's inputs are cut at
    ``hybrid_passage_max_length`` unless the embedder's limit is lower."""
    loaded = {m.kind: m for m in models}
    views = []
    for kind, spec in KINDS.items():
        base = loaded.get(spec.shares) if spec.shares else None
        if base is not None and kind not in loaded:
            limit = min(base.max_length, getattr(settings, "hybrid_passage_max_length", base.max_length))
            views.append(replace(base, kind=kind, names=spec.aliases(settings), max_length=limit, dimension=None))
    return [*models, *views]


class ModelRegistry:
    """The served models, at most one per kind, in ``KINDS`` order (the embedder first)."""

    def __init__(self, models: list[ServedModel] | None = None):
        self._models: dict[str, ServedModel] = {}
        for model in models or []:
            self.add(model)

    def add(self, model: ServedModel) -> None:
        if model.kind not in KINDS:
            raise ValueError(f"unknown model kind {model.kind!r}; known: {', '.join(KINDS)}")
        self._models[model.kind] = model
        order = list(KINDS)
        self._models = dict(sorted(self._models.items(), key=lambda kv: order.index(kv[0])))

    def served(self) -> list[ServedModel]:
        """Every model a request can name, the shared views (the hybrid) included."""
        return list(self._models.values())

    def loaded(self) -> list[ServedModel]:
        """The models with replicas of their own (no shared view): what to count, describe as loaded, close."""
        return [m for m in self._models.values() if not KINDS[m.kind].shares]

    def backing(self, kind: str) -> ServedModel | None:
        """The model of ``kind`` that runs here, for a second stage of a request (the cascade's cross-encoder),
        even where a per-model URL scopes the routes to another model."""
        return self.of_kind(kind)

    def of_kind(self, kind: str) -> ServedModel | None:
        return self._models.get(kind)

    def find(self, name: str) -> ServedModel | None:
        """The served model ``name`` means (matched leniently: ``BAAI/bge-m3``, ``BGE-M3:latest``...), or None."""
        return next((m for m in self._models.values() if names.matches(name, m.names)), None)

    def scoped(self, model: ServedModel, other_kind: Callable[[ServedModel, ServedModel | None], str]
               ) -> ModelRegistry:
        """This registry as seen from one model's base URL: only ``model`` is served. ``other_kind(model,
        other)`` is the message for a request of another kind (``other``: the model serving it here, if any)."""
        return _ScopedRegistry(self, model, other_kind)

    def missing_kind(self, kind: str) -> str:
        """Why a request for ``kind`` cannot be served here."""
        spec = KINDS[kind]
        others = self.loaded()
        if kind == RERANKER and (hybrid := self.of_kind(HYBRID)) is not None:
            return (f"this server runs no reranker (it can rerank with bge-m3's own hybrid score: name the model "
                    f"{hybrid.name!r}). Send cross-encoder requests to a server started with {spec.option}")
        hint = f"; it serves the {others[0].kind} model {others[0].name!r}" if others else ""
        return f"this server runs no {spec.what}{hint}. Send these requests to a server started with {spec.option}"

    def lookup(self, requested: str | None, kind: str | None = None, *, strict: bool = False) -> ServedModel:
        """The one model look-up. With ``kind`` (a route's task): that kind's model; a name that matches none of
        its names is served by it anyway unless ``strict``. Without ``kind`` (a bare name: Xinference, Ollama):
        the model the name matches; an unknown name is the only served model when there is one (not in strict
        mode), else a ``ModelNotServed`` listing the served models."""
        if kind is not None:
            model = self.of_kind(kind)
            if model is None:
                raise ModelNotServed(self.missing_kind(kind))
            if requested and strict and not names.matches(requested, model.names):
                raise ModelNotServed(f"model {requested!r} is not served here; served {kind}: "
                                     f"{', '.join(model.names)}")
            return model
        found = self.find(requested) if requested else None
        if found is not None:
            return found
        loaded = self.loaded() or self.served()
        if len(loaded) == 1 and not strict:
            return loaded[0]
        listed = ", ".join(f"{m.name} ({m.kind})" for m in self.served())
        raise ModelNotServed(f"model {requested!r} is not served here; served: {listed}")

    def for_rerank(self, requested: str | None, *, strict: bool, hybrid_names: list[str]) -> ServedModel:
        """The model a rerank route runs for the name in its body: the hybrid when the name is one of its own or
        one of the embedder's (``bge-m3``, ``BAAI/bge-m3``); else the reranker, as ``lookup``. A hybrid name on a
        server without an embedder is refused naming ``--embedding-model``; under the hybrid's own per-model URL
        (no reranker in scope) the hybrid answers whatever the name; under another model's URL the URL decides."""
        hybrid = self.of_kind(HYBRID)
        if requested and hybrid is not None:
            embedder = self.of_kind(EMBEDDING)
            if names.matches(requested, [*hybrid.names, *(embedder.names if embedder else [])]):
                return hybrid
        if requested and hybrid is None and self.scope is None and names.matches(requested, hybrid_names):
            raise ModelNotServed(self.missing_kind(HYBRID))
        if hybrid is not None and self.scope == HYBRID:
            return self.lookup(requested, HYBRID, strict=strict)
        return self.lookup(requested, RERANKER, strict=strict)

    @property
    def scope(self) -> str | None:
        """The kind a per-model URL scopes this registry to; None for the whole server."""
        return None


class _ScopedRegistry(ModelRegistry):
    def __init__(self, parent: ModelRegistry, model: ServedModel,
                 other_kind: Callable[[ServedModel, ServedModel | None], str]):
        super().__init__([model])
        self._parent = parent
        self._other_kind = other_kind

    def missing_kind(self, kind: str) -> str:
        only = self.served()[0]
        return self._other_kind(only, self._parent.of_kind(kind))

    def backing(self, kind: str) -> ServedModel | None:
        return self._parent.backing(kind)

    @property
    def scope(self) -> str | None:
        return self.served()[0].kind
