"""--precision: what auto decides (flags, the probe), the settings, the int8 linear layer, agreement with fp32 on
the stand-in models, and the memory rule (a reduced-precision model keeps no view of the checkpoint)."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import numpy as np
import pytest

from local_server.config import SettingsError, settings_from_args
from local_server.engine.precision import ProbeResult, choose_cpu, cpu_flags, normalize, probe_bf16, resolve
from local_server.engine.registry import KINDS
from local_server.engine.types import EMBEDDING, RERANKER, EmbedNeeds
from local_server.tools.check_precision.measure import cosine, sparse_correlation
from local_server.tools.check_precision.sample import SAMPLE

FAST = ProbeResult(fp32_s=0.02, bf16_s=0.008, error=3e-3)
SLOW = ProbeResult(fp32_s=0.02, bf16_s=0.09, error=3e-3)  # emulated bf16
WRONG = ProbeResult(fp32_s=0.02, bf16_s=0.008, error=0.3)
ALL = EmbedNeeds(dense=True, sparse=True, colbert=True)


def never() -> ProbeResult:
    raise AssertionError("the probe must not run without native bf16 flags")


# ---- auto -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("flags", [set(), {"avx2", "fma"}, {"avx512f", "avx512_vnni"}, {"amx_int8", "avx512f"}])
def test_auto_is_fp32_without_native_bf16_and_never_probes(flags):
    name, reason = choose_cpu(flags, never)
    assert name == "fp32" and "no native bf16" in reason


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_auto_is_bf16_with_native_flags_and_a_fast_close_probe(flag):
    assert choose_cpu({"avx512f", flag}, lambda: FAST)[0] == "bf16"


def test_auto_falls_back_to_fp32_when_the_probe_says_slow_or_inexact():
    name, reason = choose_cpu({"avx512_bf16"}, lambda: SLOW)
    assert name == "fp32" and "not faster" in reason and "avx512_bf16" in reason
    name, reason = choose_cpu({"amx_bf16"}, lambda: WRONG)
    assert name == "fp32" and "differs" in reason


def test_resolve_on_the_cpu_takes_flags_and_probe():
    assert resolve("auto", "cpu", flags={"avx512_bf16"}, probe=lambda: SLOW).name == "fp32"
    chosen = resolve("auto", "cpu", flags={"avx512_bf16", "avx512_vnni"}, probe=lambda: FAST)
    assert (chosen.name, chosen.reduce_range, str(chosen.dtype)) == ("bf16", False, "torch.bfloat16")
    assert resolve("int8", "cpu", flags={"avx2"}).reduce_range  # no VNNI: 7-bit activations
    explicit = resolve("bf16", "cpu", flags=set(), probe=never)  # asked for: runs even where emulated
    assert explicit.name == "bf16" and str(explicit.head_dtype) == "torch.float32"
    assert resolve(None, "cpu", probe=never).name == "fp32"  # a runtime built without settings


def test_on_a_gpu_dtype_governs_auto_and_int8_is_refused():
    assert resolve("auto", "cuda:0").name == "fp16"
    assert resolve("auto", "cuda:0", "bf16").name == "bf16"
    assert resolve(None, "cuda:0", "fp32").name == "fp32"
    assert resolve("fp32", "cuda:0").name == "fp32"
    with pytest.raises(ValueError, match="CPU only"):
        resolve("int8", "cuda:0")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512_bf16 avx512_vnni\n\n"
                    "processor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(info) == {"fpu", "avx2", "avx512_bf16", "avx512_vnni"}
    assert cpu_flags(tmp_path / "absent") == frozenset()


def test_the_real_probe_measures_something_sane():
    result = probe_bf16(rows=64, size=256, rounds=2)
    assert result.fp32_s > 0 and result.bf16_s > 0 and result.close  # no timing is asserted, only that it ran


# ---- settings ---------------------------------------------------------------------------------------------

def _settings(*argv: str, **env: str):
    from local_server.cli import build_parser

    return settings_from_args(build_parser(tools=False).parse_args(["serve", *argv]), env)


def test_precision_from_options_env_and_per_model_overrides():
    s = _settings()
    assert s.precision == "auto" and KINDS[EMBEDDING].precision(s) == "auto"
    s = _settings(BGE_LOCAL_PRECISION="INT8")
    assert KINDS[EMBEDDING].precision(s) == KINDS[RERANKER].precision(s) == "int8"
    s = _settings("--precision", "bfloat16", "--reranker-precision", "fp32", BGE_LOCAL_PRECISION="int8")
    assert (KINDS[EMBEDDING].precision(s), KINDS[RERANKER].precision(s)) == ("bf16", "fp32")
    s = _settings(BGE_LOCAL_EMBEDDING_PRECISION="int8")
    assert (KINDS[EMBEDDING].precision(s), KINDS[RERANKER].precision(s)) == ("int8", "auto")


@pytest.mark.parametrize("argv", [("--precision", "fp8"), ("--embedding-precision", "int4"),
                                  ("--reranker-precision", "half")])
def test_a_bad_precision_is_refused_by_name(argv):
    with pytest.raises(SettingsError) as caught:
        _settings(*argv)
    assert argv[0] in str(caught.value) and "'int8'" in str(caught.value)


def test_normalize_names_the_choices():
    assert normalize(" BFloat16 ") == "bf16"
    with pytest.raises(ValueError, match="auto, fp32, bf16, int8"):
        normalize("fp8")


# ---- the int8 linear layer ----------------------------------------------------------------------------------

def test_int8_linear_is_close_to_f_linear_and_keeps_its_own_bias():
    import torch
    import torch.nn.functional as F

    from local_server.engine.xlmr.linear import Int8Linear

    gen = torch.Generator().manual_seed(0)
    w, b = torch.randn(96, 64, generator=gen) * 0.05, torch.randn(96, generator=gen) * 0.01
    x = torch.randn(33, 64, generator=gen)
    want = F.linear(x, w, b)
    for reduce_range in (True, False):
        layer = Int8Linear(w, b, reduce_range)
        got = layer(x)
        assert got.dtype == torch.float32 and got.shape == want.shape
        assert float((got - want).norm() / want.norm()) < 0.03
    kept = list(layer.tensors())
    assert all(t.data_ptr() != b.data_ptr() for t in kept)  # the bias was copied, not referenced


# ---- agreement with fp32 on the stand-in (the sample check-precision uses) ----------------------------------

@pytest.fixture(scope="module")
def outputs(tiny_models: Path):
    """The tiny models' outputs over the sample in each precision: embeddings and (first query, doc) logits."""
    from local_server.engine.runtime import M3Runtime, RerankerRuntime

    result = {}
    for precision in ("fp32", "bf16", "int8"):
        m3 = M3Runtime(str(tiny_models / "bge-m3"), "cpu", precision=precision)
        ids = m3.tokenizer.encode(list(SAMPLE), max_length=512, truncate=True)
        reranker = RerankerRuntime(str(tiny_models / "bge-reranker-v2-m3"), "cpu", precision=precision)
        pairs = reranker.tokenizer.encode_pairs([(q, d) for q in SAMPLE[:3] for d in SAMPLE[6:]], max_length=512,
                                                truncate=True)
        assert m3.precision.name == reranker.precision.name == precision
        result[precision] = (m3.forward(ids, ALL), np.array(reranker.forward(pairs)))
    return result


