"""Gateway processes for tests that need several real processes (shared rate limits) or a real HTTP
server (the fuzzer): ``uvicorn`` on free loopback ports, each logging to its own file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from shipway.stack.ports import free_port

REPO = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def gateway_processes(count: int, env: dict[str, str], logs: Path) -> AsyncIterator[list[str]]:
    """``count`` gateway processes (uvicorn) with ``env`` on top of this process's environment, the
    i-th logging to ``logs/gateway{i}.log``; yields their base URLs once each answers ``/healthz``
    (within 30 s); stops them on exit."""
    procs: list[tuple[subprocess.Popen, str, Path]] = []
    try:
        for i in range(count):
            port, log = free_port(), logs / f"gateway{i}.log"
            with log.open("wb") as out:  # the child keeps its own copy of the descriptor
                proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "shipway.gateway.app:create_app",
                                         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                                        cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
            procs.append((proc, f"http://127.0.0.1:{port}", log))
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(timeout=2) as http:
            for proc, url, log in procs:
                while True:
                    assert proc.poll() is None, f"gateway exited: {log.read_text()[-2000:]}"
                    assert time.monotonic() < deadline, f"gateway not healthy in 30 s: {log.read_text()[-2000:]}"
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"{url}/healthz")).status_code == 200:
                            break
                    await asyncio.sleep(0.2)
        yield [url for _, url, _ in procs]
    finally:
        for proc, _, _ in procs:
            proc.terminate()
        for proc, _, _ in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
