"""The pieces behind issue 19 that need no server: log escaping in both formats, the one JSON parse of a body
(and its refusals), and the connection protocol's raw answers."""

from __future__ import annotations

import json
import logging

import pytest

from local_server.http.body import NAMED_BELOW, parse_json
from local_server.http.errors import ApiError
from local_server.http.logsafe import escape
from local_server.server.connections import raw_response
from local_server.server.process import JsonFormatter, TextFormatter


def test_escape_keeps_text_and_writes_controls_as_escapes():
    assert escape("/v1/嵌入/ünïcode") == "/v1/嵌入/ünïcode"
    assert escape("/live\nFORGED\r\x1b[31m\x7f\u2028") == "/live\\x0aFORGED\\x0d\\x1b[31m\\x7f\\u2028"


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_both_log_formats_keep_a_forged_line_on_one_line(formatter):
    record = logging.LogRecord("bge_local.access", logging.INFO, __file__, 1, "%s %s %d", ("GET", "/x\nFORGED",
                               200), None)
    record.request_id = "id\nFORGED"
    line = formatter.format(record)
    assert "\n" not in line and "FORGED" in line
    if isinstance(formatter, JsonFormatter):
        assert json.loads(line)["message"] == "GET /x\\x0aFORGED 200"


def refusal(body: bytes, max_strings: int | None = None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_json(body, max_strings)
    return caught.value


def test_one_parse_refuses_what_is_not_json_or_not_unicode():
    assert parse_json(b'{"input": ["\\ud83d\\ude00"]}') == {"input": ["\U0001f600"]}
    assert refusal(b'{"input": NaN}').status == 400
    assert "not valid JSON" in refusal(b'{"input": "a",}').message
    assert "UTF-8" in refusal(b'{"input": "\xff"}').message
    small = refusal(b'{"input": ["ok", "\\ud800"]}')
    assert small.code == "invalid_unicode" and "input[1]" in small.message
    large = refusal(b'{"input": ["' + b"a" * NAMED_BELOW + b'", "\\ud800"]}')
    assert large.code == "invalid_unicode" and "at byte" in large.message  # not parsed twice to name it


def test_a_body_of_too_many_strings_is_refused_before_parsing():
    body = b"[" + b'"a",' * 10_000 + b'"b"]'
    assert refusal(body, max_strings=1000).status == 413
    assert len(parse_json(body, max_strings=20_000)) == 10_001
    quoted = b'["' + b'\\"' * 10_000 + b'"]'  # escaped quotes are text, not strings
    assert parse_json(quoted, max_strings=10) == ['"' * 10_000]


def test_raw_refusals_are_whole_json_answers_that_close():
    reply = raw_response(431, "too big", "headers_too_large")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large") and b"connection: close" in head
    assert f"content-length: {len(body)}".encode() in head
    assert json.loads(body)["error"]["code"] == "headers_too_large"
