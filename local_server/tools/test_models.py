"""Build randomly initialised stand-ins for bge-m3 and bge-reranker-v2-m3, entirely offline.

The directories have the real architecture (XLM-RoBERTa) and the real file layout (tokenizer files,
``config.json``, safetensors weights, ``colbert_linear.pt``, ``sparse_linear.pt``), so FlagEmbedding
loads them through exactly the code path it uses for the real models. Only the weights are random and
the tokenizer vocabulary is small (a SentencePiece unigram model trained here on a built-in corpus).
Written with torch, safetensors and tokenizers alone (the server's own install; no transformers): the weights
are drawn exactly as transformers' ``XLMRobertaModel(config)`` + ``save_pretrained`` draw and write them, so
the files are byte for byte those transformers 5 writes (config.json less its ``transformers_version``),
which ``tests/unit/test_stand_in_models.py`` checks.

Sizes:
  tiny   hidden 32, 2 layers: for tests (about 2 MB each, built in about a second)
  small  hidden 384, 4 layers: for CPU benchmarks
  full   bge-m3's real shape (1024 hidden, 24 layers, 250,002-token table): for GPU benchmarks;
         the cost per token equals the real model's because it does not depend on the weights' values.
"""

from __future__ import annotations

import io
import json
import string
from dataclasses import dataclass
from pathlib import Path

EMBEDDER_DIR = "bge-m3"
RERANKER_DIR = "bge-reranker-v2-m3"
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")
# At the default 0.02 every text embeds to nearly the same vector and tests can't tell them apart.
INITIALIZER_RANGE = 0.2


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int | None  # None: exactly the trained tokenizer's vocabulary


SHAPES: dict[str, ModelShape] = {
    "tiny": ModelShape(hidden=32, layers=2, heads=2, ffn=64, vocab_size=None),
    "small": ModelShape(hidden=384, layers=4, heads=6, ffn=1536, vocab_size=None),
    "full": ModelShape(hidden=1024, layers=24, heads=16, ffn=4096, vocab_size=250_002),
}

_ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? The capital of France is Paris.",
    "The capital of Brazil is Brasilia.",
    "Horses and cows are both animals that live on farms.",
    "Retrieval augmented generation combines search with a language model.",
    "Dense vectors capture meaning, sparse weights capture exact words.",
    "ColBERT keeps one vector per token for late interaction scoring.",
    "A reranker reads the query and the document together and scores them.",
    "Self-hosted embedding servers run on a GPU next to the application.",
    "Is it sunny today? What's the weather like tomorrow morning?",
    "Organic skincare products for sensitive skin.",
    "The food was delicious and the waiter was very friendly.",
    "Please reset my payment password, I forgot it yesterday.",
    "Python decorators wrap a function to change its behaviour.",
    "Hello, world! 1234567890 #$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "Machine learning models need data, compute and careful evaluation.",
    "Large documents are split into chunks before they are embedded.",
    "The server batches requests from many clients into one forward pass.",
]
_CHINESE = [
    "人工智能正在改变世界。",
    "如何重置微信支付密码",
    "微信支付密码忘了怎么办",
    "本协议由甲方与乙方于二零二五年签署，有效期三年。",
    "苹果手机维修服务中心在哪里？",
    "深度学习需要大量的数据和计算资源。",
    "今天天气很好，我们去公园散步吧。",
    "检索增强生成结合了搜索和语言模型。",
    "你好，世界",
    "法律条文检索与合同审查",
    "向量数据库用于存储文本的嵌入表示。",
    "北京是中国的首都，上海是最大的城市。",
]


def _corpus() -> list[str]:
    lines = _ENGLISH + _CHINESE
    # Every printable ASCII character on its own line as well, so none of them becomes <unk>.
    lines += [" ".join(string.printable[:95])]
    lines += [w for line in _ENGLISH for w in line.split()]
    return lines * 3


def _train_sentencepiece(vocab_size: int) -> bytes:
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus()),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        required_chars=string.printable[:94].replace(" ", ""),
        minloglevel=2,
        num_threads=1,
        seed_sentencepiece_size=100_000,
    )
    return buffer.getvalue()


