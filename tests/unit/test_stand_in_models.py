"""`bge-local make-test-models` writes its stand-ins without transformers (the server's install has none); the
files must stay those transformers writes for the same seed, so FlagEmbedding and every earlier figure see the
same models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_server.tools.test_models import SHAPES, _config, make_test_models


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> Path:
    return make_test_models(tmp_path_factory.mktemp("ours"), "tiny", seed=3)[0].parent


def _by_transformers(directory: Path, seed: int, vocab_size: int) -> None:
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification, XLMRobertaModel

    def config(**extra) -> XLMRobertaConfig:
        raw = _config(SHAPES["tiny"], vocab_size, "XLMRobertaModel")
        keep = {k: v for k, v in raw.items() if k not in {"architectures", "dtype", "model_type"}}
        return XLMRobertaConfig(**{**keep, **extra})

    torch.manual_seed(seed)
    XLMRobertaModel(config(), add_pooling_layer=False).save_pretrained(directory / "bge-m3")
    torch.manual_seed(seed + 1)
    XLMRobertaForSequenceClassification(config(num_labels=1)).save_pretrained(directory / "bge-reranker-v2-m3")


def test_weights_and_config_are_those_transformers_writes(ours, tmp_path):
    vocab_size = json.loads((ours / "bge-m3" / "config.json").read_text())["vocab_size"]
    _by_transformers(tmp_path, seed=3, vocab_size=vocab_size)
    for name in ("bge-m3", "bge-reranker-v2-m3"):
        want = (tmp_path / name / "model.safetensors").read_bytes()
        assert (ours / name / "model.safetensors").read_bytes() == want, name
        got_config = json.loads((ours / name / "config.json").read_text())
        want_config = json.loads((tmp_path / name / "config.json").read_text())
        want_config.pop("transformers_version")
        assert got_config == want_config, name


def test_the_heads_and_tokenizer_files_are_there(ours):
    embedder = ours / "bge-m3"
    for file in ("colbert_linear.pt", "sparse_linear.pt", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "sentencepiece.bpe.model", "modules.json"):
        assert (embedder / file).is_file(), file
    assert (ours / "bge-reranker-v2-m3" / "tokenizer.json").is_file()
