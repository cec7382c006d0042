"""Tokenization that is correct under any concurrency and any mix of truncation settings.

A transformers fast tokenizer applies ``truncation``/``max_length`` by reconfiguring the Rust tokenizer it
wraps, on every call, with no lock; concurrent requests with different settings then cut each other's inputs
or fail with "Already borrowed" (huggingface/transformers#47085). Here every model gets its own copy of the
Rust tokenizer with truncation and padding off, which is never reconfigured afterwards; threads only encode
with it (a read-only call that releases the GIL, so tokenization still runs in parallel). Cutting to a
limit and adding the special tokens happen in Python on each call's own lists, with the model's own
template (``<s> A </s>`` and ``<s> A </s></s> B </s>`` for XLM-R), read from the tokenizer at load time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_server.engine.errors import InvalidInput, TooLarge
from local_server.engine.types import Encoded, Token, Tokenized

# Tokenizing a 10 MB string to keep its first 8192 tokens wastes seconds: cut the text far beyond the point
# where the token limit falls (a token always covers at least one character), and judge it by that prefix.
_CHARS_PER_TOKEN_BOUND = 12
_NOT_SPACE = re.compile(r"\S")
_TOKENIZE_CHUNK = 64  # texts tokenized at a time by /tokenize, so that its budget stops the work early


def _kept(count: int, head: int, room: int, tail: int) -> range | list[int]:
    """Positions kept of ``count`` tokens: all when they fit, else the ``head`` special tokens, ``room`` of the
    content and the ``tail`` special tokens."""
    if count <= head + room + tail:
        return range(count)
    return [*range(head + room), *range(count - tail, count)]


def _text_beyond(text: str, bound: int, keep: str) -> bool:
    """Whether ``text`` holds anything but white space outside the ``bound`` characters tokenized (its first, or
    with ``keep="end"`` its last): only then did judging it by that part cut something off."""
    if keep == "end":
        return _NOT_SPACE.search(text, 0, len(text) - bound) is not None
    return _NOT_SPACE.search(text, bound) is not None


def _too_long(what: str, tokens: int, beyond_bound: bool, max_length: int) -> TooLarge:
    """The 413 of an input over the limit; ``beyond_bound``: judged by its first ``max_length`` x 12 characters,
    the most the server reads of a text for that limit."""
    counted = (f"more than {max_length * _CHARS_PER_TOKEN_BOUND} characters ({tokens} tokens in those alone)"
               if beyond_bound else f"{tokens} tokens")
    return TooLarge(f"{what} {counted}, more than the limit of {max_length} tokens; shorten it or let the server "
                    "truncate (truncate: true)", code="input_too_long")


@dataclass(frozen=True)
class _Template:
    """The special-token ids the model's post-processor puts around one sequence or a pair."""

    prefix: list[int]
    suffix: list[int]
    pair_prefix: list[int]
    pair_middle: list[int]
    pair_suffix: list[int]

    @classmethod
    def of(cls, tokenizer: Any) -> _Template:
        """Read from the post-processor itself: what it puts around one-token sequences is the template."""
        a, b = tokenizer.encode_batch(["a", "b"], add_special_tokens=False)
        single = tokenizer.post_process(a, None, add_special_tokens=True)
        pair = tokenizer.post_process(a, b, add_special_tokens=True)
        prefix, suffix = _specials_around(single, [len(a.ids)])
        pair_prefix, pair_middle, pair_suffix = _specials_around(pair, [len(a.ids), len(b.ids)])
        return cls(prefix, suffix, pair_prefix, pair_middle, pair_suffix)

    @property
    def single_extra(self) -> int:
        return len(self.prefix) + len(self.suffix)

    @property
    def pair_extra(self) -> int:
        return len(self.pair_prefix) + len(self.pair_middle) + len(self.pair_suffix)