def _build_tokenizer(spm_bytes: bytes, vocab_size: int | None):
    """A `tokenizers` Unigram tokenizer with XLM-R's id layout (<s>=0 <pad>=1 </s>=2 <unk>=3 … <mask>)."""
    from sentencepiece import sentencepiece_model_pb2
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(spm_bytes)
    vocab: list[tuple[str, float]] = [(tok, 0.0) for tok in SPECIAL_TOKENS]
    # spm's own ids 0..2 are <unk>, <s>, </s>: XLM-R shifts the rest by one, after its four specials.
    vocab += [(p.piece, p.score) for p in proto.pieces[3:]]
    if vocab_size is not None:
        # Pad the table to the real model's size with unreachable pieces (cost per token is unchanged).
        vocab += [(f"<extra_{i}>", -100.0) for i in range(vocab_size - len(vocab) - 1)]
    vocab.append(("<mask>", 0.0))

    tokenizer = Tokenizer(Unigram(vocab, unk_id=3, byte_fallback=False))
    charsmap = proto.normalizer_spec.precompiled_charsmap
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    tokenizer.add_special_tokens([*SPECIAL_TOKENS, "<mask>"])
    return tokenizer, len(vocab)


def _write_tokenizer_files(directory: Path, tokenizer, spm_bytes: bytes) -> None:
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "sentencepiece.bpe.model").write_bytes(spm_bytes)
    specials = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "cls_token": "<s>",
        "mask_token": "<mask>",
    }
    (directory / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))
    config = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 8192, **specials}
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2))


