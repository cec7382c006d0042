"""HTTP/1.1 by hand on a loopback socket, for what a well-behaved client never does (slow, huge or half requests),
and what a server process holds: its resident memory and the bytes it has read."""

from __future__ import annotations

import socket
import time
from pathlib import Path


def connect(port: int, timeout: float = 30.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket, within_s: float, limit: int = 1 << 20) -> tuple[bytes, bool]:
    """What the server sends until it closes the connection, at most ``limit`` bytes; and whether it closed
    within ``within_s`` seconds."""
    received = b""
    deadline = time.monotonic() + within_s
    while len(received) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return received, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return received, False
        except ConnectionResetError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def status_of(reply: bytes) -> int:
    """The status code of a raw HTTP answer (0 when there is none)."""
    parts = reply.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else 0


def body_of(reply: bytes) -> bytes:
    return reply.partition(b"\r\n\r\n")[2]


def rss_mb(pid: int) -> float:
    """The process's resident memory now (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def bytes_read(pid: int) -> int:
    """Bytes the process has read with read(2) and friends (``rchar``), sockets included."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar")