def _specials_around(encoding: Any, lengths: list[int]) -> list[list[int]]:
    """The runs of special tokens before, between and after sequences of ``lengths`` tokens."""
    ids, mask = encoding.ids, encoding.special_tokens_mask
    runs, position = [], 0
    for length in [*lengths, 0]:
        run = []
        while position < len(ids) and mask[position]:
            run.append(ids[position])
            position += 1
        runs.append(run)
        position += length
    return runs


_ROLES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


def _role_tokens(directory: Path) -> dict[str, str]:
    """The special tokens by role, from ``special_tokens_map.json`` or else ``tokenizer_config.json`` (a value
    is a string or an AddedToken-like ``{"content": ...}``)."""
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        file = directory / name
        if file.is_file():
            raw = json.loads(file.read_text(encoding="utf-8"))
            roles = {}
            for role in _ROLES:
                value = raw.get(role)
                if isinstance(value, dict):
                    value = value.get("content")
                if isinstance(value, str):
                    roles[role] = value
            if roles:
                return roles
    return {}


def _xlmr_pipeline(tokenizer_json: str, add_prefix_space: bool) -> str:
    """``tokenizer.json`` with the normaliser and pre-tokenizer transformers 5 gives ``XLMRobertaTokenizer``
    (it builds them in the class and ignores the file's): the SentencePiece charsmap alone, then whitespace
    split + Metaspace. The file's own pipeline differs on runs of spaces, trailing spaces and spaces around
    special tokens ("a <pad>" gets an extra "▁" token); the server and FlagEmbedding both tokenize the
    transformers-5 way, so this keeps the ids they have always had."""
    spec = json.loads(tokenizer_json)
    normalizer = spec.get("normalizer") or {}
    parts = normalizer.get("normalizers", [normalizer]) if normalizer.get("type") == "Sequence" else [normalizer]
    charsmap = [n for n in parts if n and n.get("type") == "Precompiled"]
    spec["normalizer"] = charsmap[0] if charsmap else None
    scheme = "always" if add_prefix_space else "never"
    spec["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"},
        {"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": True}]}
    return json.dumps(spec, ensure_ascii=False)