def _config(shape: ModelShape, vocab_size: int, architecture: str, **extra) -> dict:
    """config.json as transformers 5 writes it for ``XLMRobertaConfig`` with these settings (its defaults
    included, layer_norm_eps 1e-12 among them), so transformers and FlagEmbedding load the directory as before."""
    return {
        "add_cross_attention": False,
        "architectures": [architecture],
        "attention_probs_dropout_prob": 0.1,
        "bos_token_id": 0,
        "classifier_dropout": None,
        "dtype": "float32",
        "eos_token_id": 2,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": shape.hidden,
        **extra,
        "initializer_range": INITIALIZER_RANGE,
        "intermediate_size": shape.ffn,
        "is_decoder": False,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 8194,
        "model_type": "xlm-roberta",
        "num_attention_heads": shape.heads,
        "num_hidden_layers": shape.layers,
        "pad_token_id": 1,
        "tie_word_embeddings": True,
        "type_vocab_size": 1,
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def _backbone(shape: ModelShape, vocab_size: int):
    """XLM-RoBERTa's parameters as torch modules under transformers' names, created in the order
    ``XLMRobertaModel.__init__`` creates them (so torch's default initialisation draws the same numbers)."""
    from torch import nn

    def norm() -> nn.LayerNorm:
        return nn.LayerNorm(shape.hidden, eps=1e-12)

    embeddings = nn.Module()
    embeddings.word_embeddings = nn.Embedding(vocab_size, shape.hidden, padding_idx=1)
    embeddings.token_type_embeddings = nn.Embedding(1, shape.hidden)
    embeddings.LayerNorm = norm()
    embeddings.position_embeddings = nn.Embedding(8194, shape.hidden, padding_idx=1)
    encoder = nn.Module()
    encoder.layer = nn.ModuleList()
    for _ in range(shape.layers):
        layer = nn.Module()
        layer.attention = nn.Module()
        layer.attention.self = nn.Module()
        for name in ("query", "key", "value"):
            setattr(layer.attention.self, name, nn.Linear(shape.hidden, shape.hidden))
        layer.attention.output = nn.Module()
        layer.attention.output.dense = nn.Linear(shape.hidden, shape.hidden)
        layer.attention.output.LayerNorm = norm()
        layer.intermediate = nn.Module()
        layer.intermediate.dense = nn.Linear(shape.hidden, shape.ffn)
        layer.output = nn.Module()
        layer.output.dense = nn.Linear(shape.ffn, shape.hidden)
        layer.output.LayerNorm = norm()
        encoder.layer.append(layer)
    model = nn.Module()
    model.embeddings = embeddings
    model.encoder = encoder
    return model


def _classifier(shape: ModelShape, vocab_size: int):
    """``XLMRobertaForSequenceClassification`` with one label: the backbone under ``roberta.`` and the head."""
    from torch import nn

    model = nn.Module()
    model.roberta = _backbone(shape, vocab_size)
    model.classifier = nn.Module()
    model.classifier.dense = nn.Linear(shape.hidden, shape.hidden)
    model.classifier.out_proj = nn.Linear(shape.hidden, 1)
    return model


def _init_like_transformers(module) -> None:
    """transformers' ``_init_weights``, applied children first as its ``post_init`` does: normal weights,
    zero biases, zero padding rows, LayerNorm ones and zeros."""
    import torch
    from torch import nn

    with torch.no_grad():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=INITIALIZER_RANGE)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=INITIALIZER_RANGE)
            if module.padding_idx is not None:
                nn.init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def _save_model(model, directory: Path, config: dict) -> None:
    """model.safetensors and config.json, as ``save_pretrained`` writes them (same tensors, same metadata)."""
    from safetensors.torch import save_file

    model.apply(_init_like_transformers)
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def _write_sentence_transformers_files(directory: Path, hidden: int) -> None:
    """Optional files that let sentence-transformers based servers (Infinity) load the same directory."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (directory / "modules.json").write_text(json.dumps(modules, indent=2))
    (directory / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 8192, "do_lower_case": False})
    )
    pooling = directory / "1_Pooling"
    pooling.mkdir(exist_ok=True)
    (pooling / "config.json").write_text(
        json.dumps({"word_embedding_dimension": hidden, "pooling_mode_cls_token": True,
                    "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False})
    )
    (directory / "2_Normalize").mkdir(exist_ok=True)


def make_test_models(out_dir: str | Path, size: str = "tiny", seed: int = 0) -> tuple[Path, Path]:
    """Write ``out_dir/bge-m3`` and ``out_dir/bge-reranker-v2-m3`` and return both paths.

    Deterministic: the same seed and library versions give the same files.
    """
    import torch

    if size not in SHAPES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SHAPES)}")
    shape = SHAPES[size]
    out = Path(out_dir)
    embedder_dir, reranker_dir = out / EMBEDDER_DIR, out / RERANKER_DIR
    embedder_dir.mkdir(parents=True, exist_ok=True)
    reranker_dir.mkdir(parents=True, exist_ok=True)

    spm_bytes = _train_sentencepiece(vocab_size=600)
    tokenizer, vocab_size = _build_tokenizer(spm_bytes, shape.vocab_size)

    torch.manual_seed(seed)
    _save_model(_backbone(shape, vocab_size), embedder_dir, _config(shape, vocab_size, "XLMRobertaModel"))
    colbert = torch.nn.Linear(shape.hidden, shape.hidden)
    sparse = torch.nn.Linear(shape.hidden, 1)
    # A default init often gives every token a weight <= 0, and so an empty sparse output.
    torch.nn.init.normal_(sparse.weight, std=0.05)
    torch.nn.init.constant_(sparse.bias, 0.5)
    torch.save(colbert.state_dict(), embedder_dir / "colbert_linear.pt")
    torch.save(sparse.state_dict(), embedder_dir / "sparse_linear.pt")
    _write_tokenizer_files(embedder_dir, tokenizer, spm_bytes)
    _write_sentence_transformers_files(embedder_dir, shape.hidden)

    torch.manual_seed(seed + 1)
    labels = {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
    _save_model(_classifier(shape, vocab_size), reranker_dir,
                _config(shape, vocab_size, "XLMRobertaForSequenceClassification", **labels))
    _write_tokenizer_files(reranker_dir, tokenizer, spm_bytes)
    return embedder_dir, reranker_dir
