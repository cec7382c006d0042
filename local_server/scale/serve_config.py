"""The Serve config of bge-local on Ray: its settings (the ``args`` of the application) and its deployments.

Importing this module does not import Ray, so ``bge-local ray-config`` can write a config on any machine.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

from local_server.config import Settings, settings_from_args

APP_NAME = "bge-local"
IMPORT_PATH = "local_server.scale.ray_serve:build_app"
INGRESS_DEPLOYMENT = "ingress"
EMBEDDER_DEPLOYMENT = "embedder"
RERANKER_DEPLOYMENT = "reranker"
DEPLOYMENTS = (INGRESS_DEPLOYMENT, EMBEDDER_DEPLOYMENT, RERANKER_DEPLOYMENT)

# Batching settings that running replicas take without a restart: they travel as the deployments'
# user_config, which Serve hands to running replicas (``reconfigure``). Every other setting is an
# application arg: Serve hashes the args into the application's code version, so changing one replaces
# every replica, one by one. ``ray-config`` writes the batching settings into each deployment's user_config.
TUNABLE = ("max_batch_tokens", "max_batch_size", "batch_wait_ms", "max_padding", "max_queue_inputs")

SETTING_NAMES = tuple(Settings.model_fields)


def settings_from_config(args: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from a Serve config's ``args`` (setting names as keys), over the ``BGE_LOCAL_*`` environment,
    with exactly the parsing of ``bge-local serve``'s options."""
    args = dict(args or {})
    unknown = sorted(set(args) - set(SETTING_NAMES))
    if unknown:
        raise ValueError(f"unknown bge-local setting(s) in the application's args: {', '.join(unknown)}; "
                         f"known: {', '.join(SETTING_NAMES)}")
    values: dict[str, Any] = {}
    for name, value in args.items():
        if value is None and name in ("embedding_model", "reranker_model"):
            value = "none"  # `reranker_model: null` turns the model off, as 'none' does
        if isinstance(value, (list, tuple)):
            values[name] = [str(v) for v in value]
        elif value is None or isinstance(value, bool):
            values[name] = value
        else:
            values[name] = str(value)
    environ = dict(os.environ if environ is None else environ)
    try:
        return settings_from_args(argparse.Namespace(**values), environ)
    except SystemExit as exc:  # settings_from_args speaks to a command line
        raise ValueError(str(exc).removeprefix("error: ")) from None


