"""The doctor's output: a text report for people, JSON for scripts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from local_server.tools.doctor.checks import FAIL, OK, SKIP, Report
from local_server.tools.doctor.paste import NO_KEY_NOTE, PasteRow, is_loopback, paste_rows

# --- output ---------------------------------------------------------------------------------------


def row_status(row: PasteRow, report: Report) -> tuple[str, str]:
    """(mark, reason) for one paste row given the checks' results."""
    if row.value is None:
        return FAIL, ""
    checks = [c for c in report.checks if c.id in row.checks]
    if any(c.ok is False for c in checks):
        return FAIL, "its route failed above"
    if checks and all(c.ok is None for c in checks):
        return SKIP, "not checked" if any(c.detail.startswith("not run") for c in checks) else "model not served"
    if not row.sends_key and report.api_key_given:
        return FAIL, NO_KEY_NOTE
    return OK, ""


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
    key = "the key you passed with --api-key" if report.api_key_given else "anything, or leave it empty"
    out.append(f"  API key field: {key}")
    for app in ("Dify", "RAGFlow"):
        where = (
            "Settings → Model Provider"
            if app == "Dify"
            else "Model providers → the provider → Add model, field 'Base url'"
        )
        out += ["", f"  {app} ({where})"]
        rows = [r for r in paste_rows(report.url) if r.app == app]
        pw = max(len(r.provider) for r in rows)
        tw = max(len(r.model_type) for r in rows)
        vw = max(len(r.value or "") for r in rows)
        for row in rows:
            mark, reason = row_status(row, report)
            value = row.value or "(not possible)"
            note = "; ".join(x for x in (reason, row.note) if x)
            note = "" if not note else f"  — {note}"
            out.append(
                f"    {mark} {row.provider:<{pw}}  {row.model_type:<{tw}}  {value:<{vw}}  → {row.reaches}" + note
            )
    out.append("")
    return "\n".join(out)


def report_json(report: Report) -> dict[str, Any]:
    rows = []
    for row in paste_rows(report.url):
        mark, reason = row_status(row, report)
        rows.append({**asdict(row), "checks": list(row.checks), "ok": mark == OK, "status": reason or "ok"})
    return {
        "url": report.url,
        "ok": report.ok,
        "api_key_given": report.api_key_given,
        "models": report.models,
        "checks": [asdict(c) for c in report.checks],
        "paste": rows,
    }
