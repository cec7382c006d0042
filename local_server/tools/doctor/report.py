"""The doctor's output: a text report for people, JSON for scripts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from local_server.clients.forms import KEY_NONE, NO_KEY_NOTE, PasteRow, is_loopback, key_to_type, rows
from local_server.tools.doctor.results import FAIL, OK, SKIP, Report

# --- output ---------------------------------------------------------------------------------------


def row_status(row: PasteRow, report: Report) -> tuple[str, str]:
    """(mark, reason) for one paste row given the checks' results."""
    if row.url is None:
        return FAIL, ""
    checks = [c for c in report.checks if c.id in row.checks]
    if any(c.ok is False for c in checks):
        return FAIL, "its route failed above"
    if checks and all(c.ok is None for c in checks):
        return SKIP, "not checked" if any(c.detail.startswith("not run") for c in checks) else "model not served"
    if report.models and row.model not in report.models.values():  # e.g. the hybrid's row on a reranker alone
        return SKIP, "model not served"
    if row.key == KEY_NONE and report.api_key_given:
        return FAIL, NO_KEY_NOTE
    return OK, ""


def served_rows(report: Report) -> list[PasteRow]:
    """The table for this server: its URL, and the names it serves (for per-model URLs and model fields)."""
    return rows(report.url, {k: v for k, v in report.models.items() if v})


def render_text(report: Report) -> str:
    out = [
        f"bge-local doctor: {report.url}  (API key {'given' if report.api_key_given else 'not given'})",
        "",
    ]
    width = max(len(c.title) for c in report.checks)
    for c in report.checks:
        ms = f"{c.ms:7.0f} ms" if c.ms is not None else " " * 10
        detail = " ".join(c.detail.split())  # server messages may span lines
        out.append(f"  {c.mark}  {c.title:<{width}}  {ms}  {detail}")
    passed = sum(c.ok is True for c in report.checks)
    failed = sum(c.ok is False for c in report.checks)
    skipped = sum(c.ok is None for c in report.checks)
    out += ["", f"{passed} passed, {failed} failed, {skipped} skipped", ""]
    if report.result("health") is False and any(c.detail == "not run: server unreachable" for c in report.checks):
        out += [
            "The server could not be reached. Is it running, on this host and port?",
            "  docker compose ps / docker compose logs bge-local",
            "  systemctl status bge-local / journalctl -u bge-local -f",
            "",
        ]
        return "\n".join(out)

    out.append("WHAT TO PASTE")
    if is_loopback(report.url):
        out += [
            f"  ! {report.url} is this machine's loopback address. Dify and RAGFlow usually run in",
            "    Docker, where 127.0.0.1 is the container itself: paste the host's LAN address instead,",
            "    or http://host.docker.internal:PORT (on Linux add",
            '    extra_hosts: ["host.docker.internal:host-gateway"] to the Dify/RAGFlow services),',
            "    or the compose service name when they share a Docker network.",
        ]
    if report.api_key_given:
        out.append("  API key field: the key you passed with --api-key")
    else:
        out.append("  API key field: leave it empty, or type x where the form requires a key (as noted)")
    wheres = {"Dify": "Settings → Model Provider", "RAGFlow": "Model providers → the provider → Add model",
              "Other tools": "where each library or app takes its server address"}
    for app, where in wheres.items():
        out += ["", f"  {app} ({where})"]
        table = [r for r in served_rows(report) if r.app == app]
        pw = max(len(r.client) for r in table)
        tw = max(len(r.form) for r in table)
        vw = max(len(r.url or "") for r in table)
        for row in table:
            mark, reason = row_status(row, report)
            typed = key_to_type(row.key, None) if not report.api_key_given else None
            extra = [reason, f"model {row.model}" if row.url else "", f"key {typed}" if typed else "", row.note]
            note = "; ".join(x for x in extra if x)
            out.append(f"    {mark} {row.client:<{pw}}  {row.form:<{tw}}  {row.url or '(not possible)':<{vw}}  "
                       f"→ {row.reaches}" + (f"  — {note}" if note else ""))
    out.append("")
    return "\n".join(out)


def report_json(report: Report) -> dict[str, Any]:
    table = []
    for row in served_rows(report):
        mark, reason = row_status(row, report)
        table.append({**row.as_dict(), "ok": mark == OK, "status": reason or "ok"})
    return {
        "url": report.url,
        "ok": report.ok,
        "api_key_given": report.api_key_given,
        "models": report.models,
        "hybrid": report.hybrid,
        "checks": [asdict(c) for c in report.checks],
        "paste": table,
    }
