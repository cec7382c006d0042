"""Would Dify accept this plugin? Checked on the package as Dify unpacks it, in two stages.

1. In this process: every YAML file parses (PyYAML); every file the YAML names is in the package (icons in
   ``_assets/``, the entrypoint, provider and model sources, model YAML globs); ``requirements.txt`` installs the
   plugin runtime and nothing of the server's; the manifest carries bge-local's version (the plugin and the server
   are released together).
2. dify_plugin's own pydantic models, the ones the plugin runtime reads these files with at start-up:
   ``PluginConfiguration`` for ``manifest.yaml``, ``ModelProviderConfiguration`` for the provider YAML and,
   through it, ``AIModelEntity`` for each model YAML. They run in a child process of the plugin's Python
   (``sdk_check.py``), never in this one: importing dify_plugin monkey-patches the whole process with gevent, and
   dify_plugin 0.8+ needs Python 3.12 while the server also runs on 3.11.

The plugin's Python is ``--plugin-python``, else ``$BGE_LOCAL_PLUGIN_PYTHON``, else ``.venv-plugin/bin/python``
beside the plugin. When none is named and the default is missing, stage 2 is skipped with a warning (a user who
only builds the package needs no second virtual environment); a Python that is there but cannot import dify_plugin
is an error.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from local_server import __version__
from local_server.tools.package_plugin.errors import PackageError

PLUGIN_PYTHON_ENV = "BGE_LOCAL_PLUGIN_PYTHON"
SDK_CHECK = Path(__file__).with_name("sdk_check.py")
FORBIDDEN_REQUIREMENTS = re.compile(r"^\s*(torch|flagembedding|transformers|sentence[-_]transformers)\b", re.I | re.M)
ICON_KEYS = ("icon_small", "icon_large", "icon_small_dark", "icon_large_dark")


@dataclass(frozen=True)
class Verdict:
    name: str
    version: str
    sdk: str | None  # the dify_plugin version that read the plugin; None when no plugin Python was found


def find_plugin_python(source: Path, given: str | Path | None = None) -> Path | None:
    """The Python to run dify_plugin's checks with, or None when none is named and the default is missing."""
    named = given or os.environ.get(PLUGIN_PYTHON_ENV)
    if named:
        return Path(os.path.abspath(named))  # not resolved: a venv's python is a symbolic link
    default = source / ".venv-plugin" / "bin" / "python"
    return default if default.exists() else None


def check(stage: Path, python: Path | None) -> Verdict:
    """Raise PackageError listing every problem of the unpacked package in ``stage``."""
    manifest, problems = _load_all(stage)
    if not problems:
        sdk, problems = sdk_problems(stage, python) if python else (None, [])
        if problems:
            raise PackageError(
                f"dify_plugin {sdk} refuses the plugin (the plugin runtime reads these files with the same models):"
                "\n  - " + "\n  - ".join(problems)
            )
        return Verdict(manifest["name"], manifest["version"], sdk)
    raise PackageError("the plugin would not pass Dify's checks:\n  - " + "\n  - ".join(problems))


def _load_all(stage: Path) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    manifest = _load(stage, "manifest.yaml", problems)
    if not isinstance(manifest, dict):
        return {}, problems or ["manifest.yaml is not a mapping"]
    providers = {}
    for path in _dig(manifest, "plugins", "models") or []:
        provider = _load(stage, path, problems) if isinstance(path, str) else None
        if isinstance(provider, dict):
            providers[path] = provider
    for where, rel in _named_files(manifest, providers):
        if not (stage / rel).is_file():
            problems.append(f"{where} names {rel}, which is not in the package")
    problems += _glob_problems(stage, providers)
    problems += _requirement_problems(stage)
    if not (stage / "_assets").is_dir():
        problems.append("the package has no _assets/ folder (the plugin reads it at start-up)")
    name, version = manifest.get("name"), manifest.get("version")
    if not isinstance(name, str) or not re.fullmatch(r"[\w-]+", name):
        problems.append(f"manifest.yaml name {name!r} cannot name a package file")
    if version != __version__:
        problems.append(
            f"manifest.yaml version {version!r} differs from bge-local's version {__version__!r}"
            " (local_server/__init__.py): the plugin and the server are released together, change both"
        )
    return manifest, problems


def _load(stage: Path, rel: str, problems: list[str]) -> Any:
    path = stage / rel
    if not path.is_file():
        problems.append(f"{rel} is not a file in the package")
        return None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        problems.append(f"{rel} is not valid YAML: {e}")
        return None


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _named_files(manifest: dict[str, Any], providers: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(who names it, the file's path in the package) for every file the YAML points at."""
    for key in ("icon", "icon_dark"):
        if isinstance(manifest.get(key), str):
            yield f"manifest.yaml {key}", f"_assets/{manifest[key]}"
    entry = _dig(manifest, "meta", "runner", "entrypoint")
    if isinstance(entry, str):
        yield "manifest.yaml meta.runner.entrypoint", entry.replace(".", "/") + ".py"
    for path, provider in providers.items():
        for key in ICON_KEYS:
            icons = provider.get(key)
            for lang, icon in icons.items() if isinstance(icons, dict) else ():
                yield f"{path} {key}.{lang}", f"_assets/{icon}"
        python = _dig(provider, "extra", "python") or {}
        for source in [python.get("provider_source"), *(python.get("model_sources") or [])]:
            if isinstance(source, str):
                yield f"{path} extra.python", source


def _glob_problems(stage: Path, providers: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for path, provider in providers.items():
        models = provider.get("models")
        for model_type, spec in models.items() if isinstance(models, dict) else ():
            for pattern in _dig(spec, "predefined") or []:
                try:
                    matched = any(p.is_file() for p in stage.glob(str(pattern)))
                except (ValueError, NotImplementedError):
                    matched = False
                if not matched:
                    problems.append(f"{path} models.{model_type}.predefined {pattern!r} matches no file in the package")
    return problems


def _requirement_problems(stage: Path) -> list[str]:
    reqs = stage / "requirements.txt"
    if not reqs.is_file():
        return ["requirements.txt is missing: Dify installs the plugin's dependencies from it"]
    text = reqs.read_text(encoding="utf-8")
    problems = []
    if not re.search(r"^\s*dify[-_]plugin\b", text, re.I | re.M):
        problems.append("requirements.txt must list dify_plugin")
    if FORBIDDEN_REQUIREMENTS.search(text):
        problems.append("requirements.txt must not pull the server's dependencies (torch, FlagEmbedding …)")
    return problems


def sdk_problems(stage: Path, python: Path) -> tuple[str, list[str]]:
    """(dify_plugin version, problems) from sdk_check.py run by the plugin's Python in ``stage``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        out = subprocess.run([str(python), str(SDK_CHECK)], cwd=stage, env=env, capture_output=True,
                             text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PackageError(f"cannot run {python} to read the plugin with dify_plugin: {e}") from None
    try:
        answer = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise PackageError(
            f"{python} failed to read the plugin with dify_plugin (exit {out.returncode}):\n{out.stderr[-3000:]}"
        ) from None
    if "error" in answer:
        raise PackageError(
            f"{answer['error']}. Make the plugin's environment: uv venv --python 3.12 .venv-plugin && "
            "uv pip install --python .venv-plugin/bin/python -r requirements.txt (or name another with"
            f" --plugin-python / {PLUGIN_PYTHON_ENV})"
        )
    return answer["dify_plugin"], answer["problems"]
