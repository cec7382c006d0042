"""Addresses of this machine that containers can reach, for the console's Connect panel.

Opened on a loopback address (``127.0.0.1``, ``localhost``), the console would offer URLs that Dify and RAGFlow
running in Docker cannot reach: inside a container 127.0.0.1 is the container itself. The panel suggests
instead what this module reports — the host's LAN addresses (no packet is sent to find them: a UDP socket's
``connect`` only picks the outgoing interface) — next to ``host.docker.internal`` and the compose service
name, which the page knows itself. Whether the server listens on every interface decides whether a LAN
address can work at all, so that is reported too.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket

from local_server.loopback import is_loopback_host

COMPOSE_SERVICE = "bge-local"  # docker-compose.yml's service name: the host name on the compose network
COMPOSE_PORT = 8000  # the port inside the container


def _usable(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.version == 4 and not (ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast)


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback: the outgoing interface's first, then the host name's."""
    found: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # UDP: nothing is sent; this only selects a route
        found.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        found += socket.gethostbyname_ex(socket.gethostname())[2]
    return [a for i, a in enumerate(found) if _usable(a) and a not in found[:i]]


def reachability(host: str, port: int) -> dict[str, object]:
    """What the Connect panel needs to suggest container-reachable addresses for a server bound to host:port."""
    return {
        "listen_host": host,
        "listen_port": port,
        "listens_on_loopback_only": is_loopback_host(host),
        "lan_addresses": lan_addresses(),
        "compose_service": f"http://{COMPOSE_SERVICE}:{COMPOSE_PORT}",
    }
