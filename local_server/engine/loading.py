"""Loading: where the weights are, and one ServedModel (replicas + batcher) per model kind the settings name.

``load_local`` is the core's default loader; another loader (``scale/``: models served by Ray deployments) is
passed to ``InferenceCore`` in its place."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from local_server.engine.batcher import Batcher
from local_server.engine.devices import resolve_devices
from local_server.engine.errors import ModelLoadError
from local_server.engine.precision import unsupported
from local_server.engine.registry import KINDS
from local_server.engine.runtime import Runtime
from local_server.engine.types import ServedModel
from local_server.hub import HubError, fetch

if TYPE_CHECKING:  # the engine takes any object with these settings; config imports nothing of it
    from local_server.config import Settings

log = logging.getLogger("bge_local.loading")

# No cap by default: the runtimes pack a batch into one token stream (engine/xlmr/), so padding is never
# computed and inputs of any length share a batch. (08a0ef8's padded forward capped padding at 10% on a CPU, where
# every padded token cost as much as a real one.) --max-padding still caps the padded-rectangle share.
DEFAULT_MAX_PADDING = 1.0


def resolve_model_path(name_or_path: str, cache_dir: str | None) -> str:
    """A local directory is used as is (never the network); anything else is a hub id fetched once."""
    expanded = os.path.expanduser(name_or_path)
    if Path(expanded).is_dir():
        return expanded
    if name_or_path.startswith((".", "/", "~")):
        raise ModelLoadError(f"model directory {name_or_path} does not exist")
    try:
        return fetch(name_or_path, cache_dir)
    except HubError as exc:
        raise ModelLoadError(str(exc)) from exc


def max_padding(settings: Settings) -> float:
    if settings.max_padding >= 0:
        return min(settings.max_padding, 1.0)
    return DEFAULT_MAX_PADDING


def _is_path(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or "\\" in source or Path(source).expanduser().exists()


def canonical_name(source: str) -> str:
    return Path(source.rstrip("/")).name


def load_model(kind: str, source: str, settings: Settings, devices: list[str]) -> ServedModel:
    """Load one model of ``kind`` (a key of ``registry.KINDS``) on every device (one replica each) behind one
    batcher."""
    s = settings
    spec = KINDS[kind]
    precision = spec.precision(s)
    problem = unsupported(precision, devices)
    if problem:
        raise ModelLoadError(f"{kind} model {canonical_name(source)}: {problem}")
    path = resolve_model_path(source, s.cache_dir)
    replicas: list[Runtime] = [spec.runtime(path, device, s.dtype, precision=precision) for device in devices]
    first = replicas[0]
    # XLM-R reserves two positions (the padding offset): 8194 positions hold 8192 tokens.
    max_length = min(s.max_length, first.max_positions - 2)
    canonical = canonical_name(source)
    served = [canonical, *spec.aliases(s)]
    if source != canonical and not _is_path(source):
        served.append(source)  # a hub id (BAAI/bge-m3); a directory answers to its name only, never its path
    batcher = Batcher(
        kind,
        replicas,
        max_batch_tokens=max(s.max_batch_tokens, max_length),
        max_batch_size=s.max_batch_size,
        wait_s=s.batch_wait_ms / 1000.0,
        max_queue=s.max_queue_inputs,
        merge_needs=spec.merge_needs,
        max_padding=max_padding(s),
    )
    dtype = str(first.dtype).replace("torch.", "")
    running = first.precision.name
    log.info("loaded %s %s from %s on %s (%s), max length %d", kind, canonical, path, ", ".join(devices),
             running, max_length)
    return ServedModel(kind=kind, names=served, path=path, max_length=max_length, batcher=batcher,
                       tokenizer=first.tokenizer, devices=devices, dtype=dtype,
                       dimension=getattr(first, "hidden_size", None), precision=running)


def load_local(settings: Settings) -> tuple[list[ServedModel], list[str]]:
    """Every model kind the settings name, on this machine's devices; and those devices. A kind that shares
    another's model (the hybrid) is never loaded: the core adds it as a view (``registry.with_shared``)."""
    devices = resolve_devices(settings.device)
    models = [load_model(kind, source, settings, devices)
              for kind, spec in KINDS.items() if not spec.shares and (source := spec.source(settings))]
    return models, devices


__all__ = ["load_local", "load_model", "max_padding", "resolve_devices", "resolve_model_path"]
