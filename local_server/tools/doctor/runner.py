"""The doctor's run: the server's checks, then every client's check from the table, then the mistyped URLs;
each timed, and the run stopped early where going on is pointless (unreachable, not ready, a refused key)."""

from __future__ import annotations

from collections.abc import Callable

from local_server.clients.forms import HYBRID_CHECK, normalise_url
from local_server.clients.requests import CHECKS
from local_server.tools.doctor import server_checks
from local_server.tools.doctor.client import Client, Unreachable
from local_server.tools.doctor.results import CLIENT_TIME_LIMIT_S, Blocked, Check, CheckFailed, Report
from local_server.tools.doctor.table_checks import TableCheck

Step = Callable[[Check], str | None]  # runs one check; None when it ran, else why it was skipped


class Doctor:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0):
        self.url = normalise_url(url)
        self.client = Client(self.url, api_key or None, timeout)
        self.report = Report(self.url, bool(api_key))
        self.reference: list[list[float]] = []  # the float vectors of /v1/embeddings, once fetched

    def _model(self, kind: str) -> str | None:
        if not self.report.models:  # no listing (e.g. /v1/models failed): try everything
            return "bge-m3" if kind == "embedding" else "bge-reranker-v2-m3"
        return self.report.models.get(kind)

    def _names(self) -> dict[str, str]:
        return {kind: name for kind in ("embedding", "reranker") if (name := self._model(kind))}

    def plan(self) -> list[tuple[str, str, Step]]:
        def server(check: Callable[..., str | None]) -> Step:
            return lambda c: check(self.client, self.report, self._model, c)

        def table(check: TableCheck) -> Step:
            return lambda c: check(self.client, self._names(), c)

        return [("health", "GET  /health", server(server_checks.check_health)),
                ("models", "GET  /v1/models", server(server_checks.check_models)),
                ("auth", "auth", server(server_checks.check_auth)),
                *((e.id, e.title, table(TableCheck(e, self.reference))) for e in CHECKS),
                (HYBRID_CHECK, "POST /v1/rerank  hybrid", server(server_checks.check_hybrid)),
                ("url_mistakes", "mistyped URLs", server(server_checks.check_url_mistakes))]

    def run(self) -> Report:
        stop: str | None = None  # why the remaining checks cannot run
        for check_id, title, step in self.plan():
            check = Check(check_id, title)
            self.report.checks.append(check)
            if stop and not (check_id == "auth" and stop.startswith("not run: API key")):
                check.detail = stop
                continue
            try:
                stop = self._run_one(check, step) or stop
            except Unreachable as exc:
                check.ok = False
                check.detail = str(exc)
                stop = "not run: server unreachable"
        return self.report

    def _run_one(self, check: Check, step: Step) -> str | None:
        """Run ``step`` into ``check``; why the remaining checks cannot run, if they cannot."""
        try:
            skip = step(check)
        except Blocked as exc:
            check.ok, check.detail = False, str(exc)
            return exc.stop
        except CheckFailed as exc:
            check.ok, check.detail = False, str(exc)
            if not check.detail.startswith("401"):
                return None
            if self.client.api_key:
                check.detail += ": the server refused this API key"
                return "not run: API key refused"
            check.detail += ": pass the server's key with --api-key"
            return "not run: API key missing"
        if skip:
            check.detail = skip
            return None
        check.ok = True
        slowest = check.slowest_ms or 0.0
        if slowest > CLIENT_TIME_LIMIT_S * 1000 and check.id != "health":
            check.ok = False
            check.detail += f"; a request took {slowest / 1000:.1f} s, over RAGFlow's 10 s validation limit"
        return None
