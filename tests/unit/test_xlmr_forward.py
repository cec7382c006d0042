"""Our packed XLM-RoBERTa forward (engine/xlmr/) against FlagEmbedding, the oracle, in fp32 on the CPU: dense,
sparse weights, ColBERT vectors and rerank logits within 1e-5, on the tiny, small and full stand-ins (full: a few
short texts, so the CPU time stays low), for mixed lengths, batch compositions and truncation at max length.

The reference for each text (and each pair) is FlagEmbedding run on it alone: FlagEmbedding's own numbers
move with the padding of the batch it computes in (by up to 1.5e-5 on the small stand-in's sparse weights,
between a text alone and in a batch of mixed lengths), while a padding-free forward must give every text the
numbers it gets alone, in any company. "Within 1e-5" is relative for values above 1 (sparse weights and logits
are not normalised): an fp32 GEMM orders its sums by the shape of the whole batch, which moved a sparse weight
of 1.56 by 1.3e-5 (8.5e-6 of it) between a text alone and in a batch of seven.

The stand-ins are built once into .cache/ (full is about 2.3 GB per model and takes minutes to write the first
time). One size's references and runtimes are alive at a time."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from local_server.engine.runtime import M3Runtime, RerankerRuntime
from local_server.engine.types import EmbedNeeds

CACHE = Path(__file__).resolve().parents[2] / ".cache"
TOL = 1e-5
ALL = EmbedNeeds(dense=True, sparse=True, colbert=True)

TEXTS = [
    "What is the capital of France? The capital of France is Paris.",
    "人工智能正在改变世界。",
    "Hi",
    "Hello <pad> world, a literal <pad> inside a text",  # a padding id inside a sequence keeps position pad_id
    "Dense vectors capture meaning, sparse weights capture exact words. " * 12,
    "ColBERT keeps one vector per token.",
    "x",
]
SHORT = TEXTS[:4]  # for the full-size stand-in
QUERY = "What is the capital of France?"
DOCS = ["The capital of Brazil is Brasilia.", "The capital of France is Paris.", "北京是中国的首都",
        "Horses and cows are both animals " * 10, "Paris"]


def _stand_ins(size: str, tiny: Path) -> Path:
    if size == "tiny":
        return tiny
    from local_server.tools.test_models import make_test_models

    target = CACHE / f"{size}-models"
    if not (target / "bge-reranker-v2-m3" / "config.json").is_file():
        make_test_models(target, size)
    return target


class Oracle:
    """One size's models: ours and FlagEmbedding's, with memoised references."""

    def __init__(self, root: Path, size: str):
        from FlagEmbedding import BGEM3FlagModel, FlagReranker

        self.size = size
        self.texts = SHORT if size == "full" else TEXTS
        self.m3 = M3Runtime(str(root / "bge-m3"), "cpu")
        self.reranker = RerankerRuntime(str(root / "bge-reranker-v2-m3"), "cpu")
        self.flag_m3 = BGEM3FlagModel(str(root / "bge-m3"), use_fp16=False, devices=["cpu"])
        self.flag_reranker = FlagReranker(str(root / "bge-reranker-v2-m3"), use_fp16=False, devices=["cpu"])

    def embed_reference(self, texts: list[str], max_length: int = 8192) -> dict:
        """FlagEmbedding's outputs for each text computed alone (no padding), as one ``encode`` result."""
        merged: dict = {"dense_vecs": [], "lexical_weights": [], "colbert_vecs": []}
        for text in texts:
            one = self.flag_m3.encode([text], max_length=max_length, return_dense=True, return_sparse=True,
                                      return_colbert_vecs=True)
            for key, values in merged.items():
                values.append(one[key][0])
        return merged

    def rerank_reference(self, pairs: list[tuple[str, str]], max_length: int) -> list[float]:
        return [self.flag_reranker.compute_score([list(pair)], normalize=False, max_length=max_length)[0]
                for pair in pairs]

    def ids(self, texts: list[str], max_length: int = 8192) -> list[list[int]]:
        return self.m3.tokenizer.encode(texts, max_length=max_length, truncate=True)


