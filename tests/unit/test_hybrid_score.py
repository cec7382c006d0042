"""bge-m3's hybrid score (engine/hybrid.py) equals FlagEmbedding 1.4.2's ``BGEM3FlagModel.compute_score``: each
component and the weighted sum, on the tiny stand-in bge-m3, our forward against FlagEmbedding's, fp32 on the CPU.
Also: what the weights accept and refuse, and the registry's rerank look-up of the hybrid."""

from __future__ import annotations

import math

import pytest

from local_server.engine import hybrid
from local_server.engine.errors import InvalidInput, ModelNotServed
from local_server.engine.registry import ModelRegistry, with_shared
from local_server.engine.types import EMBEDDING, HYBRID, RERANKER, EmbedNeeds, ServedModel

QUERY = "What is the capital of France?"
DOCS = ["The capital of Brazil is Brasilia.", "The capital of France is Paris.", "Horses and cows are animals",
        "北京是中国的首都", "Paris " * 700, "", "What is the capital of France? Paris, France's capital."]
WEIGHTS = [[0.4, 0.2, 0.4], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0], [2.0, 0.0, 3.0]]
TOL = 1e-5


def _ours(m3, query: str, docs: list[str], weights: hybrid.Weights) -> list[hybrid.Components]:
    """Our forward (the runtime the server runs) at FlagEmbedding's lengths, scored by engine/hybrid.py."""
    q = m3.tokenizer.encode([query], max_length=512, truncate=True)
    p = m3.tokenizer.encode(docs, max_length=512, truncate=True)
    vectors = m3.forward(q + p, EmbedNeeds(dense=True, sparse=True, colbert=True))
    return hybrid.score_pairs(vectors[:1], vectors[1:], [(0, i) for i in range(len(docs))], weights)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_every_component_and_the_weighted_sum_equal_compute_score(m3, flag_models, weights):
    embedder, _ = flag_models
    want = embedder.compute_score([[QUERY, d] for d in DOCS], weights_for_different_modes=weights)
    got = _ours(m3, QUERY, DOCS, hybrid.parse_weights(weights))
    for name, attr in (("dense", "dense"), ("sparse", "sparse"), ("colbert", "colbert"),
                       ("colbert+sparse+dense", "weighted")):
        assert [getattr(c, attr) for c in got] == pytest.approx(want[name], abs=TOL), name


def test_a_query_longer_than_512_tokens_is_cut_as_flagembedding_cuts_it(m3, flag_models):
    """Pair by pair: with this query, one query token's best dot product with the shortest document is negative,
    and FlagEmbedding's batched ColBERT score floors it at the 0 of a padding vector (a score that depends on
    the other documents of the batch); the padding-free MaxSim is compute_score of each pair alone."""
    embedder, _ = flag_models
    query = "capital city question " * 300
    weights = [0.4, 0.2, 0.4]
    got = _ours(m3, query, DOCS[:3], hybrid.parse_weights(weights))
    for doc, ours in zip(DOCS[:3], got, strict=True):
        want = embedder.compute_score([query, doc], weights_for_different_modes=weights)
        assert (ours.dense, ours.sparse, ours.colbert, ours.weighted) == pytest.approx(
            (want["dense"], want["sparse"], want["colbert"], want["colbert+sparse+dense"]), abs=TOL)


def test_the_weighted_sum_is_divided_by_the_weights_sum(m3):
    """FlagEmbedding's rule: (wd*d + ws*s + wc*c) / (wd + ws + wc), so scaled weights give the same score."""
    small = _ours(m3, QUERY, DOCS[:2], hybrid.parse_weights([0.4, 0.2, 0.4]))
    large = _ours(m3, QUERY, DOCS[:2], hybrid.parse_weights({"dense": 2, "sparse": 1, "colbert": 2}))
    assert [c.weighted for c in small] == pytest.approx([c.weighted for c in large], abs=1e-9)


@pytest.mark.parametrize("value", [[0.4, 0.2, 0.4], (1, 0, 0), {"dense": 1, "colbert": 2}, "0.4, 0.2, 0.4",
                                   {"dense": 0.4, "sparse": 0.2, "colbert": 0.4}])
def test_weights_accept_a_list_an_object_or_a_string(value):
    weights = hybrid.parse_weights(value)
    assert weights.total > 0 and set(weights.as_dict()) == {"dense", "sparse", "colbert"}


