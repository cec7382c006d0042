"""``bge-local package-plugin``: build the Dify plugin package (``dist/bge_local-<version>.difypkg``).

A ``.difypkg`` is a plain zip of the plugin folder. ``files`` picks what goes in (``.difyignore``, gitignore
syntax, via pathspec), ``validate`` makes the checks Dify makes — dify_plugin's own models among them — on the
package as Dify unpacks it, and ``build`` zips it deterministically, so a bad package fails here rather than in a
user's Dify. Only ``register`` runs when the ``bge-local`` command starts; the rest is imported when the command
runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_MAX_SIZE = 50 * 1024 * 1024  # the daemon's default MAX_PLUGIN_PACKAGE_SIZE (uncompressed)


def default_source() -> Path:
    """The repository root: the plugin (manifest.yaml, provider/, models/ …) lives beside local_server/."""
    return Path(__file__).resolve().parents[3]


def run(args: argparse.Namespace) -> int:
    try:
        from local_server.tools.package_plugin.build import prepare, write
        from local_server.tools.package_plugin.errors import PackageError
        from local_server.tools.package_plugin.validate import PLUGIN_PYTHON_ENV
    except ModuleNotFoundError as e:  # PyYAML, pathspec: the `tools` extra
        print(f"package-plugin: error: needs the {e.name} package: pip install 'bge-local[tools]'", file=sys.stderr)
        return 1

    source = Path(args.source) if args.source else default_source()
    try:
        package = prepare(source, max_size=args.max_size, plugin_python=args.plugin_python)
    except PackageError as e:
        print(f"package-plugin: error: {e}", file=sys.stderr)
        return 1
    target = write(package, Path(args.output_dir))
    if package.sdk is None:
        print(f"package-plugin: warning: not checked with dify_plugin's own models: no {source}/.venv-plugin "
              f"(make it as README says, or name a Python that has dify_plugin with --plugin-python or "
              f"{PLUGIN_PYTHON_ENV})", file=sys.stderr)
    else:
        print(f"Checked with dify_plugin {package.sdk}.")
    print(f"Built {target} ({len(package.files)} files, {len(package.data)} bytes).")
    print("Install it in Dify: Plugins > Install plugin > Local package file. Self-built packages are unsigned:")
    print("set FORCE_VERIFYING_SIGNATURE=false for Dify's plugin_daemon (see README, 'Use with Dify').")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "package-plugin",
        help="build the Dify plugin package (dist/bge_local-<version>.difypkg)",
        description="Check the Dify plugin like Dify does and zip it into a .difypkg.",
    )
    parser.add_argument("--output-dir", default="dist", help="where to write the .difypkg (default: dist)")
    parser.add_argument("--source", default=None,
                        help="the folder holding manifest.yaml (default: the repository root)")
    parser.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE,
                        help=f"largest uncompressed size in bytes (default: {DEFAULT_MAX_SIZE}, Dify's default)")
    parser.add_argument("--plugin-python", default=None, metavar="PYTHON",
                        help="a Python with dify_plugin, to read the plugin with the SDK's own models "
                             "(default: $BGE_LOCAL_PLUGIN_PYTHON, else .venv-plugin/bin/python beside the plugin)")
    parser.set_defaults(func=run)
