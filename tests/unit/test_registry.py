"""The model registry: one lenient look-up for the core, the dialects and per-model URLs; a kind is a table entry."""

from __future__ import annotations

import pytest

from local_server.engine.errors import ModelNotServed
from local_server.engine.registry import KINDS, ModelKind, ModelRegistry
from local_server.engine.runtime import Runtime
from local_server.engine.types import EMBEDDING, RERANKER, ServedModel


def _model(kind: str, *names: str) -> ServedModel:
    return ServedModel(kind=kind, names=list(names), path="/models/" + names[0], max_length=8192, batcher=None,
                       tokenizer=None, devices=["cpu"], dtype="float32")  # type: ignore[arg-type]


M3 = _model(EMBEDDING, "bge-m3", "BAAI/bge-m3")
RR = _model(RERANKER, "bge-reranker-v2-m3")


def test_a_route_gets_its_kind_whatever_name_it_sends_unless_strict():
    both = ModelRegistry([RR, M3])
    assert both.served() == [M3, RR]  # the embedder first, whatever the order of loading
    assert both.lookup("text-embedding-3-small", EMBEDDING) is M3
    assert both.lookup("BAAI/BGE-M3:latest___OpenAI-API-Compatible", EMBEDDING, strict=True) is M3
    with pytest.raises(ModelNotServed, match="served embedding: bge-m3, BAAI/bge-m3"):
        both.lookup("text-embedding-3-small", EMBEDDING, strict=True)


def test_a_missing_kind_names_the_option_that_serves_it_and_what_is_served():
    only_rr = ModelRegistry([RR])
    with pytest.raises(ModelNotServed) as err:
        only_rr.lookup("bge-m3", EMBEDDING)
    assert "runs no embedding model; it serves the reranker model 'bge-reranker-v2-m3'" in err.value.message
    assert "--embedding-model" in err.value.message


def test_a_bare_name_finds_its_model_or_the_only_one():
    both = ModelRegistry([M3, RR])
    assert both.lookup("bge-reranker-v2-m3") is RR and both.find("bge-m3:latest") is M3
    with pytest.raises(ModelNotServed, match=r"served: bge-m3 \(embedding\), bge-reranker-v2-m3 \(reranker\)"):
        both.lookup("nomic-embed-text")
    assert ModelRegistry([RR]).lookup("anything") is RR
    with pytest.raises(ModelNotServed):
        ModelRegistry([RR]).lookup("anything", strict=True)


def test_a_scoped_registry_serves_one_model_and_explains_the_other_kind():
    both = ModelRegistry([M3, RR])
    scoped = both.scoped(RR, lambda only, other: f"{only.name} only; {other.name if other else None} elsewhere")
    assert scoped.served() == [RR] and scoped.lookup("x") is RR and scoped.lookup(None, RERANKER) is RR
    with pytest.raises(ModelNotServed, match="bge-reranker-v2-m3 only; bge-m3 elsewhere"):
        scoped.lookup(None, EMBEDDING)


def test_a_third_kind_is_one_table_entry(monkeypatch):
    class ScorerRuntime(Runtime):
        pass

    monkeypatch.setitem(KINDS, "scorer", ModelKind("scorer", ScorerRuntime, "scorer_model", "scorer_names",
                                                  "hybrid scorer"))
    scorer = _model("scorer", "bge-m3-hybrid")
    registry = ModelRegistry([scorer, M3])
    assert registry.served() == [M3, scorer] and registry.lookup("hybrid", "scorer") is scorer
    with pytest.raises(ModelNotServed, match=r"runs no hybrid scorer.*--scorer-model"):
        ModelRegistry([M3]).lookup(None, "scorer")
    with pytest.raises(ValueError, match="unknown model kind"):
        ModelRegistry([_model("nonesuch", "x")])
