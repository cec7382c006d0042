"""bge-local as a Ray Serve application: ``import_path: local_server.scale.ray_serve:build_app``.

Three deployments:

- ``ingress``: the very FastAPI app of ``bge-local serve`` (``create_app``: every route, dialect, auth rule and
  error body) around the same ``InferenceCore``, whose models' batchers are ``DeploymentBackend``s: the core
  tokenizes and post-processes here and sends token ids to the model deployments through handles.
- ``embedder`` and ``reranker``: each replica loads one model with the engine's own loading code on its own
  device (Ray sets ``CUDA_VISIBLE_DEVICES`` from ``num_gpus``) and runs the engine's batcher; concurrent chunks
  from every ingress replica are merged into forward passes there.

Settings are the application's ``args``: the names of ``bge-local serve``'s settings (``max_batch_tokens``,
``embedding_model``...), each overriding the ``BGE_LOCAL_*`` environment variable of the same meaning, as a
command-line option does. The batching settings (``TUNABLE``) reach the replicas as ``user_config``, so
changing them updates running replicas in place, without a restart. Each ``user_config`` is applied to the
settings built from ``args``, never to the previous ``user_config``: a setting removed from it goes back to its
``args`` value (or default), so a replica reconfigured twice and one started afterwards agree.

Config versions: an ``args`` change replaces every replica, one by one, so for a while replicas of the old and
the new ``args`` run side by side. The ingress takes its model description (names, limits, tokenizer) from a
model replica of its own ``args`` (``describe`` answers with its ``args_version``; the ingress asks again until
one of the same version answers), never from an old replica still draining.

Readiness: a model replica is ready when its constructor returns, i.e. when its model is loaded; an ingress
replica when its app's start-up has heard ``describe`` from each model deployment (so a replica is up) — Serve
routes to a replica once it is ready, so a new ingress never answers "still loading" — and the application is
RUNNING in ``serve status`` only when every replica is. Drain: Serve stops routing to a
replica it scales down or replaces, waits for its ongoing requests (``graceful_shutdown_timeout_s``), then
calls ``__del__``, where the batcher finishes what it holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from local_server.config import Settings
from local_server.engine.core import InferenceCore
from local_server.engine.loading import load_model, max_padding, resolve_devices
from local_server.engine.registry import KINDS
from local_server.engine.types import BATCH_SIZE_BUCKETS, EMBEDDING, RERANKER, ServedModel
from local_server.scale.remote import DeploymentBackend
from local_server.scale.serve_config import (
    EMBEDDER_DEPLOYMENT,
    INGRESS_DEPLOYMENT,
    RERANKER_DEPLOYMENT,
    TUNABLE,
    settings_from_config,
    split_tunable,
)

log = logging.getLogger("bge_local.ray")

# How long the ingress waits for one answer from a model deployment before saying so in its log (it keeps
# waiting: replicas of big models take minutes to load, and /health says "loading" meanwhile).
_DESCRIBE_WAIT_S = 30.0
# How long the ingress waits before asking again when a replica of an earlier config answered ``describe``.
_STALE_RETRY_S = 1.0


def args_version(args: Mapping[str, Any]) -> str:
    """A short fingerprint of an application's ``args`` (the ones a deployment is built with): replicas built
    from the same ``args`` have the same version."""
    text = json.dumps(dict(args), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def apply_tunable(settings: Settings, user_config: dict[str, Any] | None) -> Settings:
    """``settings`` with the batching settings of ``user_config`` (a deployment's live-updatable part).

    Pass the settings built from ``args`` (``base``), not the result of an earlier call: a setting that a later
    ``user_config`` no longer names must fall back to its ``args`` value."""
    if not user_config:
        return settings
    unknown = set(user_config) - set(TUNABLE)
    if unknown:
        raise ValueError(f"user_config takes only {', '.join(TUNABLE)}; not {', '.join(sorted(unknown))}")
    # validated like any setting: a wrong type or range stops the update with pydantic's message
    return Settings.model_validate({**settings.model_dump(), **user_config})


class _ReplicaMetrics:
    """Batch metrics of one model replica, exported through Ray's metrics (``ray_bge_local_*``)."""

    def __init__(self, kind: str):
        from ray.serve import metrics

        self.batch_size = metrics.Histogram("bge_local_batch_size", "inputs per forward pass",
                                            boundaries=list(BATCH_SIZE_BUCKETS), tag_keys=("model",))
        self.tokens = metrics.Counter("bge_local_tokens", "tokens processed (without padding)", tag_keys=("model",))
        self.padded = metrics.Counter("bge_local_padded_tokens", "tokens computed including padding",
                                      tag_keys=("model",))
        for metric in (self.batch_size, self.tokens, self.padded):
            metric.set_default_tags({"model": kind})  # a dict each: Serve adds its own tags to it

    def observe(self, inputs: int, tokens: int, padded: int, batches: int) -> None:
        self.batch_size.observe(inputs / batches)  # mean size of the batches run since the last report
        self.tokens.inc(tokens)
        self.padded.inc(padded)


class ModelReplica:
    """One replica of one model (``kind``): the engine's own loading, batcher and runtimes, nothing else."""

    def __init__(self, kind: str, args: dict[str, Any]):
        self.kind = kind
        self.version = args_version(args)
        self.base = settings_from_config(args)  # what each user_config is applied to
        self.settings = self.base
        source = KINDS[kind].source(self.settings)
        if not source:
            raise ValueError(f"the {kind} deployment has no model: its setting is off")
        # Serve routes to this replica only once the constructor has returned: loaded means ready.
        self.model = load_model(kind, source, self.settings, resolve_devices(self.settings.device))
        self.metrics = _ReplicaMetrics(kind)
        self._reported = self.model.batcher.stats()

    def reconfigure(self, user_config: dict[str, Any] | None) -> None:
        """New batching settings for the running batcher (Serve calls this on a ``user_config`` change)."""
        self.settings = apply_tunable(self.base, user_config)
        s, batcher = self.settings, self.model.batcher
        batcher.reconfigure(max_batch_tokens=max(s.max_batch_tokens, self.model.max_length),
                            max_batch_size=s.max_batch_size, wait_s=s.batch_wait_ms / 1000.0,
                            max_queue=s.max_queue_inputs, max_padding=max_padding(s))
        log.info("%s batching: max_batch_tokens=%d max_batch_size=%d batch_wait_ms=%s max_queue_inputs=%d",
                 self.kind, batcher.max_batch_tokens, batcher.max_batch_size, s.batch_wait_ms, batcher.max_queue)

    async def run(self, ids_list: list[list[int]], needs: Any) -> list[Any]:
        try:
            return await self.model.batcher.run(ids_list, needs)
        finally:
            self._export_metrics()

    def _export_metrics(self) -> None:
        now, before = self.model.batcher.stats(), self._reported
        self._reported = now
        if now.batches > before.batches:
            self.metrics.observe(now.inputs - before.inputs, now.tokens - before.tokens,
                                 now.padded_tokens - before.padded_tokens, now.batches - before.batches)

    def describe(self) -> tuple[str, ServedModel]:
        """This replica's ``args_version`` and the served model as the ingress needs it: names, limits,
        tokenizer (sent once, so the ingress needs no model files), devices; the batcher stays here."""
        return self.version, replace(self.model, batcher=None)  # type: ignore[arg-type]

    def stats(self) -> dict[str, Any]:
        """Where this replica runs and what it has computed (for operators and the cluster tests)."""
        import ray

        s = self.model.batcher.stats()
        return {"replica": serve.get_replica_context().replica_id.to_full_id_str(),
                "node_id": ray.get_runtime_context().get_node_id(), "batches": s.batches, "inputs": s.inputs,
                "tokens": s.tokens, "max_batch_tokens": self.model.batcher.max_batch_tokens,
                "max_batch_size": self.model.batcher.max_batch_size, "version": self.version}

    def check_health(self) -> None:
        if not self.model.batcher.healthy():
            raise RuntimeError(f"the {self.kind} batcher has stopped")

    def __del__(self) -> None:
        # Serve calls this after the replica's ongoing requests finished (graceful_shutdown_timeout_s); the
        # batcher still runs what it holds, then its workers exit.
        model = getattr(self, "model", None)
        if model is not None:
            model.batcher.close()


_DEPLOYMENTS = {EMBEDDING: EMBEDDER_DEPLOYMENT, RERANKER: RERANKER_DEPLOYMENT}


class RemoteLoader:
    """The ingress core's loader: asks each model deployment for its served model and puts a
    ``DeploymentBackend`` in place of the batcher. The ingress serves on no device of its own."""

    def __init__(self, handles: dict[str, DeploymentHandle], version: str = ""):
        self.handles = handles
        self.version = version  # the args_version a model replica must answer with ("" takes any)

    def __call__(self, settings: Settings) -> tuple[list[ServedModel], list[str]]:
        models = []
        for kind, handle in self.handles.items():
            name = _DEPLOYMENTS[kind]
            model = self._describe(handle, name)
            model.batcher = DeploymentBackend(handle, name, settings)
            models.append(model)
        return models, []

    def _describe(self, handle: DeploymentHandle, name: str) -> ServedModel:
        """The served model from a replica of this ingress's own ``args``. During an ``args`` roll-out the
        handle may route to an old replica still running: its description (names, limits) is of the old config,
        so the ingress asks again (each call may reach another replica) until a new one answers."""
        stale = 0
        while True:
            try:
                version, model = handle.options(method_name="describe").remote().result(timeout_s=_DESCRIBE_WAIT_S)
            except TimeoutError:
                log.info("waiting for a replica of the %s deployment to load its model", name)
                continue
            if not self.version or version == self.version:
                return model
            if stale % 30 == 0:
                log.info("a %s replica of an earlier config (version %s) answered; waiting for one of version %s",
                         name, version, self.version)
            stale += 1
            time.sleep(_STALE_RETRY_S)


@serve.ingress()
class Ingress:
    """``create_app`` of ``bge-local serve``, over a core whose models run in the model deployments."""

    def __init__(self, args: dict[str, Any], embedder: DeploymentHandle | None, reranker: DeploymentHandle | None):
        self.base = settings_from_config(args)  # what each user_config is applied to
        self.settings = self.base.model_copy()  # updated in place: the app and the core hold this object
        handles = {kind: h for kind, h in ((EMBEDDING, embedder), (RERANKER, reranker)) if h is not None}
        self.core = InferenceCore(self.settings, loader=RemoteLoader(handles, args_version(args)))

    def __serve_build_asgi_app__(self):
        from local_server.server.app import create_app

        # Serve routes to a new ingress replica once its start-up ends: end it only when the models answer, so
        # a replaced ingress (a config roll-out) never answers 'still loading'
        self.http_app = create_app(self.settings, self.core, ready_before_serving=True)
        return self.http_app

    def reconfigure(self, user_config: dict[str, Any] | None) -> None:
        new = apply_tunable(self.base, user_config)
        for name in TUNABLE:  # in place: the app and the core hold this very object
            setattr(self.settings, name, getattr(new, name))

    def check_health(self) -> None:
        if self.core.load_error:
            raise RuntimeError(self.core.load_error)

    def __del__(self) -> None:
        app = getattr(self, "http_app", None)
        if app is not None:
            app.state.draining = True


def build_app(args: dict[str, Any]) -> serve.Application:
    """The application builder that ``serve run`` / ``serve deploy`` / KubeRay call with the config's ``args``.

    Settings are checked here, so a bad config fails at deploy time with a clear message."""
    args = dict(args or {})
    settings = settings_from_config(args)
    fixed, tunable = split_tunable(args)
    # Always a dict, never None: when a config's user_config is removed, Serve falls back to this value and calls
    # reconfigure with it (it skips reconfigure for None), so the replicas go back to the args values.
    model_deployment = serve.deployment(ModelReplica)
    embedder = reranker = None
    if settings.embedding_model:
        embedder = model_deployment.options(name=EMBEDDER_DEPLOYMENT, user_config=tunable).bind(
            EMBEDDING, fixed)
    if settings.reranker_model:
        reranker = model_deployment.options(name=RERANKER_DEPLOYMENT, user_config=tunable).bind(
            RERANKER, fixed)
    ingress = serve.deployment(Ingress).options(name=INGRESS_DEPLOYMENT, user_config=tunable)
    return ingress.bind(fixed, embedder, reranker)
