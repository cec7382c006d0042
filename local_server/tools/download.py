"""``bge-local download``: fetch the models once, for offline and air-gapped use.

Hugging Face (or any mirror of it, such as https://hf-mirror.com, through ``HF_ENDPOINT`` / ``--endpoint``)
goes through ``huggingface_hub.snapshot_download``; ModelScope (modelscope.cn, reachable from mainland
China) through ``modelscope.snapshot_download``. Each model lands in ``DIR/<name>`` as a plain directory
that ``bge-local serve --embedding-model DIR/bge-m3`` loads without any network.

Only what inference needs is fetched (the selection lives in ``local_server.hub``, which ``serve`` shares).

Heavy imports (huggingface_hub, modelscope) happen inside the functions that need them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from local_server.hub import (
    HF_DEFAULT_ENDPOINT,
    PYTORCH_WEIGHTS,
    SAFETENSORS_WEIGHTS,
    TOKENIZER_FILES,
    fallback_patterns,
    matches_any,
    select_files,
)

DEFAULT_MODELS = ("bge-m3", "bge-reranker-v2-m3")
DEFAULT_DIR = "bge-models"
MODELSCOPE_HINT = "pip install 'bge-local[modelscope]'"

class DownloadError(Exception):
    """A failure with a message meant for the user (no traceback needed)."""


@dataclass(frozen=True)
class ModelSource:
    name: str  # directory name under --dir; FlagEmbedding also picks its model class from it
    hf_repo: str
    modelscope_id: str
    required: tuple[str, ...] = ("config.json",)  # besides the weights and a tokenizer

    @property
    def is_reranker(self) -> bool:
        return "rerank" in self.name.lower()


KNOWN_MODELS: dict[str, ModelSource] = {
    "bge-m3": ModelSource(
        "bge-m3", "BAAI/bge-m3", "BAAI/bge-m3", ("config.json", "colbert_linear.pt", "sparse_linear.pt")
    ),
    "bge-reranker-v2-m3": ModelSource("bge-reranker-v2-m3", "BAAI/bge-reranker-v2-m3", "BAAI/bge-reranker-v2-m3"),
}


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int | None = None


def resolve_model(spec: str) -> ModelSource:
    """``bge-m3``, ``BAAI/bge-m3`` (any case) or any other ``org/name`` repository id."""
    spec = spec.strip().strip("/")
    if not spec:
        raise DownloadError("empty model name")
    short = spec.rsplit("/", 1)[-1]
    for known in KNOWN_MODELS.values():
        if spec.lower() in (known.name.lower(), known.hf_repo.lower()):
            return known
    if "/" in spec and spec.count("/") == 1 and all(spec.split("/")):
        return ModelSource(short, spec, spec)
    raise DownloadError(
        f"unknown model {spec!r}: use one of {', '.join(KNOWN_MODELS)} or a repository id such as BAAI/bge-m3"
    )


def parse_models(value: str) -> list[ModelSource]:
    sources: list[ModelSource] = []
    for item in value.split(","):
        if item.strip():
            source = resolve_model(item)
            if source.name in {s.name for s in sources}:
                continue
            sources.append(source)
    if not sources:
        raise DownloadError("--models names no model")
    return sources


def missing_files(source: ModelSource, files: Iterable[str]) -> list[str]:
    """What a model directory (or a selection) lacks to be loadable."""
    present = set(files)
    missing = [f for f in source.required if f not in present]
    if not any(f in present for f in TOKENIZER_FILES):
        missing.append(" or ".join(TOKENIZER_FILES))
    if not any(matches_any(f, SAFETENSORS_WEIGHTS + PYTORCH_WEIGHTS) for f in present):
        missing.append("model.safetensors or pytorch_model.bin")
    return missing


def local_files(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and ".cache" not in p.relative_to(directory).parts
    )


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


# --- Hugging Face -------------------------------------------------------------------------------


def normalise_endpoint(endpoint: str) -> str:
    endpoint = endpoint.strip().rstrip("/")
    if not endpoint.startswith(("http://", "https://")):
        raise DownloadError(f"--endpoint must be an http(s) URL such as https://hf-mirror.com, not {endpoint!r}")
    return endpoint


def check_reachable(endpoint: str, timeout: float = 15.0) -> None:
    """Fail fast, with the usual fix, when the endpoint cannot be reached at all.

    huggingface_hub retries connection errors with back-off for a long time before it gives up, and a
    blocked huggingface.co tends to hang rather than refuse. Any HTTP answer (even 404) counts as reachable.
    """
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(urllib.request.Request(endpoint + "/api/models", method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"cannot reach {endpoint} ({reason}).\n"
            "Where huggingface.co is blocked (mainland China), use a mirror: --endpoint https://hf-mirror.com\n"
            "or ModelScope: --source modelscope (after pip install 'bge-local[modelscope]')."
        ) from exc


def list_hf_files(source: ModelSource, endpoint: str, revision: str | None) -> list[RemoteFile]:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=endpoint)
    return [
        RemoteFile(entry.path, entry.size)
        for entry in api.list_repo_tree(source.hf_repo, recursive=True, revision=revision)
        if isinstance(entry, RepoFile)
    ]


def fetch_hf(source: ModelSource, dest: Path, endpoint: str, revision: str | None, files: list[str]) -> None:
    from huggingface_hub import snapshot_download

    snapshot_download(source.hf_repo, revision=revision, local_dir=str(dest), allow_patterns=files, endpoint=endpoint)


# --- ModelScope ---------------------------------------------------------------------------------


def _require_modelscope():
    try:
        import modelscope
    except ImportError as exc:
        raise DownloadError(
            f"ModelScope support is not installed. Install it with:\n    {MODELSCOPE_HINT}\n"
            "or use --source huggingface (with --endpoint https://hf-mirror.com where huggingface.co "
            "is blocked)."
        ) from exc
    return modelscope


def list_modelscope_files(source: ModelSource, revision: str | None) -> list[RemoteFile] | None:
    """The repository listing, or None when this modelscope version cannot list (patterns are used then)."""
    _require_modelscope()
    try:
        from modelscope.hub.api import HubApi

        kwargs = {"revision": revision} if revision else {}
        entries = HubApi().get_model_files(source.modelscope_id, recursive=True, **kwargs)
    except (ImportError, AttributeError, TypeError, KeyError):  # an older or newer API than we know
        return None
    return [
        RemoteFile(e["Path"], e.get("Size"))
        for e in entries
        if isinstance(e, dict) and e.get("Path") and e.get("Type", "blob") != "tree"
    ]


def fetch_modelscope(source: ModelSource, dest: Path, revision: str | None, patterns: list[str]) -> None:
    modelscope = _require_modelscope()
    kwargs = {"revision": revision} if revision else {}
    modelscope.snapshot_download(source.modelscope_id, local_dir=str(dest), allow_file_pattern=patterns, **kwargs)


# --- the command --------------------------------------------------------------------------------


def serve_command(root: Path, sources: list[ModelSource]) -> str:
    embedders = [s for s in sources if not s.is_reranker]
    rerankers = [s for s in sources if s.is_reranker]
    embed = str(root / embedders[0].name) if embedders else "none"
    rerank = str(root / rerankers[0].name) if rerankers else "none"
    return f"bge-local serve --embedding-model {embed} --reranker-model {rerank}"


def _plan(source: ModelSource, args: argparse.Namespace, endpoint: str | None) -> tuple[list[str], int | None]:
    """Decide which files to fetch; returns (files or patterns, total bytes when known)."""
    if args.source == "huggingface":
        listing: list[RemoteFile] | None = list_hf_files(source, endpoint or HF_DEFAULT_ENDPOINT, args.revision)
    else:
        listing = list_modelscope_files(source, args.revision)
    if listing is None:
        return fallback_patterns(), None
    selected = select_files(f.path for f in listing)
    missing = missing_files(source, selected)
    if missing:
        where = source.hf_repo if args.source == "huggingface" else source.modelscope_id
        raise DownloadError(
            f"{where} ({args.source}) has no {', '.join(missing)}: is it the right repository and revision?"
        )
    sizes = {f.path: f.size for f in listing}
    known = [sizes.get(f) for f in selected]
    total = sum(s for s in known if s is not None) if all(s is not None for s in known) else None
    return selected, total


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume.", file=sys.stderr)
        return 130
    except Exception as exc:  # network and hub errors come in many types; explain, don't dump a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if args.source == "huggingface":
            print(
                "hint: where huggingface.co is unreachable, use --endpoint https://hf-mirror.com "
                "or --source modelscope. Re-running the same command resumes a partial download.",
                file=sys.stderr,
            )
        else:
            print("hint: re-running the same command resumes a partial download.", file=sys.stderr)
        return 1


def is_plugin_models_dir(root: Path) -> bool:
    """This repository's root holds the Dify plugin, whose code lives in models/text_embedding and models/rerank."""
    return any(any((root / sub).glob("*.py")) for sub in ("text_embedding", "rerank") if (root / sub).is_dir())


