"""The ``bge-local`` command. Heavy imports (torch, FlagEmbedding, FastAPI) happen inside subcommands,
so ``bge-local package-plugin`` works with the base install and ``--help`` is instant."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from local_server import __version__
from local_server.loopback import is_loopback_host

# Subcommands that live in their own modules; each exposes ``register(subparsers)``.
_PLUGGED = ("local_server.download", "local_server.doctor", "local_server.tools.package_plugin")


def _serve(args: argparse.Namespace) -> int:
    from local_server.logs import configure
    from local_server.settings import settings_from_args

    settings = settings_from_args(args)
    configure(settings.log_level, settings.log_format)
    _warn_if_exposed(settings.host, bool(settings.api_keys))

    import uvicorn

    from local_server.app import create_app
    from local_server.lifecycle import DrainingServer

    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=int(settings.port), log_level=settings.log_level,
                            timeout_graceful_shutdown=settings.drain_timeout_s, access_log=False,
                            log_config=None)
    DrainingServer(config, app.state).run()
    return 0


def _warn_if_exposed(host: str, has_key: bool) -> None:
    if has_key:
        return
    if not is_loopback_host(host):  # 0.0.0.0 and :: listen on every interface
        logging.getLogger("bge_local").warning(
            "SECURITY: serving on %s without an API key: anyone who can reach this port can use the models. "
            "Set --api-key (or BGE_LOCAL_API_KEY), or bind to 127.0.0.1.", host)


def _make_test_models(args: argparse.Namespace) -> int:
    from local_server.test_models import make_test_models

    embedder, reranker = make_test_models(args.directory, args.size, seed=args.seed)
    print(f"wrote {embedder}\nwrote {reranker}\n"
          f"serve them with: bge-local serve --embedding-model {embedder} --reranker-model {reranker}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from local_server.settings import add_serve_arguments

    parser = argparse.ArgumentParser(
        prog="bge-local", description="Self-hosted BAAI/bge-m3 and BAAI/bge-reranker-v2-m3 for Dify and RAGFlow.")
    parser.add_argument("--version", action="version", version=f"bge-local {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server", description="Run the bge-m3 / reranker server.")
    add_serve_arguments(serve)
    serve.set_defaults(func=_serve)

    models = sub.add_parser("make-test-models", help="write randomly initialised stand-in models (offline)")
    models.add_argument("directory", help="writes DIRECTORY/bge-m3 and DIRECTORY/bge-reranker-v2-m3")
    models.add_argument("--size", choices=["tiny", "small", "full"], default="tiny",
                        help="tiny: tests; small: CPU benchmarks; full: bge-m3's real shape for GPU benchmarks")
    models.add_argument("--seed", type=int, default=0)
    models.set_defaults(func=_make_test_models)

    for name in _PLUGGED:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
