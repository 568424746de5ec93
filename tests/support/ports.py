"""Ports for a test stack that stops and starts again on the same ports."""

from __future__ import annotations

import random
from pathlib import Path

from shipway.stack.ports import port_is_free

# Linux's default ephemeral range, when /proc does not say
_EPHEMERAL_DEFAULT = (32768, 60999)
_LOWEST = 20000


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return _EPHEMERAL_DEFAULT


def restartable_port(avoid: set[int] | None = None) -> int:
    """A free TCP port on 127.0.0.1 below the kernel's ephemeral range (20000 up to it).

    A port :func:`shipway.stack.ports.free_port` gives is an ephemeral one: once a stack's ``down``
    releases it, the kernel may hand it to any other process (a connection's local port, another
    server binding port 0) before the stack's ``up`` wants it back. Seen in a fresh run: the
    Temporal UI's port taken between ``down`` and ``up``. Ports below that range are only ever
    taken by name.
    """
    low = _ephemeral_range()[0]
    if low <= _LOWEST + 100:
        raise RuntimeError(f"the ephemeral port range starts at {low}: no room below it")
    while True:
        port = random.randrange(_LOWEST, low)
        if (not avoid or port not in avoid) and port_is_free(port, "127.0.0.1"):
            return port