def _run(args: argparse.Namespace) -> int:
    sources = parse_models(args.models)
    root = Path(args.dir).expanduser().resolve()
    if is_plugin_models_dir(root):
        raise DownloadError(
            f"{root} is the Dify plugin's models/ folder (this command runs in the bge-local repository); "
            "gigabytes of weights there would end up in the plugin package. Choose another directory, "
            "e.g. --dir bge-models"
        )

    endpoint: str | None = None
    if args.source == "huggingface":
        if _truthy(os.environ.get("HF_HUB_OFFLINE")):
            raise DownloadError("HF_HUB_OFFLINE is set, which forbids downloads: unset it for this command")
        if args.endpoint:
            endpoint = normalise_endpoint(args.endpoint)
            os.environ["HF_ENDPOINT"] = endpoint
        elif os.environ.get("HF_ENDPOINT", "").strip():
            endpoint = normalise_endpoint(os.environ["HF_ENDPOINT"])
        else:
            endpoint = HF_DEFAULT_ENDPOINT
        print(f"source: Hugging Face via {endpoint}")
        check_reachable(endpoint)
    else:
        if args.endpoint:
            raise DownloadError("--endpoint applies to --source huggingface (a Hugging Face mirror) only")
        _require_modelscope()
        print("source: ModelScope (modelscope.cn)")

    plans = []
    for source in sources:
        files, total = _plan(source, args, endpoint)
        plans.append((source, files, total))
        size = f", {_human(total)}" if total is not None else ""
        print(f"{source.name}: {len(files)} files{size} -> {root / source.name}")
        if args.dry_run:
            for f in files:
                print(f"    {f}")
    if args.dry_run:
        return 0

    root.mkdir(parents=True, exist_ok=True)
    for source, files, _ in plans:
        dest = root / source.name
        print(f"\ndownloading {source.name} ...", flush=True)
        if args.source == "huggingface":
            assert endpoint is not None
            fetch_hf(source, dest, endpoint, args.revision, files)
        else:
            fetch_modelscope(source, dest, args.revision, files)
        missing = missing_files(source, local_files(dest))
        if missing:
            raise DownloadError(f"{dest} is incomplete after the download (no {', '.join(missing)})")

    print("\nDone. Model directories:")
    for source, _, _ in plans:
        dest = root / source.name
        size = sum((dest / f).stat().st_size for f in local_files(dest))
        print(f"  {dest}  ({_human(size)})")
    print("\nStart the server with:")
    print(f"  {serve_command(root, sources)}")
    print(
        f"\nFor an air-gapped machine, copy the whole {root} directory there (for example\n"
        f"  tar -C {root.parent} -cf models.tar {root.name}   then scp/USB and tar -xf models.tar)\n"
        "and run the same serve command with the directory's new path; set HF_HUB_OFFLINE=1 there so\n"
        "nothing ever tries to reach a model hub."
    )
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models",
        default=",".join(DEFAULT_MODELS),
        help=f"comma-separated models to fetch (default: {','.join(DEFAULT_MODELS)}); "
        "a repository id such as BAAI/bge-reranker-large also works",
    )
    parser.add_argument(
        "--source",
        choices=("huggingface", "modelscope"),
        default="huggingface",
        help="where to download from (default: huggingface; modelscope needs " + MODELSCOPE_HINT + ")",
    )
    parser.add_argument(
        "--dir",
        default=DEFAULT_DIR,
        help=f"directory that receives one sub-directory per model (default: ./{DEFAULT_DIR})",
    )
    parser.add_argument(
        "--endpoint",
        default=None,
        help="Hugging Face endpoint or mirror, e.g. https://hf-mirror.com (sets HF_ENDPOINT; "
        "default: $HF_ENDPOINT, else https://huggingface.co)",
    )
    parser.add_argument("--revision", default=None, help="branch, tag or commit to fetch (default: the main one)")
    parser.add_argument("--dry-run", action="store_true", help="list the files that would be fetched, download nothing")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download the models for offline use",
        description="Download bge-m3 and bge-reranker-v2-m3 (only the files inference needs) into plain "
        "directories that 'bge-local serve' loads offline; copy them to an air-gapped machine as they are.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bge-local download")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
