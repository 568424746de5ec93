"""Extra worker processes for the ``shipway-agents`` task queue, started by ``shipway worker``.

One Python process runs its workflows and activities on one core (the GIL). Measured on this
2-core machine (Credit Underwriting through the gateway, 20 runs in flight): one worker process
saturated a core at 18 runs/s; a second process polling ``shipway-agents`` took it to 26 runs/s
(docs/performance.md, docs/scaling.md). Each extra process is a child of the ``shipway worker``
that started it: it dies with it (``PR_SET_PDEATHSIG``) and ``shipway down`` stops it with its
parent. Children serve no ``/metrics`` of their own (the ports are the parent's).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Sequence

from shipway.settings import AGENTS_TASK_QUEUE

PR_SET_PDEATHSIG = 1  # linux/prctl.h
# the parent's metrics ports: a child binding them would fail to start
_PARENT_ONLY_ENV = ("SHIPWAY_WORKER_METRICS_PORT", "SHIPWAY_TEMPORAL_METRICS_PORT")


def default_agent_processes(cpus: int | None = None) -> int:
    """Extra agent worker processes when the setting is unset: one per core beyond the first, at most 3."""
    return max(0, min((cpus or os.cpu_count() or 1) - 1, 3))


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_agent_workers(command: Sequence[str], count: int) -> list[subprocess.Popen]:
    """Start ``count`` processes of ``command`` + ``worker --queue shipway-agents --agent-processes 0``,
    sharing this process's stdout/stderr, each terminated when this process dies.

    Args:
        command: argv prefix that runs the ``shipway`` CLI.
        count: how many (0: none).
    """
    env = {k: v for k, v in os.environ.items() if k not in _PARENT_ONLY_ENV}
    argv = [*command, "worker", "--queue", AGENTS_TASK_QUEUE, "--agent-processes", "0"]
    return [subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent) for _ in range(count)]


def stop_agent_workers(procs: Sequence[subprocess.Popen], timeout_s: float = 15.0) -> None:
    """SIGTERM each child, wait up to ``timeout_s`` seconds in all, then SIGKILL what is left."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