# measured on the tiny stand-in (min over the sample): bf16 dense 0.99998, sparse 0.9998, ColBERT 0.99999,
# rerank |d sigmoid| 0.0018; int8 dense 0.9998, sparse 0.9974, ColBERT 0.9997, rerank 0.0048
LIMITS = {"bf16": {"dense": 0.999, "sparse": 0.995, "colbert": 0.999, "rerank": 0.01},
          "int8": {"dense": 0.999, "sparse": 0.98, "colbert": 0.998, "rerank": 0.02}}


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_reduced_precision_agrees_with_fp32(outputs, precision):
    (ref, ref_logits), (got, logits) = outputs["fp32"], outputs[precision]
    limit = LIMITS[precision]
    dense = min(cosine(r.dense, g.dense) for r, g in zip(ref, got, strict=True))
    sparse = min(sparse_correlation(r.sparse, g.sparse) for r, g in zip(ref, got, strict=True))
    colbert = min(float(np.mean(np.sum(r.colbert * g.colbert, axis=1))) for r, g in zip(ref, got, strict=True))
    assert all(g.dense.dtype == np.float32 and g.colbert.dtype == np.float32 for g in got)
    assert all(g.colbert.shape == r.colbert.shape for r, g in zip(ref, got, strict=True))

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    rerank = float(np.abs(sigmoid(ref_logits) - sigmoid(logits)).max())
    assert dense >= limit["dense"] and sparse >= limit["sparse"] and colbert >= limit["colbert"], \
        (dense, sparse, colbert)
    assert rerank <= limit["rerank"], rerank


