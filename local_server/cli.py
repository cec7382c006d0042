"""The ``bge-local`` command: ``serve`` runs the server; the other subcommands are offline tools from
``local_server.tools`` that ``serve`` never imports. Heavy imports (torch, transformers, FastAPI) happen inside
subcommands, so ``--help`` is instant."""

from __future__ import annotations

import argparse
import importlib
import sys

from local_server import __version__

# Offline tools; each module exposes ``register(subparsers)``.
_TOOLS = ("local_server.tools.download", "local_server.tools.doctor", "local_server.tools.package_plugin",
          "local_server.tools.check_precision", "local_server.scale.serve_config")


def _serve(args: argparse.Namespace) -> int:
    from local_server.config import SettingsError, settings_from_args
    from local_server.server.process import configure, warn_if_exposed

    try:
        settings = settings_from_args(args)
    except SettingsError as exc:
        print(f"bge-local serve: {exc}", file=sys.stderr)
        return 2  # argparse's status for a bad command line
    configure(settings.log_level, settings.log_format)
    warn_if_exposed(settings.host, bool(settings.api_keys))

    import uvicorn

    from local_server.server.app import create_app
    from local_server.server.connections import ConnectionLimits, limited_protocol
    from local_server.server.process import DrainingServer

    app = create_app(settings)
    limits = ConnectionLimits(max_header_bytes=settings.max_header_bytes, max_headers=settings.max_headers,
                              header_timeout_s=settings.header_timeout_s, body_timeout_s=settings.body_timeout_s,
                              max_connections=settings.max_connections)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            timeout_graceful_shutdown=settings.drain_timeout_s, access_log=False,
                            log_config=None, http=limited_protocol(limits),
                            timeout_keep_alive=settings.keep_alive_s)  # type: ignore[arg-type]
    DrainingServer(config, app.state).run()
    return 0


def _make_test_models(args: argparse.Namespace) -> int:
    from local_server.tools.test_models import make_test_models

    embedder, reranker = make_test_models(args.directory, args.size, seed=args.seed)
    print(f"wrote {embedder}\nwrote {reranker}\n"
          f"serve them with: bge-local serve --embedding-model {embedder} --reranker-model {reranker}")
    return 0


def build_parser(tools: bool = True) -> argparse.ArgumentParser:
    """The root parser; ``tools=False`` leaves the offline tools out (``serve`` never imports them)."""
    from local_server.config import add_serve_arguments

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

    for name in _TOOLS if tools else ():
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(tools=command != "serve").parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
