"""`bge-local download`: file selection, layout, arguments, and real runs against a loopback hub."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from support.fake_hub import FakeHub
from support.server import REPO

from local_server.tools import download

# What BAAI/bge-m3's main branch holds: pytorch_model.bin only (its model.safetensors URL answers 404).
BGE_M3_LISTING = [
    ".gitattributes",
    "1_Pooling/config.json",
    "README.md",
    "colbert_linear.pt",
    "config.json",
    "config_sentence_transformers.json",
    "imgs/bm25.jpg",
    "imgs/long.jpg",
    "imgs/miracl.jpg",
    "imgs/mkqa.jpg",
    "imgs/nqa.jpg",
    "imgs/others.webp",
    "long.jpg",
    "modules.json",
    "onnx/Constant_7_attr__value",
    "onnx/config.json",
    "onnx/model.onnx",
    "onnx/model.onnx_data",
    "onnx/sentencepiece.bpe.model",
    "onnx/special_tokens_map.json",
    "onnx/tokenizer.json",
    "onnx/tokenizer_config.json",
    "pytorch_model.bin",
    "sentence_bert_config.json",
    "sentencepiece.bpe.model",
    "sparse_linear.pt",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
]
BGE_M3_NEEDED = [
    "1_Pooling/config.json",
    "README.md",
    "colbert_linear.pt",
    "config.json",
    "config_sentence_transformers.json",
    "modules.json",
    "pytorch_model.bin",
    "sentence_bert_config.json",
    "sentencepiece.bpe.model",
    "sparse_linear.pt",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
]
RERANKER_LISTING = [
    ".gitattributes",
    "README.md",
    "assets/BEIR-bge-en-v1.5.png",
    "config.json",
    "model.safetensors",
    "sentencepiece.bpe.model",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
]


def _repo(listing: list[str]) -> dict[str, bytes]:
    return {name: f"content of {name}\n".encode() for name in listing}


@pytest.fixture
def online(loopback_only, monkeypatch):
    """Downloads allowed, to 127.0.0.1 only (the loopback_only guard fails any other connection).

    tests/conftest.py turns the hub's offline mode on for the whole session, and huggingface_hub reads
    HF_HUB_OFFLINE once, at import.
    """
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture
def hub(online):
    with FakeHub({"BAAI/bge-m3": _repo(BGE_M3_LISTING), "BAAI/bge-reranker-v2-m3": _repo(RERANKER_LISTING)}) as h:
        yield h


# --- pure parts -----------------------------------------------------------------------------------


def test_selection_of_the_real_bge_m3_listing_skips_onnx_and_images():
    chosen = download.select_files(BGE_M3_LISTING)
    assert chosen == BGE_M3_NEEDED
    assert not [f for f in chosen if f.startswith(("onnx/", "imgs/")) or f.endswith((".onnx", ".jpg"))]
    assert download.missing_files(download.KNOWN_MODELS["bge-m3"], chosen) == []


def test_selection_prefers_safetensors_over_the_pickled_copy():
    assert download.select_files([*RERANKER_LISTING, "pytorch_model.bin"]) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "sentencepiece.bpe.model",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    sharded = [
        "config.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
        "pytorch_model.bin",
        "tf_model.h5",
        "onnx/model-1-of-2.safetensors",
    ]
    assert download.select_files(sharded) == [
        "config.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
    ]


def test_missing_files_names_what_a_bge_m3_directory_lacks():
    bge_m3 = download.KNOWN_MODELS["bge-m3"]
    lacking = [
        f
        for f in BGE_M3_NEEDED
        if f not in ("colbert_linear.pt", "pytorch_model.bin", "tokenizer.json", "sentencepiece.bpe.model")
    ]
    assert download.missing_files(bge_m3, lacking) == [
        "colbert_linear.pt",
        "tokenizer.json or sentencepiece.bpe.model",
        "model.safetensors or pytorch_model.bin",
    ]
    # the reranker has no ColBERT/sparse heads and needs none
    assert download.missing_files(download.KNOWN_MODELS["bge-reranker-v2-m3"], RERANKER_LISTING) == []


@pytest.mark.parametrize(
    ("spec", "name", "repo"),
    [
        ("bge-m3", "bge-m3", "BAAI/bge-m3"),
        ("BAAI/bge-m3", "bge-m3", "BAAI/bge-m3"),
        ("baai/BGE-Reranker-v2-M3", "bge-reranker-v2-m3", "BAAI/bge-reranker-v2-m3"),
        ("BAAI/bge-reranker-large", "bge-reranker-large", "BAAI/bge-reranker-large"),
    ],
)
def test_model_names(spec, name, repo):
    source = download.resolve_model(spec)
    assert (source.name, source.hf_repo) == (name, repo)


def test_model_list_parsing():
    assert [s.name for s in download.parse_models("bge-m3, BAAI/bge-m3,bge-reranker-v2-m3,")] == [
        "bge-m3",
        "bge-reranker-v2-m3",
    ]
    for bad in ("bge-m4", "", " , ", "a/b/c"):
        with pytest.raises(download.DownloadError):
            download.parse_models(bad)


def test_serve_command_uses_none_for_a_model_not_downloaded(tmp_path):
    both = download.parse_models("bge-m3,bge-reranker-v2-m3")
    assert download.serve_command(tmp_path, both) == (
        f"bge-local serve --embedding-model {tmp_path}/bge-m3 --reranker-model {tmp_path}/bge-reranker-v2-m3"
    )
    assert download.serve_command(tmp_path, both[1:]) == (
        f"bge-local serve --embedding-model none --reranker-model {tmp_path}/bge-reranker-v2-m3"
    )


def test_register_adds_the_subcommand_with_its_defaults():
    parser = argparse.ArgumentParser(prog="bge-local")
    download.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["download"])
    assert args.func is download.run
    assert (args.models, args.source, args.dir, args.endpoint, args.dry_run) == (
        "bge-m3,bge-reranker-v2-m3",
        "huggingface",
        "bge-models",
        None,
        False,
    )
    args = parser.parse_args(
        [
            "download",
            "--models",
            "bge-m3",
            "--source",
            "modelscope",
            "--dir",
            "/srv/m",
            "--endpoint",
            "https://x",
        ]
    )
    assert (args.models, args.source, args.dir, args.endpoint) == (
        "bge-m3",
        "modelscope",
        "/srv/m",
        "https://x",
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["download", "--source", "s3"])


def test_importing_the_module_pulls_in_no_heavy_library():
    code = (
        "import sys, local_server.tools.download; "
        "heavy = ('huggingface_hub', 'torch', 'modelscope', 'FlagEmbedding'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- runs against a loopback Hugging Face endpoint (what hf-mirror.com is to users in China) ---------


def test_download_fetches_only_what_inference_needs(hub, tmp_path, capsys, monkeypatch):
    rc = download.main(["--dir", str(tmp_path / "models"), "--endpoint", hub.url + "/"])
    out, err = capsys.readouterr()
    assert rc == 0, out + err
    assert hub.downloaded("BAAI/bge-m3") == set(BGE_M3_NEEDED)
    assert hub.downloaded("BAAI/bge-reranker-v2-m3") == set(download.select_files(RERANKER_LISTING))
    assert not [path for _, path in hub.requests if "/onnx/" in path or "/imgs/" in path]

    root = tmp_path / "models"
    assert download.local_files(root / "bge-m3") == BGE_M3_NEEDED
    assert (root / "bge-m3" / "colbert_linear.pt").read_bytes() == b"content of colbert_linear.pt\n"
    assert (root / "bge-reranker-v2-m3" / "model.safetensors").is_file()
    assert f"bge-local serve --embedding-model {root}/bge-m3 --reranker-model {root}/bge-reranker-v2-m3" in out
    assert "air-gapped" in out
    assert os.environ["HF_ENDPOINT"] == hub.url  # --endpoint sets it (trailing slash dropped)


def test_a_second_run_resumes_instead_of_downloading_again(hub, tmp_path, capsys):
    args = ["--models", "bge-m3", "--dir", str(tmp_path), "--endpoint", hub.url]
    assert download.main(args) == 0
    first = len([r for r in hub.requests if r[0] == "GET" and "/resolve/" in r[1]])
    assert first == len(BGE_M3_NEEDED)
    assert download.main(args) == 0
    again = len([r for r in hub.requests if r[0] == "GET" and "/resolve/" in r[1]])
    assert again == first


def test_hf_endpoint_from_the_environment(hub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    assert download.main(["--models", "bge-reranker-v2-m3", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"via {hub.url}" in out
    assert f"--embedding-model none --reranker-model {tmp_path}/bge-reranker-v2-m3" in out


def test_dry_run_lists_files_and_sizes_without_downloading(hub, tmp_path, capsys):
    assert download.main(["--models", "bge-m3", "--dir", str(tmp_path / "m"), "--endpoint", hub.url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert hub.downloaded("BAAI/bge-m3") == set()
    assert not (tmp_path / "m").exists()
    assert f"bge-m3: {len(BGE_M3_NEEDED)} files" in out
    assert "    colbert_linear.pt" in out and "onnx" not in out


def test_a_repository_without_the_colbert_head_is_refused_before_downloading(online, tmp_path, capsys):
    broken = _repo([f for f in BGE_M3_LISTING if f != "colbert_linear.pt"])
    with FakeHub({"BAAI/bge-m3": broken}) as h:
        rc = download.main(["--models", "bge-m3", "--dir", str(tmp_path), "--endpoint", h.url])
        assert h.downloaded("BAAI/bge-m3") == set()
    assert rc == 1
    assert "BAAI/bge-m3 (huggingface) has no colbert_linear.pt" in capsys.readouterr().err


def test_an_unreachable_endpoint_fails_fast_with_a_hint(online, tmp_path, capsys, closed_port):
    rc = download.main(["--models", "bge-m3", "--dir", str(tmp_path), "--endpoint", f"http://127.0.0.1:{closed_port}"])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"cannot reach http://127.0.0.1:{closed_port}" in err
    assert "--endpoint https://hf-mirror.com" in err and "--source modelscope" in err


def test_the_dify_plugins_models_folder_is_refused(tmp_path, capsys, monkeypatch):
    plugin_models = tmp_path / "models"
    (plugin_models / "text_embedding").mkdir(parents=True)
    (plugin_models / "text_embedding" / "text_embedding.py").write_text("")
    monkeypatch.chdir(tmp_path)
    assert download.main(["--dir", "models"]) == 1  # a checkout's models/ is the plugin's
    assert "Dify plugin's models/ folder" in capsys.readouterr().err
    assert sorted(p.name for p in plugin_models.iterdir()) == ["text_embedding"]
    assert download.is_plugin_models_dir(REPO / "models") == (REPO / "models" / "text_embedding").is_dir()


def test_offline_mode_is_reported_not_attempted(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert download.main(["--dir", str(tmp_path)]) == 1
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err


def test_a_bad_endpoint_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert download.main(["--dir", str(tmp_path), "--endpoint", "hf-mirror.com"]) == 1
    assert "must be an http(s) URL" in capsys.readouterr().err


# --- ModelScope ------------------------------------------------------------------------------------


def test_missing_modelscope_prints_the_install_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "modelscope", None)  # what an environment without the extra looks like
    assert download.main(["--source", "modelscope", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "pip install 'bge-local[modelscope]'" in err
    assert not any(tmp_path.iterdir())


def test_endpoint_is_refused_with_modelscope(tmp_path, capsys):
    assert download.main(["--source", "modelscope", "--endpoint", "https://hf-mirror.com", "--dir", str(tmp_path)]) == 1
    assert "--endpoint applies to --source huggingface" in capsys.readouterr().err


def test_modelscope_receives_the_model_ids_dirs_and_selected_files(tmp_path, capsys, monkeypatch):
    """modelscope.cn cannot be reached from a test: a stand-in module records what we ask of it and writes
    the files it was asked for, as the real one does."""
    calls: list[dict] = []
    listings = {"BAAI/bge-m3": BGE_M3_LISTING, "BAAI/bge-reranker-v2-m3": RERANKER_LISTING}

    def snapshot_download(model_id, local_dir, allow_file_pattern, **kwargs):
        calls.append({"model_id": model_id, "local_dir": local_dir, "patterns": allow_file_pattern, **kwargs})
        for name in allow_file_pattern:
            path = Path(local_dir) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
        return local_dir

    class HubApi:
        def get_model_files(self, model_id, recursive=False, **kwargs):
            assert recursive
            files = [{"Path": p, "Size": 1, "Type": "blob"} for p in listings[model_id]]
            return [*files, {"Path": "onnx", "Type": "tree"}]

    modelscope = types.ModuleType("modelscope")
    modelscope.snapshot_download = snapshot_download
    api_module = types.ModuleType("modelscope.hub.api")
    api_module.HubApi = HubApi
    monkeypatch.setitem(sys.modules, "modelscope", modelscope)
    monkeypatch.setitem(sys.modules, "modelscope.hub", types.ModuleType("modelscope.hub"))
    monkeypatch.setitem(sys.modules, "modelscope.hub.api", api_module)
    monkeypatch.chdir(tmp_path)

    rc = download.main(["--source", "modelscope", "--dir", "out"])
    out = capsys.readouterr().out
    assert rc == 0, out
    root = tmp_path / "out"
    assert calls == [
        {"model_id": "BAAI/bge-m3", "local_dir": str(root / "bge-m3"), "patterns": BGE_M3_NEEDED},
        {
            "model_id": "BAAI/bge-reranker-v2-m3",
            "local_dir": str(root / "bge-reranker-v2-m3"),
            "patterns": download.select_files(RERANKER_LISTING),
        },
    ]
    assert f"--embedding-model {root}/bge-m3 --reranker-model {root}/bge-reranker-v2-m3" in out
