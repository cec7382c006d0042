"""Every connection is bounded (issue 19): slow headers and bodies get 408 and are closed, idle keep-alive
connections are closed, header bombs get 431, connections beyond the limit get 503 JSON. Raw sockets against
the real server process (limits in conftest.LIMITS); each wait is bounded by the limit plus a margin for a
loaded machine, never asserted as a time."""

from __future__ import annotations

import contextlib
import json
import time

import httpx
from support.rawhttp import body_of, connect, read_until_closed, status_of

MARGIN_S = 20.0  # the server may be slow to get to a timer on a busy machine; a hang still fails


def test_a_client_dribbling_its_headers_gets_408_and_is_closed(exposed):
    with connect(exposed.port) as sock:
        sock.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\n")
        for sent in range(1, 200):  # one header byte every 0.1 s, forever if the server let it
            try:
                sock.sendall(b"X")
            except OSError:
                break
            time.sleep(0.1)
            if sent * 0.1 > exposed.limits["header_timeout_s"] + MARGIN_S:
                break
        reply, closed = read_until_closed(sock, MARGIN_S)
    assert closed and status_of(reply) == 408, reply[:300]
    assert json.loads(body_of(reply))["error"]["code"] == "request_timeout"


def test_a_connection_that_never_sends_a_byte_is_closed(exposed):
    with connect(exposed.port) as sock:
        reply, closed = read_until_closed(sock, exposed.limits["header_timeout_s"] + MARGIN_S)
    assert closed and reply == b""


def test_a_slow_body_gets_408_and_is_closed(exposed):
    with connect(exposed.port) as sock:
        auth = b"Authorization: Bearer " + exposed.api_key.encode() + b"\r\n"
        sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + auth
                     + b"Content-Length: 1000\r\n\r\n{\"input\": \"")
        reply, closed = read_until_closed(sock, exposed.limits["body_timeout_s"] + MARGIN_S)
    assert closed and status_of(reply) == 408, reply[:300]
    assert "body" in json.loads(body_of(reply))["error"]["message"]


def test_an_idle_keep_alive_connection_is_closed(exposed):
    with connect(exposed.port) as sock:
        sock.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n")
        reply, closed = read_until_closed(sock, exposed.limits["keep_alive_s"] + MARGIN_S)
    assert closed and status_of(reply) == 200 and b"alive" in reply


def test_a_huge_header_and_too_many_headers_get_431(exposed):
    big = b"GET /live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n"
    many = b"GET /live HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(1000)) + b"\r\n"
    long_url = b"GET /live?" + b"q" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    for request in (big, many, long_url):
        with connect(exposed.port) as sock:
            with contextlib.suppress(OSError):  # the server may close before reading the whole bomb: it answered
                sock.sendall(request)
            reply, closed = read_until_closed(sock, MARGIN_S)
        assert closed and status_of(reply) == 431, reply[:300]
        assert json.loads(body_of(reply))["error"]["code"] == "headers_too_large"
    assert httpx.get(exposed.url + "/live").status_code == 200
    assert "(refused: headers_too_large from 127.0.0.1) 431" in exposed.log()  # an access line for each refusal


def test_connections_beyond_the_limit_get_503_json_and_the_server_recovers(exposed):
    held = []
    try:
        for _ in range(exposed.limits["max_connections"]):
            held.append(connect(exposed.port))
        with connect(exposed.port) as extra:
            extra.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n")
            reply, closed = read_until_closed(extra, MARGIN_S)
        assert closed and status_of(reply) == 503, reply[:300]
        assert json.loads(body_of(reply))["error"]["code"] == "too_many_connections"
        assert "(refused: too_many_connections from 127.0.0.1) 503" in exposed.log()
    finally:
        for sock in held:
            sock.close()
    for _ in range(100):  # the held connections go; new ones are served again
        if httpx.get(exposed.url + "/live", timeout=30).status_code == 200:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the server did not serve again once connections closed")
