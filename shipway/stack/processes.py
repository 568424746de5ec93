"""Detached child processes of the local stack: start in their own session with a log file,
track them by pid file, stop them with SIGTERM then SIGKILL.

A pid file holds JSON ``{"pid": int, "create_time": float, "argv": [...]}``; the process
creation time guards against a recycled pid being mistaken for ours.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil


def spawn(argv: Sequence[str], log_file: Path, pid_file: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start ``argv`` detached: new session (so terminal signals and our exit do not reach it),
    stdin from /dev/null, stdout+stderr appended to ``log_file``; writes ``pid_file``.

    Returns:
        The child's pid.

    Raises:
        OSError: the executable cannot be started.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    create_time = psutil.Process(proc.pid).create_time()
    pid_file.write_text(json.dumps({"pid": proc.pid, "create_time": create_time, "argv": list(argv)}))
    return proc.pid


def running_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that very process is still alive (not a zombie), else None."""
    try:
        record = json.loads(pid_file.read_text())
        proc = psutil.Process(record["pid"])
        if abs(proc.create_time() - record["create_time"]) > 0.01 or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.pid
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError, psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def exited_early(pid: int) -> int | None:
    """Exit code if our child ``pid`` has already exited (reaping it), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None if psutil.pid_exists(pid) else -1
    return os.waitstatus_to_exitcode(status) if done else None


def stop(pid_file: Path, timeout_s: float = 15.0) -> bool:
    """Stop the process recorded in ``pid_file`` and its descendants: SIGTERM, wait up to
    ``timeout_s`` seconds, then SIGKILL. Removes the pid file.

    Returns:
        True when a running process was stopped, False when none was running.
    """
    pid = running_pid(pid_file)
    pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    procs = _group(pid)
    for proc in procs:
        _signal(proc, signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=timeout_s)
    for proc in alive:
        _signal(proc, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=5)
    return True


def _group(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (e.g. Streamlit's or uvicorn's children)."""
    leader = psutil.Process(pid)
    members = [leader]
    try:
        members += leader.children(recursive=True)
    except psutil.NoSuchProcess:
        pass
    return members


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.NoSuchProcess:
        pass


def wait_until(predicate, timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll ``predicate()`` until it returns truthy or ``timeout_s`` seconds pass; True if it did."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())
