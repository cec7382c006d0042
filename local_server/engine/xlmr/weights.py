"""Reading an XLM-RoBERTa checkpoint into plain tensors, without transformers.

The weights are read from ``model.safetensors`` (single or sharded) or ``pytorch_model.bin`` (BAAI/bge-m3's
main branch ships only this; read with ``weights_only=True`` and memory-mapped), whatever prefix the
checkpoint's class gave the backbone (``roberta.`` for a sequence classifier, none for a bare model). At
load time the query, key and value projections of each layer become one fused matrix (one GEMM instead of
three), and the token-type row is added into the word table once (every token has type 0 in XLM-R, so
``word + type`` is the same sum transformers computes per token).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_server.engine.xlmr.config import XlmrConfig
from local_server.engine.xlmr.linear import Linear, make_linear

_BACKBONE_PREFIXES = ("roberta.", "xlm_roberta.", "model.", "bert.")
_IGNORED = ("pooler.", "lm_head.", "embeddings.position_ids", "embeddings.token_type_ids")


@dataclass
class LayerWeights:
    qkv: Linear  # hidden -> 3 * hidden: query, key, value stacked
    out: Linear  # attention output projection
    ln1_w: Any
    ln1_b: Any
    ffn_in: Linear
    ffn_out: Linear
    ln2_w: Any
    ln2_b: Any


@dataclass
class EncoderWeights:
    word: Any  # (vocab, hidden), token-type row 0 already added
    positions: Any  # (max_positions, hidden)
    ln_w: Any
    ln_b: Any
    layers: list[LayerWeights]


@dataclass
class ClassifierWeights:
    """``XLMRobertaClassificationHead``: dense -> tanh -> out_proj, on the ``<s>`` state."""

    dense_w: Any
    dense_b: Any
    out_w: Any
    out_b: Any


def checkpoint_files(directory: Path) -> list[Path]:
    """The weight files of a model directory, safetensors preferred."""
    single = directory / "model.safetensors"
    if single.is_file():
        return [single]
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        return [directory / name for name in shards]
    legacy = directory / "pytorch_model.bin"
    if legacy.is_file():
        return [legacy]
    raise FileNotFoundError(f"{directory} holds no weights (model.safetensors or pytorch_model.bin); "
                            "fetch the model again with `bge-local download`")


def _read(file: Path) -> Iterator[tuple[str, Any]]:
    import torch

    if file.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(file), framework="pt", device="cpu") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                yield name, handle.get_tensor(name)
    else:
        yield from torch.load(file, map_location="cpu", weights_only=True, mmap=True).items()


def _canonical(name: str) -> str | None:
    """The name without the backbone's prefix and with old LayerNorm names; None for unused tensors."""
    for prefix in _BACKBONE_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if name.startswith(_IGNORED):
        return None
    return name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")


def read_state(directory: Path) -> dict[str, Any]:
    """Every tensor the forward pass or a head uses, on the CPU, under its canonical name."""
    state: dict[str, Any] = {}
    for file in checkpoint_files(directory):
        for name, tensor in _read(file):
            key = _canonical(name)
            if key is not None:
                state[key] = tensor
    return state


class _Taker:
    """Pops tensors from the state, converted and moved one at a time (the host never holds two copies of
    a big model), and says which name is missing if the checkpoint is not an XLM-R one. With ``own`` every
    tensor it returns is a copy: a view into a memory-mapped checkpoint would keep the whole file resident."""

    def __init__(self, state: dict[str, Any], device: str, dtype: Any, own: bool = False):
        self.state, self.device, self.dtype, self.own = state, device, dtype, own

    def raw(self, name: str) -> Any:
        try:
            return self.state.pop(name)
        except KeyError:
            raise KeyError(f"the checkpoint has no tensor {name!r}: not an XLM-RoBERTa model?") from None

    def __call__(self, name: str) -> Any:
        return self.raw(name).to(device=self.device, dtype=self.dtype, copy=self.own)

    def linear(self, weight: Any, bias: Any, int8: bool, reduce_range: bool) -> Linear:
        """A linear layer from raw tensors: quantized from them (int8), else converted as every tensor is."""
        if int8:
            return make_linear(weight, bias, int8=True, reduce_range=reduce_range)
        convert = {"device": self.device, "dtype": self.dtype, "copy": self.own}
        return make_linear(weight.to(**convert), bias.to(**convert))


