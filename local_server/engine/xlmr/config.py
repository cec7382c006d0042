"""The part of an XLM-RoBERTa ``config.json`` the forward pass needs, read without transformers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# transformers' names for the activations an XLM-R checkpoint may declare, and whether each is the tanh
# approximation of GELU (``gelu`` is the exact, erf-based one).
_ACTIVATIONS = {"gelu": "none", "gelu_python": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh",
                "gelu_fast": "tanh", "relu": "relu"}


class UnsupportedModel(ValueError):
    """The directory holds a model this forward pass does not implement (it says which setting)."""


@dataclass(frozen=True)
class XlmrConfig:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    pad_id: int
    type_vocab_size: int
    layer_norm_eps: float
    activation: str  # "none" (exact GELU), "tanh" (GELU's tanh approximation) or "relu"
    architecture: str
    num_labels: int

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @classmethod
    def from_dict(cls, raw: dict) -> XlmrConfig:
        model_type = raw.get("model_type", "xlm-roberta")
        if model_type not in {"xlm-roberta", "roberta", "bert"}:
            raise UnsupportedModel(f"model_type {model_type!r} is not an XLM-RoBERTa encoder")
        position_type = raw.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise UnsupportedModel(f"position_embedding_type {position_type!r}: only 'absolute' is implemented")
        if raw.get("is_decoder") or raw.get("add_cross_attention"):
            raise UnsupportedModel("a decoder configuration: this is an encoder-only forward pass")
        act = raw.get("hidden_act", "gelu")
        if act not in _ACTIVATIONS:
            raise UnsupportedModel(f"hidden_act {act!r}: implemented are {', '.join(_ACTIVATIONS)}")
        hidden, heads = int(raw["hidden_size"]), int(raw["num_attention_heads"])
        if hidden % heads:
            raise UnsupportedModel(f"hidden_size {hidden} is not a multiple of num_attention_heads {heads}")
        architectures = raw.get("architectures") or ["XLMRobertaModel"]
        labels = raw.get("id2label")
        return cls(
            vocab_size=int(raw["vocab_size"]),
            hidden_size=hidden,
            num_layers=int(raw["num_hidden_layers"]),
            num_heads=heads,
            intermediate_size=int(raw["intermediate_size"]),
            max_positions=int(raw["max_position_embeddings"]),
            pad_id=int(raw.get("pad_token_id", 1)),
            type_vocab_size=int(raw.get("type_vocab_size", 1)),
            layer_norm_eps=float(raw.get("layer_norm_eps", 1e-5)),
            activation=_ACTIVATIONS[act],
            architecture=str(architectures[0]),
            num_labels=int(raw.get("num_labels", len(labels) if labels else 1)),
        )

    @classmethod
    def from_directory(cls, path: str | Path) -> XlmrConfig:
        file = Path(path) / "config.json"
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing: a model directory holds config.json beside its weights")
        return cls.from_dict(json.loads(file.read_text(encoding="utf-8")))