def split_tunable(args: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(init args, user_config): the batching settings go to user_config."""
    fixed = {k: v for k, v in args.items() if k not in TUNABLE}
    tunable = {k: v for k, v in args.items() if k in TUNABLE}
    return fixed, tunable


# ---- deployment defaults -------------------------------------------------------------------------------------
# Autoscaling on ongoing requests per replica. A model replica's batcher needs several requests in hand to fill
# its forward passes, so the target is well above 1; replicas of big models take a minute to load, so scaling up
# waits a little for the load to persist and scaling down waits long (no flapping between bursts of indexing).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    EMBEDDER_DEPLOYMENT: {"target_ongoing_requests": 16, "max_ongoing_requests": 64, "replicas": "1:4"},
    RERANKER_DEPLOYMENT: {"target_ongoing_requests": 8, "max_ongoing_requests": 32, "replicas": "1:4"},
}
# The ingress mostly awaits the models; one replica per node's worth of HTTP handles thousands of requests. At
# least two all the same, and replaced with a surge: by default Serve replaces a replica by stopping it before its
# successor starts, so with one ingress an ``args`` roll-out would leave none until the new one is ready (requests
# wait in the proxy). With ``max_surge_percent`` the successor starts first; the ingress needs no GPU, so there is
# room for it. (Model replicas keep Serve's default: a surge there would need a spare GPU.)
INGRESS_DEFAULTS: dict[str, Any] = {"target_ongoing_requests": 64, "max_ongoing_requests": 512, "replicas": "2:4",
                                    "max_surge_percent": 100}
UPSCALE_DELAY_S = 15.0
DOWNSCALE_DELAY_S = 300.0


def parse_replicas(value: str) -> tuple[int, int]:
    """``"2"`` (fixed) or ``"1:4"`` (autoscaled from 1 to 4)."""
    low, _, high = str(value).partition(":")
    try:
        lo, hi = int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"replicas must be N or MIN:MAX, not {value!r}") from None
    if lo < 0 or hi < max(lo, 1):
        raise argparse.ArgumentTypeError(f"replicas {value!r}: need 0 <= MIN <= MAX and MAX >= 1")
    return lo, hi


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def _deployment(name: str, replicas: tuple[int, int], defaults: dict[str, Any], actor: dict[str, Any],
                opts: argparse.Namespace, drain_s: int) -> dict[str, Any]:
    low, high = replicas
    spec: dict[str, Any] = {"name": name, "max_ongoing_requests": defaults["max_ongoing_requests"]}
    if low == high:
        spec["num_replicas"] = low
    else:
        spec["autoscaling_config"] = {
            "min_replicas": low, "initial_replicas": max(low, 1), "max_replicas": high,
            "target_ongoing_requests": defaults["target_ongoing_requests"],
            "upscale_delay_s": _number(opts.upscale_delay_s), "downscale_delay_s": _number(opts.downscale_delay_s),
        }
    if "max_surge_percent" in defaults:
        spec["max_surge_percent"] = defaults["max_surge_percent"]
    spec["graceful_shutdown_timeout_s"] = drain_s
    spec["ray_actor_options"] = {k: _number(v) for k, v in actor.items()}
    return spec


def generate(settings: Settings, opts: argparse.Namespace) -> dict[str, Any]:
    """The Serve config (as a dict) for ``settings`` and the deployment options of ``bge-local ray-config``."""
    defaults = Settings()
    args: dict[str, Any] = {"embedding_model": settings.embedding_model, "reranker_model": settings.reranker_model}
    for name in SETTING_NAMES:
        # host/port belong to Serve's proxy, keys stay out of files (set BGE_LOCAL_API_KEY on the nodes), and a
        # setting left at its default is not written, so the nodes' BGE_LOCAL_* environment still applies.
        if name in args or name in ("host", "port", "api_keys"):
            continue
        value = getattr(settings, name)
        if value != getattr(defaults, name):
            args[name] = value
    args, tunable = split_tunable(args)
    deployments = [_deployment(INGRESS_DEPLOYMENT, opts.ingress_replicas, INGRESS_DEFAULTS,
                               {"num_cpus": opts.ingress_cpus}, opts, settings.drain_timeout_s)]
    for name, model, replicas, gpus in (
        (EMBEDDER_DEPLOYMENT, settings.embedding_model, opts.embedder_replicas, opts.embedder_gpus),
        (RERANKER_DEPLOYMENT, settings.reranker_model, opts.reranker_replicas, opts.reranker_gpus),
    ):
        if not model:
            continue
        gpus = opts.gpus_per_replica if gpus is None else gpus
        actor = {"num_cpus": opts.cpus_per_replica, "num_gpus": gpus}
        deployments.append(_deployment(name, replicas, MODEL_DEFAULTS[name], actor, opts, settings.drain_timeout_s))
    if tunable:  # every deployment reads them: the ingress splits requests into chunks by them too
        for spec in deployments:
            spec["user_config"] = dict(tunable)
    return {
        "proxy_location": opts.proxy_location,
        "http_options": {"host": settings.host, "port": int(settings.port)},
        "logging_config": {"encoding": "JSON" if settings.log_format == "json" else "TEXT",
                           "log_level": settings.log_level.upper()},
        "applications": [{
            "name": APP_NAME,
            "route_prefix": "/",
            "import_path": IMPORT_PATH,
            "args": args,
            "deployments": deployments,
        }],
    }


def check(config: Mapping[str, Any]) -> list[str]:
    """Problems with a Serve config (empty when fine): Ray's own schema, then bge-local's part of it."""
    try:
        from ray.serve.schema import ServeDeploySchema
    except ImportError:
        return ["checking needs Ray Serve: pip install 'bge-local[ray]'"]
    try:
        ServeDeploySchema.model_validate(dict(config))
    except Exception as exc:  # pydantic.ValidationError; its text lists every field
        return [f"not a valid Serve config: {exc}"]
    problems: list[str] = []
    ours = [app for app in config.get("applications", []) if app.get("import_path") == IMPORT_PATH]
    if not ours:
        problems.append(f"no application has import_path {IMPORT_PATH}")
    for app in ours:
        where = f"application {app.get('name')!r}"
        try:
            settings = settings_from_config(app.get("args"), environ={})
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        served = {INGRESS_DEPLOYMENT, *([EMBEDDER_DEPLOYMENT] if settings.embedding_model else []),
                  *([RERANKER_DEPLOYMENT] if settings.reranker_model else [])}
        for dep in app.get("deployments") or []:
            name = dep.get("name")
            if name not in served:
                problems.append(f"{where}: deployment {name!r} is not part of this application (it has "
                                f"{', '.join(sorted(served))})")
                continue
            extra = set(dep.get("user_config") or {}) - set(TUNABLE)
            if extra:
                problems.append(f"{where}: {name}.user_config takes only {', '.join(TUNABLE)}; not "
                                f"{', '.join(sorted(extra))}")
            gpus = (dep.get("ray_actor_options") or {}).get("num_gpus", 0) or 0
            if name != INGRESS_DEPLOYMENT and not gpus and str(settings.device or "").startswith("cuda"):
                problems.append(f"{where}: device {settings.device} but {name} asks Ray for no GPU (num_gpus: 0)")
            if name == INGRESS_DEPLOYMENT and gpus:
                problems.append(f"{where}: the ingress runs no model; give it no GPU (num_gpus: {gpus})")
    return problems


# ---- the command ---------------------------------------------------------------------------------------------
def register(subparsers: argparse._SubParsersAction) -> None:
    from local_server.config import add_serve_arguments

    parser = subparsers.add_parser(
        "ray-config", help="write or check the Ray Serve config (serve run / serve deploy / KubeRay)",
        description="Write the Serve config that runs bge-local on a Ray cluster, from the same options and "
                    "BGE_LOCAL_* variables as 'bge-local serve'; or check one (--check FILE). Deploy it with "
                    "'serve deploy FILE' (or 'serve run FILE', or as a KubeRay RayService's serveConfigV2).")
    parser.add_argument("--check", metavar="FILE", help="check FILE (Ray's schema and bge-local's settings) "
                        "instead of writing a config")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the config to FILE (default: stdout)")
    group = parser.add_argument_group("Ray deployments")
    group.add_argument("--embedder-replicas", type=parse_replicas, default=parse_replicas("1:4"),
                       help="N (fixed) or MIN:MAX (autoscaled on ongoing requests); default 1:4")
    group.add_argument("--reranker-replicas", type=parse_replicas, default=parse_replicas("1:4"),
                       help="same for the reranker; default 1:4")
    group.add_argument("--ingress-replicas", type=parse_replicas, default=parse_replicas(INGRESS_DEFAULTS["replicas"]),
                       help=f"HTTP ingress replicas (tokenization, no model); default {INGRESS_DEFAULTS['replicas']}: "
                            "at least two, so that a roll-out always leaves one serving")
    group.add_argument("--gpus-per-replica", type=float, default=1.0,
                       help="GPUs per model replica; fractions share a GPU (0.5: two replicas per GPU); 0 for "
                            "CPU replicas; default 1")
    group.add_argument("--embedder-gpus", type=float, default=None, help="GPUs per embedder replica (overrides "
                       "--gpus-per-replica)")
    group.add_argument("--reranker-gpus", type=float, default=None, help="GPUs per reranker replica")
    group.add_argument("--cpus-per-replica", type=float, default=1.0,
                       help="CPUs per model replica (on CPU replicas also torch's threads); default 1")
    group.add_argument("--ingress-cpus", type=float, default=1.0, help="CPUs per ingress replica; default 1")
    group.add_argument("--upscale-delay-s", type=float, default=UPSCALE_DELAY_S,
                       help=f"load must persist this long before replicas are added; default {UPSCALE_DELAY_S:g}")
    group.add_argument("--downscale-delay-s", type=float, default=DOWNSCALE_DELAY_S,
                       help=f"idleness must persist this long before replicas are removed; default "
                            f"{DOWNSCALE_DELAY_S:g}")
    group.add_argument("--proxy-location", choices=["EveryNode", "HeadOnly"], default="EveryNode",
                       help="where Serve runs its HTTP proxy; default EveryNode (put a load balancer or a "
                            "Kubernetes Service in front)")
    add_serve_arguments(parser.add_argument_group("bge-local settings (as for 'bge-local serve')"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    try:
        import yaml
    except ImportError:
        print("error: bge-local ray-config needs PyYAML (it comes with pip install 'bge-local[ray]')",
              file=sys.stderr)
        return 2
    if args.check:
        with open(args.check, encoding="utf-8") as f:
            config = yaml.safe_load(f)
        problems = check(config if isinstance(config, dict) else {})
        for problem in problems:
            print(f"{args.check}: {problem}", file=sys.stderr)
        if not problems:
            print(f"{args.check}: a valid Serve config for bge-local")
        return 1 if problems else 0
    settings = settings_from_args(args)
    if settings.api_keys:
        print("note: API keys are not written into the config; set BGE_LOCAL_API_KEY in the environment of the "
              "Ray nodes (a Kubernetes Secret with KubeRay)", file=sys.stderr)
    text = ("# bge-local on Ray Serve; written by `bge-local ray-config`. Deploy: serve deploy THIS_FILE\n"
            + yaml.safe_dump(generate(settings, args), sort_keys=False))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