def take_encoder(state: dict[str, Any], config: XlmrConfig, device: str, dtype: Any, *, int8: bool = False,
                 reduce_range: bool = True, own: bool = False) -> EncoderWeights:
    """The encoder's weights in ``dtype`` on ``device``; with ``int8`` its linear layers dynamically quantized
    (``dtype`` then float32, on the CPU). ``own``: keep no view of the checkpoint (see ``_Taker``)."""
    import torch

    take = _Taker(state, device, dtype, own)
    word = take.raw("embeddings.word_embeddings.weight")
    if word.shape != (config.vocab_size, config.hidden_size):
        raise ValueError(f"word embeddings of shape {tuple(word.shape)} do not match config.json "
                         f"({config.vocab_size}, {config.hidden_size})")
    token_type = take.raw("embeddings.token_type_embeddings.weight")
    # The sum is a new tensor (never in place: ``word`` may be a view of a memory-mapped file). On the CPU it is
    # made in the wider of the two precisions, then converted (one rounding); a GPU never holds the fp32 table.
    if device.startswith("cuda"):
        word = word.to(device=device, dtype=dtype) + token_type[0].to(device=device, dtype=dtype)
    else:
        wide = torch.promote_types(word.dtype, dtype)
        word = (word.to(wide) + token_type[0].to(wide)).to(dtype=dtype)
    layers = []
    for i in range(config.num_layers):
        p = f"encoder.layer.{i}."
        qkv = [take.raw(f"{p}attention.self.{part}.weight") for part in ("query", "key", "value")]
        qkv_b = [take.raw(f"{p}attention.self.{part}.bias") for part in ("query", "key", "value")]

        def linear(name: str, i: str = p) -> Linear:
            return take.linear(take.raw(f"{i}{name}.weight"), take.raw(f"{i}{name}.bias"), int8, reduce_range)

        layers.append(LayerWeights(
            qkv=take.linear(torch.cat(qkv), torch.cat(qkv_b), int8, reduce_range),
            out=linear("attention.output.dense"),
            ln1_w=take(f"{p}attention.output.LayerNorm.weight"),
            ln1_b=take(f"{p}attention.output.LayerNorm.bias"),
            ffn_in=linear("intermediate.dense"),
            ffn_out=linear("output.dense"),
            ln2_w=take(f"{p}output.LayerNorm.weight"),
            ln2_b=take(f"{p}output.LayerNorm.bias"),
        ))
    return EncoderWeights(
        word=word,
        positions=take("embeddings.position_embeddings.weight"),
        ln_w=take("embeddings.LayerNorm.weight"),
        ln_b=take("embeddings.LayerNorm.bias"),
        layers=layers,
    )


def take_classifier(state: dict[str, Any], device: str, dtype: Any, own: bool = False) -> ClassifierWeights:
    take = _Taker(state, device, dtype, own)
    return ClassifierWeights(
        dense_w=take("classifier.dense.weight"),
        dense_b=take("classifier.dense.bias"),
        out_w=take("classifier.out_proj.weight"),
        out_b=take("classifier.out_proj.bias"),
    )


def load_linear_head(path: Path, device: str, dtype: Any) -> tuple[Any, Any]:
    """One of bge-m3's heads saved beside the backbone (``sparse_linear.pt``: hidden -> 1,
    ``colbert_linear.pt``: hidden -> dim), as (weight, bias)."""
    import torch

    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a bge-m3 directory holds sparse_linear.pt and colbert_linear.pt "
                                "beside the backbone (fetch the model again with `bge-local download`)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    weight = state["weight"].to(device=device, dtype=dtype)
    bias = state.get("bias")
    return weight, (bias.to(device=device, dtype=dtype) if bias is not None else None)