@pytest.fixture(scope="module", params=["tiny", "small", "full"])
def oracle(request, tiny_models):
    models = Oracle(_stand_ins(request.param, tiny_models), request.param)
    yield models
    del models
    gc.collect()


def _assert_embedding_equal(got, want: dict, i: int) -> None:
    np.testing.assert_allclose(got.dense, want["dense_vecs"][i], atol=TOL, rtol=0)
    assert got.colbert.shape == want["colbert_vecs"][i].shape
    np.testing.assert_allclose(got.colbert, want["colbert_vecs"][i], atol=TOL, rtol=0)
    lexical = want["lexical_weights"][i]
    assert {str(k) for k in got.sparse} == set(lexical), "the same tokens carry weight"
    for key, weight in lexical.items():
        assert _close(got.sparse[int(key)], float(weight)), (key, got.sparse[int(key)], weight)


def _close(got: float, want: float) -> bool:
    return abs(got - want) <= TOL * max(1.0, abs(want))


def test_one_batch_of_mixed_lengths_equals_flagembedding(oracle):
    want = oracle.embed_reference(oracle.texts)
    got = oracle.m3.forward(oracle.ids(oracle.texts), ALL)
    for i in range(len(oracle.texts)):
        _assert_embedding_equal(got[i], want, i)


def test_a_text_gets_the_same_vectors_alone_and_in_any_company(oracle):
    texts = oracle.texts
    want = oracle.embed_reference(texts)
    ids = oracle.ids(texts)
    target = 0
    companies = [[target], [target, *range(1, len(texts))], [*range(len(texts) - 1, 0, -1), target],
                 [target, target, 2, target]]
    for company in companies:
        got = oracle.m3.forward([ids[i] for i in company], ALL)
        for position, index in enumerate(company):
            _assert_embedding_equal(got[position], want, index)


def test_truncation_at_max_length_equals_flagembedding(oracle):
    long_text = "retrieval augmented generation 人工智能 " * (40 if oracle.size == "full" else 700)
    max_length = 64 if oracle.size == "full" else 8192
    want = oracle.embed_reference([long_text, oracle.texts[2]], max_length=max_length)
    ids = oracle.ids([long_text, oracle.texts[2]], max_length=max_length)
    assert len(ids[0]) == max_length
    got = oracle.m3.forward(ids, ALL)
    for i in range(2):
        _assert_embedding_equal(got[i], want, i)


def test_only_the_outputs_asked_for_come_back_and_they_are_the_same(oracle):
    ids = oracle.ids(oracle.texts[:3])
    full = oracle.m3.forward(ids, ALL)
    for needs in (EmbedNeeds(dense=True), EmbedNeeds(dense=False, sparse=True),
                  EmbedNeeds(dense=False, colbert=True)):
        for got, both in zip(oracle.m3.forward(ids, needs), full, strict=True):
            assert (got.dense is None) != needs.dense and (got.sparse is None) != needs.sparse
            assert (got.colbert is None) != needs.colbert
            if needs.dense:
                np.testing.assert_array_equal(got.dense, both.dense)
            if needs.colbert:
                np.testing.assert_array_equal(got.colbert, both.colbert)
            if needs.sparse:
                assert got.sparse == both.sparse


def test_rerank_logits_equal_flagreranker_in_any_company_and_truncated(oracle):
    docs = DOCS[:3] if oracle.size == "full" else DOCS
    max_length = 48 if oracle.size == "full" else 8192
    long_doc = "the capital of France is Paris " * (20 if oracle.size == "full" else 2000)
    pairs = [(QUERY, d) for d in [*docs, long_doc]]
    want = oracle.rerank_reference(pairs, max_length)
    ids = oracle.reranker.tokenizer.encode_pairs(pairs, max_length=max_length, truncate=True)
    assert len(ids[-1]) == max_length
    together = oracle.reranker.forward(ids)
    alone = [oracle.reranker.forward([one])[0] for one in ids]
    for got in (together, alone):
        assert all(_close(g, w) for g, w in zip(got, want, strict=True)), (got, want)


