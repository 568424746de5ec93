"""TCP port checks for the local stack: is a port free, pick a free one."""

from __future__ import annotations

import socket


class PortInUseError(RuntimeError):
    """A configured port is taken by another process. ``port`` is the TCP port number."""

    def __init__(self, component: str, port: int, host: str = "127.0.0.1") -> None:
        super().__init__(
            f"{component}: port {port} on {host} is already in use by another process; "
            f"free it, configure another port, or let Shipway pick free ports (--free-ports)"
        )
        self.component = component
        self.port = port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` (checked by binding it, as a server would).

    SO_REUSEADDR is set like servers do, so a port left in TIME_WAIT counts as free.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1", avoid: set[int] | None = None) -> int:
    """A TCP port the kernel reports free on ``host`` (ephemeral range), not in ``avoid``.

    The port is released before returning, so another process may still take it; callers
    start their server right away.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if not avoid or port not in avoid:
            return port


def choose_port(component: str, wanted: int, pick_free: bool, host: str = "127.0.0.1", avoid: set[int] | None = None) -> int:
    """``wanted`` if it is free; otherwise a free port when ``pick_free``.

    Raises:
        PortInUseError: ``wanted`` is taken and ``pick_free`` is False.
    """
    if port_is_free(wanted, host) and not (avoid and wanted in avoid):
        return wanted
    if not pick_free:
        raise PortInUseError(component, wanted, host)
    return free_port(host, avoid)


def port_is_listening(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
