"""The plugin's modules that need no Dify SDK, loaded from their files into the test process.

``provider/client/__init__.py`` imports the SDK, which only the plugin's own venv has; these modules are loaded
under their real names without it, so that ``transport``'s ``from provider.client.addresses import …`` finds
``addresses``."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from plugin_harness import REPO

_NEEDS = {"transport": ("addresses",)}


def plugin_module(name: str) -> ModuleType:
    """``provider.client.<name>``, loaded once from ``provider/client/<name>.py`` (after what it imports)."""
    dotted = f"provider.client.{name}"
    if dotted in sys.modules:
        return sys.modules[dotted]
    for needed in _NEEDS.get(name, ()):
        plugin_module(needed)
    spec = importlib.util.spec_from_file_location(dotted, REPO / "provider" / "client" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[dotted] = module
    spec.loader.exec_module(module)
    return module
