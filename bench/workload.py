"""The benchmark's scenarios and their inputs: deterministic, and counted with the model's own tokenizer.

Every target (this server, the seeds' way over HTTP and in-process, Infinity) gets exactly the same
requests, so tokens per request are counted once here, the way the model sees them: with ``<s>``/``</s>``,
truncated at the model's 8192-token limit, and for rerank as ``<s> query </s></s> document </s>``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_LENGTH = 8192

# Mixed English / Chinese sentences (the stand-in tokenizer covers both; so does the real one).
_SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? The capital of France is Paris.",
    "Horses and cows are both animals that live on farms.",
    "Retrieval augmented generation combines search with a language model.",
    "Dense vectors capture meaning, sparse weights capture exact words.",
    "ColBERT keeps one vector per token for late interaction scoring.",
    "A reranker reads the query and the document together and scores them.",
    "Self-hosted embedding servers run on a GPU next to the application.",
    "Please reset my payment password, I forgot it yesterday.",
    "Python decorators wrap a function to change its behaviour.",
    "Machine learning models need data, compute and careful evaluation.",
    "Large documents are split into chunks before they are embedded.",
    "The server batches requests from many clients into one forward pass.",
    "The contract is signed by both parties and is valid for three years.",
    "Invoices are due within thirty days of the delivery date.",
    "人工智能正在改变世界。",
    "如何重置微信支付密码",
    "本协议由甲方与乙方于二零二五年签署，有效期三年。",
    "深度学习需要大量的数据和计算资源。",
    "检索增强生成结合了搜索和语言模型。",
    "向量数据库用于存储文本的嵌入表示。",
    "北京是中国的首都，上海是最大的城市。",
    "法律条文检索与合同审查",
]


@dataclass
class Scenario:
    key: str
    title: str
    kind: str  # "embed" or "rerank"
    clients: int  # concurrent client connections (closed loop: each sends its next request on an answer)
    requests: int  # requests per repetition
    texts_per_request: int  # texts (embed) or documents (rerank)
    lengths: tuple[int, int]  # target tokens per text/document, drawn uniformly (log-uniform if log_lengths)
    log_lengths: bool = False
    outputs: tuple[str, ...] = ("dense",)  # embed: which bge-m3 outputs
    query_lengths: tuple[int, int] = (8, 32)  # rerank
    quick_requests: int = 0
    why: str = ""

    def n_requests(self, quick: bool, scale: float) -> int:
        base = self.quick_requests if quick and self.quick_requests else self.requests
        return max(self.clients if not quick else 1, round(base * scale))


SCENARIOS: dict[str, Scenario] = {
    "a": Scenario("a", "Dify: 1 text per request", "embed", clients=32, requests=128, quick_requests=64,
                  texts_per_request=1, lengths=(16, 512), log_lengths=True,
                  why="many concurrent one-text requests (queries and chunks), Dify's pattern"),
    "b": Scenario("b", "RAGFlow: 16 texts per request", "embed", clients=4, requests=12, quick_requests=4,
                  texts_per_request=16, lengths=(32, 192),
                  why="RAGFlow's document indexing: batches of 16 chunks from several clients"),
    "c": Scenario("c", "long documents, 2k-8k tokens", "embed", clients=2, requests=4, quick_requests=2,
                  texts_per_request=1, lengths=(2048, 8192),
                  why="whole documents up to bge-m3's 8192-token limit"),
    "d": Scenario("d", "rerank 1 query x 64 documents", "rerank", clients=2, requests=4, quick_requests=2,
                  texts_per_request=64, lengths=(32, 192),
                  why="one query against 64 retrieved chunks"),
    "e": Scenario("e", "dense+sparse+ColBERT, 16 texts", "embed", clients=4, requests=8, quick_requests=4,
                  texts_per_request=16, lengths=(32, 192), outputs=("dense", "sparse", "colbert"),
                  why="all three bge-m3 outputs from one pass (ColBERT: a vector per token)"),
}


@dataclass
class Request:
    texts: list[str] = field(default_factory=list)  # embed
    query: str = ""  # rerank
    documents: list[str] = field(default_factory=list)  # rerank
    tokens: int = 0  # as the model sees them
    lengths: list[int] = field(default_factory=list)  # tokens per forward-pass input

    def neutral(self) -> dict[str, Any]:
        if self.documents:
            return {"query": self.query, "documents": self.documents}
        return {"texts": self.texts}


class TokenCounter:
    """The model's own tokenizer (``tokenizer.json``, as the fast HF tokenizer the server uses)."""

    def __init__(self, model_dir: str | Path):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(MAX_LENGTH)

    def count(self, text: str) -> int:
        return len(self.tok.encode(text).ids)

    def count_pair(self, query: str, document: str) -> int:
        return len(self.tok.encode(query, document).ids)

    def text_of(self, rng: random.Random, tokens: int) -> str:
        """A text of about ``tokens`` tokens (with the two special tokens), cut on a token boundary."""
        self.tok.no_truncation()
        try:
            parts: list[str] = []
            text = ""
            rounds = 1
            while True:
                for _ in range(rounds):
                    parts.extend(rng.sample(_SENTENCES, len(_SENTENCES)))
                rounds *= 2
                text = " ".join(parts)
                enc = self.tok.encode(text)
                if len(enc.ids) >= tokens:
                    break
            content = len(enc.ids) - 1  # the last is </s>
            cut = max(1, min(content - 1, tokens - 2))  # offsets of the last content token to keep
            end = enc.offsets[cut][1]
            return text[:end].rstrip()
        finally:
            self.tok.enable_truncation(MAX_LENGTH)


def _length(rng: random.Random, lo: int, hi: int, log: bool) -> int:
    if log:
        import math

        return round(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return rng.randint(lo, hi)


def build_requests(scenario: Scenario, counter: TokenCounter, n: int, seed: int = 1234) -> list[Request]:
    rng = random.Random(f"{seed}-{scenario.key}")
    out: list[Request] = []
    lo, hi = scenario.lengths
    for _ in range(n):
        if scenario.kind == "rerank":
            query = counter.text_of(rng, _length(rng, *scenario.query_lengths, False))
            docs = [counter.text_of(rng, _length(rng, lo, hi, scenario.log_lengths))
                    for _ in range(scenario.texts_per_request)]
            lengths = [counter.count_pair(query, d) for d in docs]
            out.append(Request(query=query, documents=docs, tokens=sum(lengths), lengths=lengths))
        else:
            texts = [counter.text_of(rng, _length(rng, lo, hi, scenario.log_lengths))
                     for _ in range(scenario.texts_per_request)]
            lengths = [counter.count(t) for t in texts]
            out.append(Request(texts=texts, tokens=sum(lengths), lengths=lengths))
    return out


def warmup_requests(scenario: Scenario, counter: TokenCounter, n: int) -> list[Request]:
    """A few requests of the scenario's shape (different texts), the shortest inputs for long documents."""
    reqs = build_requests(scenario, counter, max(n, 1), seed=99)
    if scenario.key == "c":
        reqs = sorted(reqs, key=lambda r: r.tokens)[:1]
    return reqs
