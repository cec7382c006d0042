"""The engine's tokenization on the tiny model's real tokenizer (no server): the same ids transformers gives
for every setting, and the same ids under concurrency with mixed settings."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.token_texts import random_texts

from local_server.engine.errors import InvalidInput, TooLarge


@pytest.mark.parametrize("max_length", [2, 3, 17, 100, 8192])
@pytest.mark.parametrize("special", [True, False])
def test_truncated_ids_equal_transformers(hf, tok, max_length, special):
    texts = random_texts(max_length, 120, 300)
    want = hf(texts, add_special_tokens=special, truncation=True, max_length=max_length)["input_ids"]
    assert tok.encode(texts, max_length=max_length, truncate=True, special=special) == want


def test_untruncated_ids_equal_transformers_and_overlong_inputs_are_refused(hf, tok):
    texts = random_texts(1, 60, 300)
    assert tok.encode(texts, max_length=10**6, truncate=False) == hf(texts)["input_ids"]
    long = max(texts, key=len)
    with pytest.raises(TooLarge, match="input 1 has"):
        tok.encode(["short", long], max_length=20, truncate=False)


@pytest.mark.parametrize("max_length", [16, 40, 300, 8192])
def test_pairs_cut_the_query_at_three_quarters_and_use_the_models_pair_template(hf, tok, max_length):
    rng = random.Random(max_length)
    texts = random_texts(max_length + 1, 40, 200)
    pairs = [(rng.choice(texts), rng.choice(texts)) for _ in range(40)]
    cls_id, sep_id = hf.cls_token_id, hf.sep_token_id
    for (query, doc), got in zip(pairs, tok.encode_pairs(pairs, max_length=max_length, truncate=True), strict=True):
        q = hf(query, add_special_tokens=False, truncation=True, max_length=max_length * 3 // 4)["input_ids"]
        d = hf(doc, add_special_tokens=False)["input_ids"]
        assert got == [cls_id, *q, sep_id, sep_id, *d[:max_length - len(q) - 4], sep_id]
        # transformers' own pair encoding, when nothing is cut (it reads an empty second text as none at all)
        if doc and len(q) + len(d) + 4 <= max_length and q == hf(query, add_special_tokens=False)["input_ids"]:
            assert got == hf(query, doc)["input_ids"]


def test_pairs_refuse_what_does_not_fit(tok):
    with pytest.raises(TooLarge, match="query and document 0"):
        tok.encode_pairs([("query", "document " * 50)], max_length=20, truncate=False)
    with pytest.raises(InvalidInput, match="too small"):
        tok.encode_pairs([("a long query " * 10, "d")], max_length=8, truncate=True)


def test_offsets_and_special_tokens_equal_transformers(hf, tok):
    texts = random_texts(5, 20, 40)
    got = tok.tokenize(texts, special=True, offsets=True, max_length=8192, budget=10**6)
    want = hf(texts, return_offsets_mapping=True)
    specials = set(hf.all_special_ids)
    assert got.ids == want["input_ids"]
    for text, ids, spans, tokens in zip(texts, want["input_ids"], want["offset_mapping"], got.tokens, strict=True):
        for i, (start, stop), token in zip(ids, spans, tokens, strict=True):
            assert (token.id, token.start, token.stop, token.special) == (i, start, stop, i in specials)
            assert token.text == (hf.convert_ids_to_tokens(i) if i in specials else text[start:stop])
    bare = tok.tokenize(texts, special=False, offsets=False, max_length=8192, budget=10**6)
    assert bare.ids == hf(texts, add_special_tokens=False)["input_ids"]


def test_pieces_join_back_into_the_text_and_match_the_ids(hf, tok):
    for text in random_texts(6, 20, 40):  # with "" and " ": texts without tokens have no pieces
        ids, pieces = tok.pieces(text, 8192)
        assert ids == hf(text, add_special_tokens=False)["input_ids"]
        assert len(pieces) == len(ids)
        assert "".join(pieces) == (text if ids else "")


@pytest.mark.parametrize("max_length", [3, 17, 100])
def test_tokenize_cuts_at_max_length_like_transformers(hf, tok, max_length):
    texts = random_texts(max_length + 1, 30, 200)
    want = hf(texts, truncation=True, max_length=max_length, return_offsets_mapping=True)
    got = tok.tokenize(texts, special=True, offsets=True, max_length=max_length, budget=10**6)
    assert got.ids == want["input_ids"]
    assert [[(t.start, t.stop) for t in row] for row in got.tokens] == [list(map(tuple, s)) for s in
                                                                        want["offset_mapping"]]


def test_tokenize_stops_at_its_budget_and_pieces_at_their_limit(hf, tok):
    with pytest.raises(TooLarge, match="max-tokenize-tokens"):
        tok.tokenize(["word " * 1000] * 5, special=True, offsets=False, max_length=8192, budget=2500)
    text = "word " * 1000
    ids, pieces = tok.pieces(text, 10)
    assert ids == hf(text, add_special_tokens=False)["input_ids"][:10] and len(pieces) == 10
    assert text.startswith("".join(pieces))


def test_no_truncation_judges_a_huge_text_by_a_bounded_prefix(tok):
    huge = "word " * 2_000_000  # 10 MB: tokenizing it whole would take seconds
    with pytest.raises(TooLarge, match="more than 98304 characters"):
        tok.encode([huge], max_length=8192, truncate=False)
    with pytest.raises(TooLarge, match="query and document 0"):
        tok.encode_pairs([("q", huge)], max_length=8192, truncate=False)


def test_mixed_settings_from_many_threads_give_each_call_its_own_answer(hf, tok):
    """8 threads mix every setting, while another thread keeps reconfiguring transformers' tokenizer (as
    any other caller of it would): every answer equals the same call made alone."""
    long_texts = random_texts(7, 6, 4000)
    calls = []
    for i, text in enumerate(long_texts * 4):
        calls += [
            ("encode", dict(texts=[text], max_length=8192, truncate=True)),
            ("encode", dict(texts=[text, "short"], max_length=24 + i, truncate=True)),
            ("encode", dict(texts=["a short text"], max_length=8192, truncate=False)),
            ("encode_pairs", dict(pairs=[(text, text[::-1])], max_length=64 + i, truncate=True)),
            ("tokenize", dict(texts=[text], special=True, offsets=False, max_length=8192, budget=10**6)),
        ]
    alone = [getattr(tok, name)(**kwargs) for name, kwargs in calls]
    stop = threading.Event()

    def meddle() -> None:
        while not stop.is_set():
            hf(long_texts[:2], truncation=True, max_length=7)
            hf(long_texts[:2], truncation=False)

    meddler = threading.Thread(target=meddle)
    meddler.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            together = list(pool.map(lambda call: getattr(tok, call[0])(**call[1]), calls))
    finally:
        stop.set()
        meddler.join()
    assert together == alone


def test_decode_token_strings_and_special_ids_equal_transformers(hf, tok):
    texts = [*random_texts(7, 40, 50), "Hello <pad> world  ", "a\tb\nc", "  leading and trailing  "]
    for ids in hf(texts)["input_ids"]:
        assert tok.decode(ids) == hf.decode(ids, clean_up_tokenization_spaces=False)
        assert tok.token_strings(ids) == [hf.decode([i]) for i in ids]
    assert tok.special_ids == frozenset(hf.all_special_ids)
    assert (tok.cls_id, tok.eos_id, tok.pad_id, tok.unk_id) == (
        hf.cls_token_id, hf.eos_token_id, hf.pad_token_id, hf.unk_token_id)
