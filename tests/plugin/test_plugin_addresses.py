"""Which addresses the plugin connects to (provider/client/addresses.py) and which redirects it follows
(provider/client/transport.py), loaded from their files: no Dify SDK in this process. Numeric hosts resolve
without DNS; names are resolved by a stand-in resolver, so nothing here leaves the machine."""

from __future__ import annotations

import socket

import httpx
import pytest
from plugin_files import plugin_module

addresses = plugin_module("addresses")
transport = plugin_module("transport")


@pytest.fixture(autouse=True)
def _no_admin_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(addresses.ALLOW_ENV, raising=False)


@pytest.mark.parametrize("host", [
    "169.254.169.254", "169.254.170.2", "169.254.0.1", "fe80::1", "fe80::1%eth0", "fd00:ec2::254",
    "::ffff:169.254.169.254", "::169.254.169.254", "64:ff9b::a9fe:a9fe", "100.100.100.200", "168.63.129.16",
    "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518",  # 169.254.169.254, other spellings
    "metadata.google.internal", "METADATA.google.internal.", "metadata", "instance-data",
])
def test_refused(host: str) -> None:
    with pytest.raises(addresses.Refused):
        addresses.checked(host, 80)


@pytest.mark.parametrize("host", [
    "127.0.0.1", "::1", "localhost", "10.0.0.5", "172.17.0.1", "192.168.1.20", "100.64.0.1", "fd12:3456::1",
    "8.8.8.8", "169.253.255.255", "169.255.0.1",
])
def test_lan_loopback_and_public_addresses_are_allowed(host: str) -> None:
    assert addresses.checked(host, 80)


def test_every_address_a_name_resolves_to_is_checked() -> None:
    def resolver(answers: list[str]):
        return lambda host, port: [(socket.AF_INET6 if ":" in a else socket.AF_INET, a) for a in answers]

    assert addresses.checked("gpu-box.lan", 8000, resolver(["192.168.1.9", "fd12::9"]))
    for answers in (["169.254.169.254"], ["192.168.1.9", "169.254.169.254"], ["10.0.0.1", "fe80::5"]):
        with pytest.raises(addresses.Refused, match="resolves to"):
            addresses.checked("rebound.example", 8000, resolver(answers))


def test_an_unknown_name_is_not_refused_but_unresolvable() -> None:
    def unknown(host: str, port: int):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(socket.gaierror):
        addresses.checked("no-such-host.invalid", 80, unknown)


def test_the_administrator_can_allow_link_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(addresses.ALLOW_ENV, "true")
    assert addresses.checked("169.254.10.20", 8000)
    assert addresses.checked("metadata.google.internal", 80, lambda h, p: [(socket.AF_INET, "169.254.169.254")])


@pytest.mark.parametrize(("source", "target", "same"), [
    ("http://gpu:8000/v1/embeddings", "http://gpu:8000/v1/embeddings/", True),
    ("http://gpu:8000/embed", "http://GPU:8000/v1/embed", True),
    ("http://gpu/v1/rerank", "https://gpu/v1/rerank", True),  # the upgrade to https on the same host
    ("http://gpu:80/v1/rerank", "https://gpu:443/v1/rerank", True),
    ("https://gpu/v1", "http://gpu/v1", False),  # never a downgrade
    ("http://gpu:8000/v1", "https://gpu:8000/v1", False),
    ("http://gpu:8000/v1", "http://gpu:8001/v1", False),
    ("http://gpu:8000/v1", "http://other:8000/v1", False),
    ("http://gpu/v1", "http://169.254.169.254/latest", False),
])
def test_redirects_are_followed_within_the_same_server_only(source: str, target: str, same: bool) -> None:
    assert transport.same_server(httpx.URL(source), httpx.URL(target)) is same
