"""Run ``langgraph dev`` (in-memory runtime) on a free port for the length of a ``with`` block.

The server serves :mod:`bench.langgraph_server.credit_graph` as declared in ``langgraph.json``
next to this file, from that directory (the server resolves graph paths and keeps its state,
``.langgraph_api/``, relative to its working directory). It runs in its own session, so a Ctrl-C
in the terminal reaches only the bench, which then stops the server itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from shipway.stack.ports import free_port

SERVER_DIR = Path(__file__).resolve().parent
GRAPH_ID = "credit-underwriting"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
# no calls home: CLI analytics, the PyPI version check, LangSmith tracing
_QUIET_ENV = {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "true",
              "LANGSMITH_TRACING": "false", "LANGCHAIN_TRACING_V2": "false"}


class ServerStartError(RuntimeError):
    """``langgraph dev`` exited or did not answer ``/ok`` in time; the message ends with its log's tail."""


def _log_tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL if it outlives ``STOP_TIMEOUT_S``."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def langgraph_dev(bin_dir: Path, jobs_per_worker: int | None = None) -> Iterator[str]:
    """Start ``langgraph dev --no-browser --no-reload`` from the overlay venv and yield its base URL
    (``http://127.0.0.1:<port>``) once ``GET /ok`` answers 200; stop it when the block ends, also on
    an exception or Ctrl-C.

    Args:
        bin_dir: the overlay venv's ``bin`` (:func:`bench.langgraph_server.overlay.ensure_overlay`).
        jobs_per_worker: ``--n-jobs-per-worker`` (runs the server executes at once); None leaves the
            server's own default.

    Raises:
        ServerStartError: the server exited before answering, or did not answer in ``READY_TIMEOUT_S`` s.
    """
    port = free_port()
    cmd = [str(bin_dir / "langgraph"), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
           "--port", str(port), "--config", "langgraph.json", "--server-log-level", "warning"]
    if jobs_per_worker is not None:
        cmd += ["--n-jobs-per-worker", str(jobs_per_worker)]
    with tempfile.TemporaryDirectory(prefix="langgraph-dev-") as tmp:
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(cmd, cwd=SERVER_DIR, stdout=log, stderr=subprocess.STDOUT,
                                    env={**os.environ, **_QUIET_ENV}, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(proc, url, log_path)
            yield url
        finally:
            _stop(proc)


def worker_slots(url: str) -> int | None:
    """How many runs the server at ``url`` executes at once (its queue workers, from
    ``GET /metrics?format=json``); None when it does not say.

    Raises:
        httpx.HTTPError: the server did not answer.
    """
    r = httpx.get(f"{url}/metrics", params={"format": "json"}, timeout=10)
    r.raise_for_status()
    return r.json().get("workers", {}).get("max")


def _wait_ready(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerStartError(f"langgraph dev exited with code {proc.returncode}:\n{_log_tail(log_path)}")
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.5)
    raise ServerStartError(f"langgraph dev did not answer {url}/ok within {READY_TIMEOUT_S:.0f} s:\n{_log_tail(log_path)}")
