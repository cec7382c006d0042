"""What the doctor finds: one ``Check`` per line of its report, and the ``Report`` that holds them."""

from __future__ import annotations

from dataclasses import dataclass, field

OK, FAIL, SKIP = "✔", "✘", "–"
CLIENT_TIME_LIMIT_S = 10.0  # RAGFlow validates a model within 10 s, GPUStack times out at 10 s


@dataclass
class Check:
    id: str
    title: str
    ok: bool | None = None  # None: skipped
    detail: str = ""
    status: int | None = None
    ms: float | None = None  # all of the check's requests together
    slowest_ms: float | None = None  # its slowest single request

    @property
    def mark(self) -> str:
        return SKIP if self.ok is None else (OK if self.ok else FAIL)


class CheckFailed(Exception):
    pass


class Blocked(CheckFailed):
    """A failure that makes the remaining checks pointless."""

    def __init__(self, message: str, stop: str):
        super().__init__(message)
        self.stop = stop


@dataclass
class Report:
    url: str
    api_key_given: bool
    checks: list[Check] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)  # kind -> served name
    hybrid: str | None = None  # the hybrid scorer's name, from /health's also_serves (None: not served)

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def result(self, check_id: str) -> bool | None:
        for c in self.checks:
            if c.id == check_id:
                return c.ok
        return None
