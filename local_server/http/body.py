"""Each JSON request body parsed once, by orjson, after the key was checked, and off the event loop when large.

``CancelOnDisconnect`` (middleware.py) reads a POST's body whole, hands it to ``parse_body`` and keeps the value
in the ASGI scope; the routes' ``ParsedBodyRoute`` gives that value to FastAPI, which would otherwise parse
the body a second time with Python's ``json`` module, on the event loop (about 15x orjson's memory and time).

orjson also refuses text that is not valid Unicode (a lone UTF-16 surrogate, ``"\\ud800"`` or its raw UTF-8
bytes), which Python's reader would let through to fail deep in the tokenizer. Only a body orjson refuses for
a surrogate is read again, to name the field, and only when it is small (``NAMED_BELOW``): the cost of a bad
body stays bounded whatever its size. orjson also refuses ``NaN`` and ``Infinity``, which are not JSON.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import Request
from fastapi.routing import APIRoute

from local_server.http.errors import BadRequest, PayloadTooLarge
from local_server.http.unicode_check import invalid_text_path

PARSED_KEY = "bge_local.json_body"  # the parsed body in the ASGI scope
OFF_LOOP_FROM = 256 * 1024  # bytes: larger bodies are parsed in a worker thread
NAMED_BELOW = 1024 * 1024  # bytes: a smaller body with invalid Unicode gets the field named


def more_strings_than(body: bytes, limit: int) -> bool:
    """Whether a JSON body holds more than ``limit`` strings (keys included), from its quote characters:
    unescaped quotes only ever delimit strings. A scan of the bytes, no parse; a second one only when the first
    count is over the limit (escaped quotes are not delimiters)."""
    quotes = body.count(b'"')
    return quotes > 2 * limit and (quotes - body.count(b'\\"')) > 2 * limit


def parse_json(body: bytes, max_strings: int | None = None) -> Any:
    """The value of a JSON body; ``BadRequest`` saying what is wrong with it otherwise, ``PayloadTooLarge`` when
    it holds more than ``max_strings`` strings (millions of tiny strings cost seconds of parsing, all holding
    Python's GIL, so no thread can hide them from the other clients)."""
    if max_strings is not None and len(body) > max_strings * 2 and more_strings_than(body, max_strings):
        raise PayloadTooLarge(f"the request body holds more than {max_strings} strings, more than any request "
                              "this server takes (8 per input or document allowed by --max-client-batch-size and "
                              "--max-rerank-documents)", code="too_many_strings")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        error = exc
    if "surrogate" in error.msg:
        where = invalid_text_path(body) if len(body) < NAMED_BELOW else f"the text at byte {error.pos}"
        if where is not None:
            raise BadRequest(f"'{where}' is not valid Unicode text: it holds a lone UTF-16 surrogate (such as "
                             "\\ud800), which no real text contains; send the text as valid UTF-8",
                             code="invalid_unicode")
    if "UTF-8" in error.msg:
        raise BadRequest("the request body is not valid JSON: it must be a UTF-8 encoded JSON object")
    raise BadRequest(f"the request body is not valid JSON ({error.msg} at line {error.lineno}, column "
                     f"{error.colno}); send Content-Type: application/json and a JSON object")


async def parse_body(body: bytes, max_strings: int | None = None) -> Any:
    """``parse_json``, in a worker thread when the body is large enough to hold up the event loop."""
    if len(body) < OFF_LOOP_FROM:
        return parse_json(body)
    return await asyncio.to_thread(parse_json, body, max_strings)


class _ParsedBodyRequest(Request):
    async def json(self) -> Any:
        if PARSED_KEY in self.scope:
            return self.scope[PARSED_KEY]
        return await super().json()


class ParsedBodyRoute(APIRoute):
    """An APIRoute whose request's ``json()`` is the body the middleware parsed (FastAPI's documented way to
    customise the request a route reads)."""

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()

        async def with_parsed_body(request: Request) -> Any:
            return await handler(_ParsedBodyRequest(request.scope, request.receive))

        return with_parsed_body