class ModelTokenizer:
    """One model's tokenization: token ids with or without special tokens, cut to a limit, for single texts
    and for (query, document) pairs; token spans for ``/tokenize``. Safe to call from any number of threads.

    Built from the model directory's ``tokenizer.json`` through the ``tokenizers`` library alone
    (``from_directory``); ``from_transformers`` wraps a transformers tokenizer's backend the same way (tests)."""

    def __init__(self, rust: Any, roles: Mapping[str, str]):
        from tokenizers import Tokenizer

        # A private copy: nothing else (transformers included) can reconfigure it behind our back.
        self._rust = Tokenizer.from_str(rust.to_str())
        self._rust.no_truncation()
        self._rust.no_padding()
        self._template = _Template.of(self._rust)
        role_ids = {role: self._rust.token_to_id(token) for role, token in roles.items()}
        self.cls_id: int | None = role_ids.get("cls_token")
        self.eos_id: int | None = role_ids.get("eos_token")
        self.pad_id: int | None = role_ids.get("pad_token")
        self.unk_id: int | None = role_ids.get("unk_token")
        added = self._rust.get_added_tokens_decoder()
        self.special_ids = frozenset({i for i in role_ids.values() if i is not None}
                                     | {i for i, token in added.items() if token.special})

    @classmethod
    def from_directory(cls, path: str | Path) -> ModelTokenizer:
        from tokenizers import Tokenizer

        directory = Path(path)
        file = directory / "tokenizer.json"
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing: the server reads the fast tokenizer's tokenizer.json "
                                    "(fetch the model again with `bge-local download`)")
        text = file.read_text(encoding="utf-8")
        config_file = directory / "tokenizer_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
        if str(config.get("tokenizer_class", "")).startswith("XLMRobertaTokenizer"):
            text = _xlmr_pipeline(text, bool(config.get("add_prefix_space", True)))
        return cls(Tokenizer.from_str(text), _role_tokens(directory))

    @classmethod
    def from_transformers(cls, hf_tokenizer: Any) -> ModelTokenizer:
        roles = {role: str(getattr(hf_tokenizer, role)) for role in _ROLES if getattr(hf_tokenizer, role, None)}
        return cls(hf_tokenizer.backend_tokenizer, roles)

    def _content(self, texts: Sequence[str], char_limit: int | None, keep: str = "start") -> list[list[int]]:
        if char_limit is not None:
            texts = [t[-char_limit:] if keep == "end" else t[:char_limit] for t in texts]
        return [e.ids for e in self._rust.encode_batch_fast(list(texts), add_special_tokens=False)]

    def encode(self, texts: Sequence[str], *, max_length: int, truncate: bool, special: bool = True,
               keep: str = "start") -> Encoded:
        """Token ids of each text, at most ``max_length`` with the special tokens. Longer inputs are cut
        (keeping the closing special token) when ``truncate``, refused with ``TooLarge`` otherwise;
        ``keep="end"`` cuts their beginning instead of their end (Cohere's ``truncate: START``). The answer's
        ``truncated`` lists the inputs cut and the tokens each kept."""
        t = self._template
        extra = t.single_extra if special else 0
        room = max_length - extra
        if room < 0:
            raise InvalidInput(f"max_length must be at least {extra}")
        # Truncating or not, only a bounded prefix is tokenized: a text over the bound is over the limit anyway.
        bound = max_length * _CHARS_PER_TOKEN_BOUND
        contents = self._content(texts, bound, keep)
        result = Encoded()
        for i, ids in enumerate(contents):
            if len(ids) > room or len(texts[i]) > bound:  # rare: the common path only compares two numbers
                if not truncate:
                    raise _too_long(f"input {i} has", len(ids) + extra, len(texts[i]) > bound, max_length)
                if len(ids) > room or _text_beyond(texts[i], bound, keep):
                    ids = ids[len(ids) - room:] if keep == "end" else ids[:room]
                    result.truncated.append((i, len(ids) + extra))
            result.append([*t.prefix, *ids, *t.suffix] if special else ids)
        return result

    def encode_pairs(self, pairs: Sequence[tuple[str, str]], *, max_length: int, truncate: bool,
                     ) -> Encoded:
        """``<s> query </s></s> document </s>`` (the model's pair template) for each pair: the query cut to
        3/4 of ``max_length`` and the document to the rest (FlagReranker's rule), so every pair fits the
        model. Each distinct query is tokenized once. ``truncated`` lists the pairs whose query or document
        was cut, and the tokens each pair kept."""
        t = self._template
        queries = list(dict.fromkeys(q for q, _ in pairs))
        query_limit = max_length * 3 // 4
        query_bound = query_limit * _CHARS_PER_TOKEN_BOUND
        query_ids, query_cut = {}, set()
        for q, ids in zip(queries, self._content(queries, query_bound), strict=True):
            query_ids[q] = ids[:query_limit]
            if len(ids) > query_limit or (len(q) > query_bound and _text_beyond(q, query_bound, "start")):
                query_cut.add(q)  # cut whatever ``truncate`` says, as FlagReranker does
        bound = max_length * _CHARS_PER_TOKEN_BOUND
        doc_ids = self._content([d for _, d in pairs], bound)  # a bounded prefix, truncating or not
        result = Encoded()
        for i, ((query, document), d_ids) in enumerate(zip(pairs, doc_ids, strict=True)):
            q_ids = query_ids[query]
            room = max_length - len(q_ids) - t.pair_extra
            if room < 0:
                raise InvalidInput(f"max_length {max_length} is too small for the query and {t.pair_extra} special "
                                   f"tokens; allow at least {len(q_ids) + t.pair_extra}")
            cut = query in query_cut
            if len(d_ids) > room or len(document) > bound:  # rare: the common path only compares two numbers
                if not truncate:
                    raise _too_long(f"query and document {i} together have", len(q_ids) + len(d_ids) + t.pair_extra,
                                    len(document) > bound, max_length)
                if len(d_ids) > room or _text_beyond(document, bound, "start"):
                    d_ids, cut = d_ids[:room], True
            result.append([*t.pair_prefix, *q_ids, *t.pair_middle, *d_ids, *t.pair_suffix])
            if cut:
                result.truncated.append((i, len(result[-1])))
        return result

    def tokenize(self, texts: list[str], *, special: bool, offsets: bool, max_length: int,
                 budget: int) -> Tokenized:
        """The tokens of each text, at most ``max_length`` with the special tokens (the end is cut, the closing
        special token kept), with ``offsets`` each token's text, span and kind; ``TooLarge`` once the answer
        would hold more than ``budget`` tokens. Only a bounded prefix of each text is tokenized, a few texts
        at a time, so the work and memory stay bounded by ``budget`` whatever the texts."""
        head = len(self._template.prefix) if special else 0
        tail = len(self._template.suffix) if special else 0
        room = max(max_length - head - tail, 0)
        bound = max(max_length, 1) * _CHARS_PER_TOKEN_BOUND
        ids: list[list[int]] = []
        tokens: list[list[Token]] = []
        total = 0
        for start in range(0, len(texts), _TOKENIZE_CHUNK):
            chunk = [text[:bound] for text in texts[start:start + _TOKENIZE_CHUNK]]
            encode = self._rust.encode_batch if offsets else self._rust.encode_batch_fast
            for text, e in zip(chunk, encode(chunk, add_special_tokens=special), strict=True):
                keep = _kept(len(e.ids), head, room, tail)
                total += len(keep)
                if total > budget:
                    raise TooLarge(f"the tokens of these inputs are more than one answer may hold ({budget}); send "
                                   "fewer or shorter texts, or raise --max-tokenize-tokens", code="too_many_tokens")
                all_ids = e.ids  # a new list at each access: read it once
                row = [all_ids[k] for k in keep] if isinstance(keep, list) else all_ids
                ids.append(row)
                if offsets:
                    spans = e.offsets
                    tokens.append([Token(id=i, text=self._rust.id_to_token(i) if i in self.special_ids
                                         else text[spans[k][0]:spans[k][1]], special=i in self.special_ids,
                                         start=spans[k][0], stop=spans[k][1]) for i, k in zip(row, keep, strict=True)])
        return Tokenized(ids=ids, tokens=tokens)

    def pieces(self, text: str, max_tokens: int) -> tuple[list[int], list[str]]:
        """The ids of ``text`` without special tokens (at most ``max_tokens``, from a bounded prefix), and for each
        the piece of ``text`` from its start to the next token's start, so that the pieces join back into
        ``text`` exactly (into its beginning, when it had more tokens)."""
        cut = text[:max_tokens * _CHARS_PER_TOKEN_BOUND]
        encoding = self._rust.encode(cut, add_special_tokens=False)
        ids, spans = encoding.ids, encoding.offsets
        starts: list[int] = []
        for start, _ in spans[:max_tokens]:
            starts.append(0 if not starts else max(start, starts[-1]))
        end = len(cut) if len(spans) <= max_tokens else max(spans[max_tokens][0], starts[-1])
        ends = [*starts[1:], end] if starts else []  # an empty text (or all whitespace) has no pieces
        return list(ids[:max_tokens]), [cut[a:b] for a, b in zip(starts, ends, strict=True)]

    @property
    def vocab_size(self) -> int:
        return self._rust.get_vocab_size(with_added_tokens=True)

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``, special tokens kept, spaces not cleaned up (transformers' ``decode`` with
        ``clean_up_tokenization_spaces=False``, which is this same call)."""
        return self._rust.decode([int(i) for i in ids], skip_special_tokens=False)

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Each id decoded on its own (sparse weights keyed by token text)."""
        return [self._rust.decode([int(i)], skip_special_tokens=False) for i in ids]
