"""Connect opened on a loopback address: the address Dify and RAGFlow will use, suggestions containers can reach,
the docs' columns, URLs that never break inside a word, and tests that call the server as each client does."""

from __future__ import annotations

import httpx
import pytest
from support.browser import screenshot

from local_server.clients.forms import KEY_NONE, KEY_REQUIRED, rows

pytest.importorskip("playwright")
from playwright.sync_api import expect


def served(server) -> dict[str, str]:
    models = httpx.get(server.url + "/health", headers=server.headers(), timeout=30).json()["models"]
    return {m["type"]: m["name"] for m in models}


def test_connect_on_loopback_offers_container_addresses_and_the_docs_columns(server, new_page):
    page = new_page()
    page.goto(f"{server.url}/ui/#connect")  # the test server: 127.0.0.1, bound to 127.0.0.1
    expect(page.locator("#panel-connect")).to_have_attribute("data-state", "done")
    expect(page.locator("#connect-address")).to_have_value(server.url)
    expect(page.locator("#connect-loopback")).to_be_visible()
    expect(page.locator("#connect-listen-loopback")).to_be_visible()  # --host 127.0.0.1: nothing else reaches it
    suggestions = page.locator("#connect-suggestions li")
    kinds = [li.get_attribute("data-kind") for li in suggestions.all()]
    assert "docker-host" in kinds and "compose" in kinds
    port = server.url.rsplit(":", 1)[1]
    docker = f"http://host.docker.internal:{port}"
    expect(page.locator("#connect-suggestions li[data-kind='compose'] button")).to_have_attribute(
        "data-url", "http://bge-local:8000")
    for button in page.locator("#connect-suggestions li[data-kind='lan'] button").all():
        url = button.get_attribute("data-url")
        assert url.endswith(f":{port}") and not url.startswith("http://127."), url

    page.click("#connect-suggestions li[data-kind='docker-host'] button")
    expect(page.locator("#panel-connect")).to_have_attribute("data-address", docker)
    expect(page.locator("#connect-address")).to_have_value(docker)
    expect(page.locator("#connect-loopback")).to_be_hidden()
    expect(page.locator("#connect-tests-via")).to_be_visible()

    table = rows(docker, served(server))
    shown = page.locator("tr.connect-row")
    expect(shown).to_have_count(len(table))
    for row, paste in zip(shown.all(), table, strict=True):
        cells = row.locator("td")
        expect(cells.nth(2)).to_have_text(paste.field)
        if paste.url is None:
            continue
        expect(row.locator("td.value code.url")).to_have_text(paste.url)
        expect(cells.nth(4)).to_have_text(paste.model)
        key = cells.nth(5)  # a server without a key: x where the form refuses an empty field, else empty
        if paste.key == KEY_REQUIRED:
            expect(key.locator("code")).to_have_text("x")
        else:
            expect(key).to_have_text("leave empty")
        assert paste.key != KEY_NONE or "sends no API key" in row.locator("td.note").inner_text()

    # URLs wrap only after a '/': never "http://bge-box:18 / 251"
    breaks = page.evaluate("""() => [...document.querySelectorAll('code.url')].flatMap(code =>
        [...code.querySelectorAll('wbr')].map(w => (w.previousSibling?.textContent || '').slice(-1)))""")
    assert breaks and set(breaks) == {"/"}, set(breaks)
    assert page.eval_on_selector("td.value code.url", "c => getComputedStyle(c).wordBreak") != "break-all"

    # Every test passes from this browser although the values name host.docker.internal: the calls go to the
    # address the browser reaches, with the paths the client uses — Dify's TEI rerank at its per-model URL, Dify's
    # Ollama rerank at /api/rerank.
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    tei = page.locator("tr.connect-row[data-app='Dify'][data-provider='Text Embedding Inference']"
                       "[data-model-type='rerank']")
    tei.locator(".test-button").click()
    expect(tei.locator(".test-result")).to_have_attribute("data-ok", "true")
    model = served(server)["reranker"]
    assert f"{server.url}/models/{model}/rerank" in requests and f"{server.url}/rerank" not in requests, requests
    ollama = page.locator("tr.connect-row[data-app='Dify'][data-provider='Ollama'][data-model-type='rerank']")
    requests.clear()
    ollama.locator(".test-button").click()
    expect(ollama.locator(".test-result")).to_have_attribute("data-ok", "true")
    assert requests == [f"{server.url}/api/rerank"], requests  # Dify's Ollama plugin's path, nothing else
    assert not [u for u in requests if "host.docker.internal" in u]
    page.click("#connect-test-all")
    done = ".test-result[data-ok='true'], .test-result[data-ok='false'], .test-result[data-ok='skip']"
    expect(page.locator(done)).to_have_count(page.locator("tr.connect-row .test-button").count())
    expect(page.locator(".test-result[data-ok='false']")).to_have_count(0)
    screenshot(page, "connect-loopback")


def test_a_typed_address_is_normalised_and_a_bad_one_refused(server, new_page):
    page = new_page()
    page.goto(f"{server.url}/ui/#connect")
    expect(page.locator("#panel-connect")).to_have_attribute("data-state", "done")
    page.fill("#connect-address", "bge-box:18251/")
    page.press("#connect-address", "Enter")
    expect(page.locator("#panel-connect")).to_have_attribute("data-address", "http://bge-box:18251")
    first = rows("http://bge-box:18251", served(server))[0]
    expect(page.locator("tr.connect-row td.value code.url").first).to_have_text(first.url)
    page.fill("#connect-address", "ftp://nope")
    page.press("#connect-address", "Enter")
    expect(page.locator("#connect-address-invalid")).to_be_visible()
    expect(page.locator("#panel-connect")).to_have_attribute("data-address", "http://bge-box:18251")
