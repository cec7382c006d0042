"""Adversarial sweep: property-based JSON bodies for every field of every POST route, against the real server.

The routes and their fields come from the server's own OpenAPI schema, so a new route or field is swept
without touching this file. Values are what a broken or hostile client sends: invalid Unicode (lone
surrogates, written as raw ``\\ud800`` JSON escapes), huge and negative numbers, NaN and infinities, wrong
types, deep nesting, enormous arrays and long strings (the body stays bounded). Each request must get an
answer below 500 within the client timeout, and the server must be healthy afterwards.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TIMEOUT = 60.0  # no single request may take longer: a hang fails the sweep
EXAMPLES = 300  # over every route; about a minute on 2 shared CPU cores with the tiny models


@dataclass(frozen=True)
class Deep:
    """``inner`` wrapped in ``depth`` arrays; written by ``to_json`` (``json.dumps`` would recurse too deep)."""

    depth: int
    inner: Any


def to_json(value: Any, escaped: bool = True) -> str:
    """JSON text. ``escaped``: every non-ASCII character as a ``\\uXXXX`` escape, so a lone surrogate reaches
    the server as the escape ``\\ud800`` (valid JSON syntax, invalid Unicode); otherwise characters are written
    as they are (a surrogate then becomes bytes that are not UTF-8)."""
    if isinstance(value, Deep):
        return "[" * value.depth + to_json(value.inner, escaped) + "]" * value.depth
    if isinstance(value, dict):
        return "{" + ",".join(f"{to_json(str(k), escaped)}:{to_json(v, escaped)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v, escaped) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")  # what json.dumps writes
    return json.dumps(value, ensure_ascii=escaped)


# st.text never yields surrogates (category Cs), whatever its alphabet: join characters instead.
any_char = st.characters() | st.characters(categories=["Cs"])
short_text = st.text(max_size=24) | st.lists(any_char, max_size=24).map("".join)
long_text = st.builds(lambda word, n: (word or "w") * n, short_text, st.integers(1, 30_000))
numbers = (
    st.integers(-(2**70), 2**70)
    | st.sampled_from([-1, 0, 1, 2, 2**31, 2**63, -(2**63), 10**30, -(10**30)])
    | st.floats(allow_nan=True, allow_infinity=True)
)
scalars = st.none() | st.booleans() | numbers | short_text
nested = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(short_text, inner, max_size=4), max_leaves=12)
deep = st.builds(Deep, st.integers(1, 20_000), scalars)
enormous = st.builds(lambda item, n: [item] * n, st.none() | st.booleans() | st.integers(-5, 5)
                     | short_text, st.integers(0, 6_000))
text_lists = st.lists(short_text | long_text, min_size=1, max_size=6)
documents = st.lists(short_text | st.fixed_dictionaries({"text": short_text}) | nested, min_size=1, max_size=6)
values = scalars | long_text | nested | deep | enormous | text_lists | documents


def plausible(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the field's declared type (its strings still carry invalid Unicode), so that most requests
    get past validation and reach the engine."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:  # null is among the adversarial values already
        return st.one_of([plausible(part) for part in schema["anyOf"] if part.get("type") != "null"])
    kind = schema.get("type")
    if kind == "array":
        return st.lists(plausible(schema.get("items", {})), min_size=1, max_size=6)
    by_type: dict[str, st.SearchStrategy[Any]] = {
        "string": short_text | long_text, "integer": st.integers(-3, 9000) | numbers, "number": numbers,
        "boolean": st.booleans(), "null": st.none()}
    return by_type.get(kind, documents) if kind else documents


def field_value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Mostly a value of the declared type, one time in four anything at all."""
    return st.sampled_from(range(4)).flatmap(lambda pick: values if pick == 0 else plausible(schema))


# A well-formed body per route: the sweep starts from it and changes a few fields, so that most requests get
# past validation and their adversarial values reach the engine.
VALID = {
    "/v1/embeddings": {"input": ["a text"]},
    "/embed": {"inputs": "a text"},
    "/embed_sparse": {"inputs": "a text"},
    "/v1/rerank": {"query": "a query", "documents": ["a document"]},
    "/score": {"text_1": "a query", "text_2": ["a document"]},
    "/tokenize": {"prompt": "a text"},
    "/detokenize": {"tokens": [1, 2]},
    "/v1/embed": {"texts": ["a text"]},
    "/v2/embed": {"texts": ["a text"], "input_type": "search_document", "embedding_types": ["float"]},
    "/api/embed": {"input": ["a text"]},
    "/api/embeddings": {"prompt": "a text"},
    "/api/show": {"model": "bge-m3"},
}


def post_routes(openapi: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, body schema) for every POST route with a JSON body."""
    schemas = openapi["components"]["schemas"]
    routes = []
    for path, operations in openapi["paths"].items():
        body = operations.get("post", {}).get("requestBody")
        if body is None:
            continue
        routes.append((path, resolve(body["content"]["application/json"]["schema"], schemas)))
    return routes


def resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """A body schema with its reference followed; a body of several shapes (``anyOf``) has all their fields."""
    if "$ref" in schema:
        return schemas[schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        shapes = [resolve(s, schemas) for s in schema["anyOf"]]
        return {"properties": {k: v for shape in shapes for k, v in shape.get("properties", {}).items()}}
    return schema


@st.composite
def requests(draw: st.DrawFn, routes: list[tuple[str, dict[str, Any]]]) -> tuple[str, bytes]:
    path, schema = draw(st.sampled_from(routes))
    escaped = draw(st.sampled_from(range(10))) > 0
    if draw(st.sampled_from(range(10))) == 0:  # a body that is not an object at all
        return path, to_json(draw(values), escaped).encode("utf-8", "surrogatepass")
    fields = schema.get("properties", {})
    body = dict(VALID[path])
    for name in draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=3, unique=True)):
        if draw(st.sampled_from(range(10))) == 0:
            body.pop(name, None)
        else:
            body[name] = draw(field_value(fields[name]))
    if draw(st.booleans()):
        body[draw(short_text)] = draw(scalars)  # an unknown field
    return path, to_json(body, escaped).encode("utf-8", "surrogatepass")


def test_adversarial_bodies_never_get_a_server_error(server):
    openapi = httpx.get(server.url + "/openapi.json").json()
    routes = post_routes(openapi)
    missing = {path for path, _ in routes} - set(VALID)
    assert not missing, f"add a well-formed body for {missing} to VALID"

    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(requests(routes))
        def sweep(request: tuple[str, bytes]) -> None:
            path, body = request
            response = client.post(path, content=body,
                                   headers={"content-type": "application/json"})
            assert response.status_code < 500, f"{path} {body[:300]!r} -> {response.status_code} {response.text}"
            if response.status_code >= 400:
                error = response.json()["error"]
                assert error["message"] and error["type"] and error["code"], response.text

        sweep()

    assert httpx.get(server.url + "/health").status_code == 200
    after = httpx.post(server.url + "/v1/embeddings", json={"input": "still serving"})
    assert after.status_code == 200 and after.json()["data"][0]["embedding"]
