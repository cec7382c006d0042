"""The plugin as a way into the plugin daemon's network, closed: driven over Dify's stdio protocol, it follows no
redirect to another server, connects to no link-local or metadata address, and shows the Dify user no foreign
body — only a status and a short, sanitized reason.

Every server here is on 127.0.0.1; "another server" is another loopback port. The metadata addresses are refused
before any connection is made, so no packet leaves the machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from plugin_harness import PluginError, PluginProcess
from scripted_server import Answer, Got, ScriptedServer, forward
from test_plugin_stdio import EMB, RR, TEXTS, assert_clear_failure, same_vectors, server_embeddings

SECRET = "SECRET-7f3a"  # what an internal service would answer; must never reach the Dify user


@pytest.fixture
def scripted() -> Iterator:
    servers: list[ScriptedServer] = []

    def make(script) -> ScriptedServer:
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def internal_service(got: Got) -> Answer:
    body = json.dumps({"error": {"message": f"credentials: {SECRET}"}, "AccessKeyId": SECRET}).encode()
    return Answer(200, body, {"Content-Type": "application/json"})


# ---- redirects -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_server_is_not_followed(plugin: PluginProcess, scripted, status: int) -> None:
    internal = scripted(internal_service)
    pasted = scripted(lambda got: Answer(status, b"", {"Location": internal.url + got.path}))
    creds = {"server_url": pasted.url, "max_retries": "2"}
    with pytest.raises(PluginError) as e:
        plugin.validate_model("text-embedding", EMB, creds)
    assert e.value.error_type == "CredentialsValidateFailedError"
    assert_clear_failure(e.value, plugin, "redirected the request to another server", internal.url,
                         "same server")
    with pytest.raises(PluginError) as e:
        plugin.rerank(RR, creds, "q", ["a", "b"], top_n=1)
    assert e.value.error_type == "InvokeBadRequestError"
    assert SECRET not in e.value.message
    assert internal.got == []  # never reached
    assert len(pasted.got) == 2  # one request per call: neither retried nor tried on other paths


@pytest.mark.parametrize("absolute", [False, True])
def test_a_redirect_within_the_same_server_is_followed(plugin: PluginProcess, server, scripted,
                                                       absolute: bool) -> None:
    """A trailing-slash redirect (a reverse proxy's habit) on the same scheme, host and port is followed."""
    upstream = forward(server.url)
    holder: list[ScriptedServer] = []

    def slash(got: Got) -> Answer:
        if got.path == "/v1/embeddings":
            where = (holder[0].url if absolute else "") + "/v1/embeddings/"
            return Answer(307, b"", {"Location": where})
        return upstream(got)

    proxy = scripted(slash)
    holder.append(proxy)
    got = plugin.embed(EMB, {"server_url": proxy.url}, TEXTS)
    assert same_vectors(got["embeddings"], server_embeddings(server.url, TEXTS)[0])
    assert [(g.method, g.path) for g in proxy.got] == [("POST", "/v1/embeddings"), ("POST", "/v1/embeddings/")]
    assert proxy.got[1].body == proxy.got[0].body  # 307 keeps the method and the body


def test_a_redirect_loop_on_the_same_server_ends(plugin: PluginProcess, scripted) -> None:
    loop = scripted(lambda got: Answer(308, b"", {"Location": got.path}))
    with pytest.raises(PluginError) as e:
        plugin.embed(EMB, {"server_url": loop.url + "/v1/embeddings", "max_retries": "2"}, TEXTS[:1])
    assert e.value.error_type == "InvokeBadRequestError"
    assert_clear_failure(e.value, plugin, "more than 5 redirects")
    assert len(loop.got) == 6  # the request and 5 redirects, then no more


# ---- link-local and metadata addresses -------------------------------------------------------------------------

METADATA_URLS = [
    "http://169.254.169.254",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "169.254.170.2/v2/credentials",  # ECS task credentials, pasted without a scheme
    "http://[fd00:ec2::254]",
    "http://[fe80::1]:8000/v1",
    "http://[::ffff:169.254.169.254]",
    "http://2852039166",  # 169.254.169.254 written as one number
    "http://0xa9fea9fe",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.GOOGLE.INTERNAL./",
    "http://100.100.100.200",
]


@pytest.mark.parametrize("url", METADATA_URLS)
def test_link_local_and_metadata_addresses_are_refused(plugin: PluginProcess, url: str) -> None:
    creds = {"server_url": url, "max_retries": "3"}
    with pytest.raises(PluginError) as e:
        plugin.validate_model("text-embedding", EMB, creds)
    assert e.value.error_type == "CredentialsValidateFailedError"
    assert_clear_failure(e.value, plugin, "stopped a request", "metadata", "enter your server's address")
    assert "Cannot reach" not in e.value.message  # refused, not tried
    with pytest.raises(PluginError) as e:
        plugin.embed(EMB, creds, TEXTS[:1])
    assert e.value.error_type == "InvokeBadRequestError"
    assert plugin.num_tokens(EMB, creds, ["hello world"])[0] > 0  # estimated locally, never asked there


# ---- what the user reads of an error answer --------------------------------------------------------------------


def test_an_html_error_page_is_shown_as_its_status_only(plugin: PluginProcess, scripted) -> None:
    page = ("<!DOCTYPE html><html><head><title>Admin</title></head><body><script>alert(1)</script>"
            f"<pre>Traceback: db password={SECRET}</pre>" + "<p>filler</p>" * 5000 + "</body></html>").encode()
    server = scripted(lambda got: Answer(500, page, {"Content-Type": "text/html"},
                                         reason=f"Oops {SECRET} <b>bold</b>"))
    with pytest.raises(PluginError) as e:
        plugin.embed(EMB, {"server_url": server.url, "max_retries": "0"}, TEXTS[:1])
    assert e.value.error_type == "InvokeServerUnavailableError"
    assert_clear_failure(e.value, plugin, "HTTP 500", "Internal Server Error")
    assert SECRET not in e.value.message and "<" not in e.value.message
    assert len(e.value.message) < 400


def test_plain_text_and_foreign_json_are_not_shown(plugin: PluginProcess, scripted) -> None:
    answers = iter([Answer(400, f"internal detail {SECRET}".encode(), {"Content-Type": "text/plain"}),
                    Answer(422, json.dumps({"rows": [SECRET]}).encode(), {"Content-Type": "application/json"})])
    server = scripted(lambda got: next(answers))
    for _ in range(2):
        with pytest.raises(PluginError) as e:
            plugin.rerank(RR, {"server_url": server.url + "/v1/rerank", "api_dialect": "openai"}, "q", ["a"], 1)
        assert e.value.error_type == "InvokeBadRequestError"
        assert SECRET not in e.value.message
    assert "HTTP 422" in e.value.message and "Unprocessable" in e.value.message


def test_a_servers_own_json_error_is_shown_sanitized_and_bounded(plugin: PluginProcess, scripted) -> None:
    said = "input too long\n\x1b[31m2026-01-01 INFO forged log line\u202e " + "x" * 5000
    body = json.dumps({"error": {"message": said, "type": "invalid_request_error", "code": "too_long"}}).encode()
    server = scripted(lambda got: Answer(400, body, {"Content-Type": "application/json"}))
    with pytest.raises(PluginError) as e:
        plugin.embed(EMB, {"server_url": server.url, "max_retries": "0"}, TEXTS[:1])
    message = e.value.message
    assert_clear_failure(e.value, plugin, "HTTP 400", "input too long 2026-01-01 INFO forged log line x")
    assert not any(c in message for c in "\n\x1b\u202e")
    assert "x" * 200 not in message and len(message) < 400
