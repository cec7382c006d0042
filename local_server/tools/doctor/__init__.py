"""``bge-local doctor URL``: check a running server as Dify and RAGFlow will call it, then say what to paste.

The server's own checks (``server_checks``: health, models, auth, mistyped URLs) frame the clients' checks, which
come from the one table of client requests (``local_server/clients/requests.py``, run by ``table_checks``): each
sends the body a real client sends to the route that client reaches, judges the answer the way that client reads
it, and is timed (``client``, ``runner``). The "what to paste" table is built from the URL rules of each Dify and
RAGFlow provider (``local_server/clients/forms.py``, plain data that README.md, docs/ragflow.md (``docs``) and the
console render too); each row is marked with the result of the check that exercises the route the pasted URL
leads to (``report``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from local_server.tools.doctor.report import render_text, report_json
from local_server.tools.doctor.runner import Doctor


def run(args: argparse.Namespace) -> int:
    if args.write_docs:
        from local_server.tools.doctor.docs import write_docs

        for path in write_docs():
            print(f"updated {path}")
        return 0
    if args.url is None:
        print("error: give the server's URL, e.g. bge-local doctor http://192.168.1.20:8000", file=sys.stderr)
        return 2
    if args.paste_table:
        from local_server.tools.doctor.docs import markdown

        for app in ("Dify", "RAGFlow"):
            print(f"### {app}\n\n{markdown(app, args.url)}")
        return 0
    try:
        doctor = Doctor(args.url, api_key=args.api_key, timeout=args.timeout)
    except ImportError:
        print(
            "error: the doctor needs httpx: pip install httpx (it comes with 'bge-local[server]')",
            file=sys.stderr,
        )
        return 1
    report = doctor.run()
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False, indent=2))
    else:
        print(render_text(report))
    return 0 if report.ok else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", nargs="?", help="the server's URL, e.g. http://192.168.1.20:8000 (a /v1 suffix is fine)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("BGE_LOCAL_API_KEY") or None,
        help="the server's API key (default: $BGE_LOCAL_API_KEY)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: 30)")
    parser.add_argument(
        "--paste-table",
        action="store_true",
        help="print only the what-to-paste tables for URL, as Markdown, without contacting it",
    )
    parser.add_argument("--write-docs", action="store_true",
                        help="(developers) regenerate the what-to-paste tables in README.md and docs/ragflow.md")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check a running server as Dify and RAGFlow will call it, and print what to paste where",
        description="Calls every route Dify and RAGFlow use (health, models, auth, embeddings float/base64, "
        "TEI /embed, rerank in each dialect, /score, bge-m3's hybrid reranker), validates the answers as those "
        "clients read them, and prints the URL to paste into each Dify and RAGFlow provider. Exit code 1 when a "
        "check fails.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bge-local doctor")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
