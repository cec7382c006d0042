"""The clients' checks, run from the table in ``local_server/clients/requests.py``: each request sent as that
client sends it, each answer judged by the table's rules (``clients/judge.py``), the passing answers described."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from local_server.clients import judge
from local_server.clients.requests import ClientCheck, calls, skip_reason
from local_server.tools.doctor.client import Client, expect
from local_server.tools.doctor.results import Check, CheckFailed


class TableCheck:
    """One ``ClientCheck`` of the table; ``reference`` holds the dense vectors later answers must agree with."""

    def __init__(self, entry: ClientCheck, reference: list[list[float]]):
        self.entry = entry
        self.reference = reference

    def __call__(self, client: Client, names: dict[str, str], check: Check) -> str | None:
        planned = calls(self.entry, "", names)
        if not planned:
            return skip_reason(self.entry, names)
        details: list[str] = []
        kept: dict[str, Any] = {}
        for call in planned:
            path = urlsplit(call.url).path
            body = expect(client.call(check, call.method, path, call.body, auth=call.sends_key), call.status)
            try:
                judge.judge(body, call.rules, self.reference)
            except judge.Failed as exc:
                raise CheckFailed(str(exc)) from exc
            if call.reference:
                self.reference[:] = judge.at(body, call.reference)
            values = {"model": call.model}
            kept.update({name: judge.at(body, path) for name, path in call.keep})
            if call.detail:
                details.append(judge.describe(call.detail, body, values))
        check.detail = judge.describe(self.entry.summary, None, {**kept, "details": self.entry.joiner.join(details)})
        return None
