"""Read the unpacked plugin with dify_plugin's own models, as the plugin runtime does at start-up.

Not imported by the packager: it runs in a child process of the plugin's Python (the one with dify_plugin
installed), with the unpacked package as the working directory, and prints one JSON line:
``{"dify_plugin": "<version>", "problems": ["<file>: <field>: <the SDK's message>", ...]}``
or ``{"error": "..."}`` when this Python has no dify_plugin. Standard library, PyYAML and dify_plugin only.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml


def _problems(file: str, model: Any, data: Any) -> list[str]:
    from pydantic import ValidationError

    try:
        model.model_validate(data)
    except ValidationError as e:
        out = []
        for err in e.errors(include_url=False):
            where = ".".join(str(part) for part in err["loc"]) or model.__name__
            got = err.get("input")
            shown = f" (got {got!r})" if isinstance(got, str | int | float | bool) else ""
            out.append(f"{file}: {where}: {err['msg']}{shown}")
        return out
    except Exception as e:  # a validator that fails outside pydantic's own error type
        return [f"{file}: {type(e).__name__}: {e}"]
    return []


def check() -> dict[str, Any]:
    try:
        sdk = version("dify_plugin")
        # Importing these runs dify_plugin/__init__.py, which monkey-patches this process with gevent: harmless
        # here, in a short-lived child.
        from dify_plugin.core.entities.plugin.setup import PluginConfiguration
        from dify_plugin.entities.model import AIModelEntity
        from dify_plugin.entities.model.provider import ModelProviderConfiguration
    except (ImportError, PackageNotFoundError) as e:
        return {"error": f"{sys.executable} cannot import dify_plugin ({e})"}

    manifest = _read("manifest.yaml")
    problems = _problems("manifest.yaml", PluginConfiguration, manifest)
    providers = (manifest.get("plugins") or {}).get("models") if isinstance(manifest, dict) else None
    for path in providers if isinstance(providers, list) else []:
        provider = _read(path)
        # ModelProviderConfiguration reads each model YAML its `models` globs name (as AIModelEntity) and stops at
        # the first bad one, naming neither the file nor the provider's own problems: check the models one by one
        # first, and the provider without them when one is bad.
        model_problems = [p for rel in _model_files(provider) for p in _problems(rel, AIModelEntity, _read(rel))]
        if model_problems and isinstance(provider, dict):
            provider = {**provider, "models": {}}
        problems += model_problems + _problems(path, ModelProviderConfiguration, provider)
    return {"dify_plugin": sdk, "problems": problems}


def _read(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _model_files(provider: Any) -> list[str]:
    """The model YAML files a provider names, found as the SDK finds them (globs from the working directory)."""
    models = provider.get("models") if isinstance(provider, dict) else None
    found = []
    for spec in models.values() if isinstance(models, dict) else ():
        for pattern in spec.get("predefined", []) if isinstance(spec, dict) else ():
            found += [p.as_posix() for p in sorted(Path().glob(pattern)) if not p.name.endswith("_position.yaml")]
    return found


if __name__ == "__main__":
    print(json.dumps(check()))
