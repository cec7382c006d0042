"""The plugin's retry waits (provider/client/transport.py), loaded from its file: no Dify SDK in this process."""

from __future__ import annotations

import datetime as dt

import pytest
from plugin_files import plugin_module

transport = plugin_module("transport")

NOW = dt.datetime(2026, 11, 30, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("retry_after", "seconds"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("Mon, 30 Nov 2026 12:00:05 GMT", 5.0),  # an HTTP date (RFC 9110)
        ("Mon, 30 Nov 2026 11:00:00 GMT", 0.0),  # already past: now
        ("Mon, 30 Nov 2026 13:00:00 GMT", 16.0),  # an hour: capped
        ("600", 16.0),
        ("soon", 0.5),  # unreadable: the plain backoff
        ("", 0.5),
        (None, 0.5),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(retry_after: str | None, seconds: float) -> None:
    assert transport.retry_delay(0, retry_after, now=NOW) == seconds


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [transport.retry_delay(attempt) for attempt in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