def test_the_three_stages_are_the_forward(oracle):
    ids = oracle.ids(oracle.texts)
    prepared = oracle.m3.prepare(ids, ALL)
    assert prepared.tokens == sum(map(len, ids)), "one packed stream: not one padding token"
    staged = oracle.m3.finish(prepared, oracle.m3.execute(prepared))
    for got, want in zip(staged, oracle.m3.forward(ids, ALL), strict=True):
        np.testing.assert_array_equal(got.dense, want.dense)
    assert oracle.m3.attention_backend == "grouped-sdpa"


def test_pytorch_model_bin_loads_the_same_weights(tiny_models, tmp_path):
    """BAAI/bge-m3's main branch ships pytorch_model.bin only."""
    import torch
    from safetensors.torch import load_file

    copy = tmp_path / "bge-m3"
    shutil.copytree(tiny_models / "bge-m3", copy)
    torch.save(load_file(copy / "model.safetensors"), copy / "pytorch_model.bin")
    (copy / "model.safetensors").unlink()
    ids = [[0, 5, 6, 7, 2], [0, 9, 2]]
    want = M3Runtime(str(tiny_models / "bge-m3"), "cpu").forward(ids, ALL)
    got = M3Runtime(str(copy), "cpu").forward(ids, ALL)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a.dense, b.dense)
        np.testing.assert_array_equal(a.colbert, b.colbert)


def test_an_input_longer_than_the_positions_is_refused_before_the_device(tiny_models):
    m3 = M3Runtime(str(tiny_models / "bge-m3"), "cpu")
    with pytest.raises(ValueError, match="longer than the model's 8192 positions"):
        m3.prepare([[0] + [5] * 8192 + [2]], ALL)


def test_serving_never_imports_transformers(tiny_models):
    code = (
        "import sys\n"
        "from local_server.engine.runtime import M3Runtime, RerankerRuntime\n"
        "from local_server.engine.types import EmbedNeeds\n"
        f"m3 = M3Runtime({str(tiny_models / 'bge-m3')!r}, 'cpu')\n"
        "m3.forward(m3.tokenizer.encode(['a b'], max_length=16, truncate=True), EmbedNeeds(True, True, True))\n"
        f"rr = RerankerRuntime({str(tiny_models / 'bge-reranker-v2-m3')!r}, 'cpu')\n"
        "rr.forward(rr.tokenizer.encode_pairs([('a', 'b')], max_length=16, truncate=True))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'transformers', 'FlagEmbedding'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    assert out.strip() == "[]"


def test_attention_backends_are_probed_and_a_broken_one_is_skipped():
    """The CUDA order's logic, on the CPU: a backend that cannot run (flash-attn is not installed here) or that
    gives wrong numbers is passed over; one that runs correctly is kept."""
    import torch

    from local_server.engine.xlmr import attention

    assert attention.select("cpu", torch.float32, 2, 16, 1)[0] == "grouped-sdpa"
    assert attention.select("cpu", torch.float32, 2, 16, 1, prefer="nested-sdpa")[0] == "nested-sdpa"
    assert attention.select("cpu", torch.float32, 2, 16, 1, prefer="flash-attn")[0] == "grouped-sdpa"
    wrong = attention.BACKENDS["grouped-sdpa"]
    try:
        attention.BACKENDS["grouped-sdpa"] = lambda q, k, v, packed: wrong(q, k, v, packed) * 1.01
        assert attention.select("cpu", torch.float32, 2, 16, 1)[0] == "per-sequence-sdpa"
    finally:
        attention.BACKENDS["grouped-sdpa"] = wrong