# ---- memory: no view of the memory-mapped checkpoint --------------------------------------------------------

def _as_bin(source: Path, target: Path, dtype: str) -> Path:
    """A copy of ``source`` whose weights are a ``pytorch_model.bin`` (read memory-mapped) in ``dtype``."""
    import torch
    from safetensors.torch import load_file

    shutil.copytree(source, target)
    state = {k: v.to(getattr(torch, dtype)) for k, v in load_file(str(target / "model.safetensors")).items()}
    torch.save(state, target / "pytorch_model.bin")
    (target / "model.safetensors").unlink()
    return target


@pytest.fixture(scope="module")
def checkpoints(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("checkpoints")
    # a private copy: other tests in this process keep fp32 models of the shared tiny directory loaded (mapped)
    own = shutil.copytree(tiny_models / "bge-reranker-v2-m3", root / "safetensors")
    return {"safetensors": own,
            "bin-fp32": _as_bin(tiny_models / "bge-reranker-v2-m3", root / "fp32", "float32"),
            "bin-bf16": _as_bin(tiny_models / "bge-reranker-v2-m3", root / "bf16", "bfloat16")}


def _span(t) -> tuple[int, int]:
    storage = t.untyped_storage()
    return storage.data_ptr(), storage.data_ptr() + storage.nbytes()


@pytest.mark.parametrize("form", ["safetensors", "bin-fp32", "bin-bf16"])
@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_no_kept_tensor_shares_storage_with_the_checkpoint(checkpoints, form, precision):
    """Every tensor the encoder and classifier keep lies outside the checkpoint's tensors (held alive here, so
    that no address can be reused while we compare)."""
    import torch

    from local_server.engine.xlmr.config import XlmrConfig
    from local_server.engine.xlmr.linear import kept_tensors
    from local_server.engine.xlmr.weights import read_state, take_classifier, take_encoder

    directory = checkpoints[form]
    state = read_state(directory)
    held = dict(state)
    mapped = [_span(t) for t in held.values()]
    p = resolve(precision, "cpu")
    encoder = take_encoder(state, XlmrConfig.from_directory(directory), "cpu", p.dtype, int8=p.int8,
                           reduce_range=p.reduce_range, own=p.owns_weights)
    classifier = take_classifier(state, "cpu", torch.float32, own=p.owns_weights)
    kept = list(kept_tensors(encoder)) + list(kept_tensors(classifier))
    assert len(kept) > 10
    for t in kept:
        start = t.data_ptr()
        assert not any(lo <= start < hi for lo, hi in mapped), "a kept tensor is a view of the checkpoint"
    del held


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads /proc/self/maps (Linux)")
@pytest.mark.parametrize("form", ["safetensors", "bin-fp32", "bin-bf16"])
def test_a_reduced_precision_runtime_unmaps_its_checkpoint(checkpoints, form):
    """The consequence that matters: once loaded, a bf16 or int8 model leaves no part of the file mapped (an
    fp32 one read from pytorch_model.bin keeps its views, and so the mapping: the control)."""
    from local_server.engine.runtime import RerankerRuntime
    from local_server.engine.xlmr.weights import checkpoint_files

    (file,) = checkpoint_files(checkpoints[form])

    def mapped() -> bool:
        gc.collect()
        return str(file.resolve()) in Path("/proc/self/maps").read_text()

    for precision in ("bf16", "int8", "fp32"):
        runtime = RerankerRuntime(str(checkpoints[form]), "cpu", precision=precision)
        if precision != "fp32":
            assert not mapped(), f"{precision} keeps {file.name} mapped"
        elif form == "bin-fp32":
            assert mapped()
        del runtime


def test_int8_on_a_gpu_stops_loading_before_any_download():
    from local_server.engine.errors import ModelLoadError
    from local_server.engine.loading import load_model
    from local_server.engine.precision import unsupported

    assert unsupported("int8", ["cpu"]) is None and unsupported("bf16", ["cuda:0"]) is None
    assert "CPU only" in (unsupported("int8", ["cpu", "cuda:1"]) or "")
    settings = _settings("--precision", "int8", "--embedding-model", "BAAI/not-fetched", "--reranker-model", "none")
    with pytest.raises(ModelLoadError, match="embedding model not-fetched: --precision int8 runs on the CPU only"):
        load_model(EMBEDDING, "BAAI/not-fetched", settings, ["cuda:0"])
