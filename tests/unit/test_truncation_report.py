"""The tokenizer says which inputs it cut and to how many tokens, counted as transformers counts them on the tiny
model's own tokenizer (no server; the answers' header and field are tested in tests/server)."""

from __future__ import annotations

import pickle
import random

import pytest
from support.token_texts import random_texts

from local_server.dialects.truncation import HEADER, HEADER_BUDGET, OMITTED_HEADER, headers
from local_server.engine.types import Encoded


def _cut_by_transformers(hf, texts: list[str], max_length: int, special: bool) -> list[tuple[int, int]]:
    whole = hf(texts, add_special_tokens=special)["input_ids"]
    kept = hf(texts, add_special_tokens=special, truncation=True, max_length=max_length)["input_ids"]
    return [(i, len(k)) for i, (w, k) in enumerate(zip(whole, kept, strict=True)) if len(w) > len(k)]


@pytest.mark.parametrize("max_length", [3, 17, 100, 8192])
@pytest.mark.parametrize("special", [True, False])
@pytest.mark.parametrize("keep", ["start", "end"])
def test_encode_reports_the_inputs_cut_as_transformers_counts_them(hf, tok, max_length, special, keep):
    texts = random_texts(max_length, 80, 150)
    got = tok.encode(texts, max_length=max_length, truncate=True, special=special, keep=keep)
    want = _cut_by_transformers(hf, texts, max_length, special)
    assert got.truncated == want
    assert [len(got[i]) for i, _ in want] == [tokens for _, tokens in want]
    if max_length == 17:
        assert want  # the test means something: some inputs are cut


def test_nothing_cut_reports_nothing_and_the_answer_is_a_plain_list(hf, tok):
    texts = random_texts(3, 30, 20)
    got = tok.encode(texts, max_length=8192, truncate=True)
    assert got.truncated == [] and got == hf(texts)["input_ids"] and isinstance(got, list)
    again = pickle.loads(pickle.dumps(tok.encode(["word " * 40], max_length=16, truncate=True)))
    assert isinstance(again, Encoded) and again.truncated == [(0, 16)] and len(again[0]) == 16


@pytest.mark.parametrize("max_length", [16, 40, 300])
def test_pairs_report_the_query_or_document_cut_with_the_pairs_tokens(hf, tok, max_length):
    """FlagReranker's rule: the query cut to 3/4 of the limit, the document to the rest."""
    rng = random.Random(max_length)
    texts = random_texts(max_length + 1, 40, 200)
    pairs = [(rng.choice(texts), rng.choice(texts)) for _ in range(40)]
    want = []
    for i, (query, doc) in enumerate(pairs):
        q_all = hf(query, add_special_tokens=False)["input_ids"]
        q = q_all[:max_length * 3 // 4]
        d = hf(doc, add_special_tokens=False)["input_ids"]
        if len(q_all) > len(q) or len(q) + len(d) + 4 > max_length:  # <s> q </s></s> d </s>, d cut to the rest
            want.append((i, len(q) + min(len(d), max_length - len(q) - 4) + 4))
    got = tok.encode_pairs(pairs, max_length=max_length, truncate=True)
    assert got.truncated == want and want
    assert all(len(got[i]) == tokens for i, tokens in want)


def test_a_long_query_is_reported_even_when_no_document_is_cut(tok):
    got = tok.encode_pairs([("word " * 60, "a"), ("short", "b")], max_length=64, truncate=True)
    assert got.truncated == [(0, len(got[0]))] and len(got[0]) == 64 * 3 // 4 + 1 + 4


def test_text_beyond_the_bounded_prefix_counts_only_when_it_is_not_white_space(tok):
    """Only the first max_length x 12 characters are tokenized: white space after them cuts nothing."""
    padded = "a b" + " " * 500
    assert tok.encode([padded], max_length=16, truncate=True).truncated == []
    assert tok.encode([padded[::-1]], max_length=16, truncate=True, keep="end").truncated == []
    spaced = "a" + " " * 500 + "b"
    assert tok.encode([spaced], max_length=16, truncate=True).truncated == [(0, 3)]
    assert tok.encode_pairs([("q", spaced)], max_length=16, truncate=True).truncated == [(0, 6)]
    assert tok.encode_pairs([("q", padded)], max_length=16, truncate=True).truncated == []


def test_the_header_lists_what_fits_its_budget_and_counts_the_rest():
    assert headers([]) == {}
    assert headers([(0, 512), (3, 512)]) == {HEADER: "0=512,3=512"}
    many = [(i, 8192) for i in range(4096)]
    out = headers(many)
    listed = out[HEADER].split(",")
    assert len(out[HEADER]) <= HEADER_BUDGET < len(out[HEADER]) + len(f",{len(listed)}=8192")
    assert listed == [f"{i}=8192" for i in range(len(listed))]
    assert int(out[OMITTED_HEADER]) == 4096 - len(listed)