@pytest.mark.parametrize(("value", "says"), [
    ([-0.1, 0.5, 0.6], ">= 0"), ([0, 0, 0], "all be zero"), ([0.5, 0.5], "three weights"),
    ([1, 2, 3, 4], "three weights"), (["a", 1, 1], "must be a number"), ([True, 1, 1], "must be a number"),
    ({"dense": 1, "bm25": 1}, "keys dense, sparse and colbert"), ({}, "keys"), ("x,y,z", "three numbers"),
    (7, "a list"), ([math.inf, 1, 1], "finite"), ([math.nan, 1, 1], "finite"), (None, "a list"),
])
def test_bad_weights_are_refused_naming_what_is_wrong(value, says):
    with pytest.raises(InvalidInput, match=says) as err:
        hybrid.parse_weights(value)
    assert err.value.code == "invalid_hybrid_weights"


def test_clip_keeps_scores_in_0_to_1():
    assert [hybrid.clip(x) for x in (-0.3, 0.0, 0.5, 1.0, 1.7)] == [0.0, 0.0, 0.5, 1.0, 1.0]


class _Settings:
    hybrid_names = ("bge-m3-hybrid",)
    hybrid_passage_max_length = 512


def _model(kind: str, *names: str) -> ServedModel:
    return ServedModel(kind=kind, names=list(names), path="/m/" + names[0], max_length=8192, batcher=object(),
                       tokenizer=None, devices=["cpu"], dtype="float32")  # type: ignore[arg-type]


M3 = _model(EMBEDDING, "bge-m3", "BAAI/bge-m3")
RR = _model(RERANKER, "bge-reranker-v2-m3")


def test_the_hybrid_is_a_view_of_the_loaded_embedder_never_a_second_model():
    models = with_shared([M3, RR], _Settings())
    view = next(m for m in models if m.kind == HYBRID)
    assert view.batcher is M3.batcher and view.names == ["bge-m3-hybrid"] and view.max_length == 512
    registry = ModelRegistry(models)
    assert registry.loaded() == [M3, RR] and registry.served() == [M3, RR, view]
    assert with_shared([RR], _Settings()) == [RR]  # no embedder, no hybrid


@pytest.mark.parametrize(("name", "kind"), [("bge-m3-hybrid", HYBRID), ("BAAI/bge-m3", HYBRID),
                                            ("bge-m3___OpenAI-API-Compatible", HYBRID), ("bge-m3:latest", HYBRID),
                                            ("bge-reranker-v2-m3", RERANKER), (None, RERANKER),
                                            ("rerank-english-v3.0", RERANKER)])
def test_rerank_routes_find_the_hybrid_by_its_names_and_the_embedders(name, kind):
    registry = ModelRegistry(with_shared([M3, RR], _Settings()))
    assert registry.for_rerank(name, strict=False, hybrid_names=["bge-m3-hybrid"]).kind == kind


def test_without_a_reranker_the_rerank_routes_explain_the_hybrid_and_without_an_embedder_it_is_refused():
    only_m3 = ModelRegistry(with_shared([M3], _Settings()))
    assert only_m3.for_rerank("bge-m3-hybrid", strict=True, hybrid_names=["bge-m3-hybrid"]).kind == HYBRID
    with pytest.raises(ModelNotServed, match=r"runs no reranker.*'bge-m3-hybrid'"):
        only_m3.for_rerank("bge-reranker-v2-m3", strict=False, hybrid_names=["bge-m3-hybrid"])
    assert only_m3.lookup("anything") is M3  # a bare unknown name: the one loaded model, as before
    only_rr = ModelRegistry(with_shared([RR], _Settings()))
    with pytest.raises(ModelNotServed, match=r"runs no embedding model.*--embedding-model"):
        only_rr.for_rerank("bge-m3-hybrid", strict=False, hybrid_names=["bge-m3-hybrid"])


def test_a_per_model_url_of_the_hybrid_answers_with_it_whatever_the_name():
    registry = ModelRegistry(with_shared([M3, RR], _Settings()))
    view = registry.find("bge-m3-hybrid")
    assert view is not None and view.kind == HYBRID
    scoped = registry.scoped(view, lambda only, other: "elsewhere")
    assert scoped.for_rerank(None, strict=False, hybrid_names=[]) is view
    assert scoped.for_rerank("bge-reranker-v2-m3", strict=False, hybrid_names=[]) is view
    assert scoped.backing(RERANKER) is RR  # the cascade's second stage still runs
