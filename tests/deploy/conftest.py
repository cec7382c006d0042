"""Fixtures for the deployment tests: repository paths, and a guard that keeps sockets on loopback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from support.server import free_port

from local_server.loopback import is_loopback_host

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo_root() -> Path:
    return REPO


def _is_loopback(address) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX
        return True
    return is_loopback_host(address[0])


@pytest.fixture
def loopback_only(monkeypatch):
    """Fail any connection to a non-loopback address (a test must never reach a model hub)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(self, address):
        if not _is_loopback(address):
            raise AssertionError(f"test tried to connect to {address!r}: only 127.0.0.1 is allowed")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not _is_loopback(address):
            raise AssertionError(f"test tried to connect to {address!r}: only 127.0.0.1 is allowed")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()
