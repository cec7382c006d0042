"""Which addresses the plugin connects to: any, except link-local and cloud metadata ones.

A Dify user types the server URL, and the plugin runs inside Dify's plugin daemon. On a cloud machine the metadata
service (169.254.169.254 and friends) answers anyone on the machine with its credentials; a URL that points there,
by address, by name or by a name that resolves there, is refused before any connection is made. Every address a
name resolves to is checked, and the connection then goes to a checked address (``GuardedBackend``), so a DNS
answer that changes between the check and the connection changes nothing.

LAN and loopback addresses stay allowed: self-hosters run the server next to Dify. An administrator whose server
really is on a link-local address sets ``BGE_LOCAL_PLUGIN_ALLOW_LINK_LOCAL=true`` in the plugin's environment (the
Dify user, who only types a URL, cannot).

Standard library only: the tests load this file directly, without the Dify SDK.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable

ALLOW_ENV = "BGE_LOCAL_PLUGIN_ALLOW_LINK_LOCAL"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Link-local ranges (where every cloud's metadata service lives) and the metadata addresses outside them.
BLOCKED_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (ipaddress.ip_network("169.254.0.0/16"), "a link-local address (cloud metadata services live here)"),
    (ipaddress.ip_network("fe80::/10"), "a link-local address"),
    (ipaddress.ip_network("fd00:ec2::254/128"), "the AWS metadata service"),
    (ipaddress.ip_network("100.100.100.200/32"), "the Alibaba Cloud metadata service"),
    (ipaddress.ip_network("168.63.129.16/32"), "the Azure platform endpoint"),
)
# Names of metadata services, refused whatever they resolve to here.
BLOCKED_NAMES = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
    "metadata.azure.com", "metadata.tencentyun.com", "metadata.platformequinix.com",
})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The plugin does not connect to ``host`` (or, with ``redirect``, does not follow a redirect from it);
    ``reason`` says why, for the user."""

    def __init__(self, host: str, reason: str, *, redirect: bool = False):
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason
        self.redirect = redirect


def allowed_by_admin() -> bool:
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _embedded_ipv4(addr: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv6 one that reaches it (``::ffff:a.b.c.d``, ``::a.b.c.d``, NAT64)."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return None
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr in _NAT64 or (int(addr) >> 32 == 0 and int(addr) > 1):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def blocked_reason(address: str) -> str | None:
    """Why ``address`` (an IP, as resolved) is refused, or None when it is allowed."""
    try:
        addr: Address = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) aside
    except ValueError:
        return None
    for candidate in (addr, _embedded_ipv4(addr)):
        if candidate is None:
            continue
        for network, what in BLOCKED_NETWORKS:
            if candidate.version == network.version and candidate in network:
                return f"{address} is {what}"
    return None


def resolve(host: str, port: int) -> list[tuple[int, str]]:
    """(family, address) for each address ``host`` resolves to, in the resolver's order, without repeats."""
    seen: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        item = (int(family), str(sockaddr[0]))
        if item not in seen:
            seen.append(item)
    return seen


def checked(host: str, port: int, resolver: Callable[[str, int], list[tuple[int, str]]] = resolve
            ) -> list[tuple[int, str]]:
    """The addresses of ``host`` to connect to; raises ``Refused`` when any of them (or the name) is refused.

    ``socket.gaierror`` (an unknown name) passes through: the caller reports it as unreachable."""
    name = host.strip("[]").rstrip(".").lower()
    if allowed_by_admin():
        return resolver(name, port)
    if name in BLOCKED_NAMES:
        raise Refused(host, f"{name} is a cloud metadata service")
    addresses = resolver(name, port)
    for _, address in addresses:
        reason = blocked_reason(address)
        if reason is not None:
            if address != name:
                reason = f"it resolves to {reason}"
            raise Refused(host, reason)
    return addresses
