"""PostgreSQL's client programs (``pg_basebackup``, ``pg_verifybackup``, ``pg_combinebackup``) and other
blocking steps run from async activities, heartbeating while they work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio import activity

from shipway.stack.postgres import POSTGRES_BIN_PATH

T = TypeVar("T")
HEARTBEAT_EVERY_S = 5.0


@dataclass(frozen=True)
class ToolRun:
    """How a program ended: exit ``code``, its ``stdout`` and ``stderr`` (text)."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, stripped."""
        return "\n".join(p for p in (self.stdout.strip(), self.stderr.strip()) if p)


def beat(stage: str) -> None:
    """Heartbeat ``stage`` when running inside an activity (the same code runs in tests and benches)."""
    if activity.in_activity():
        activity.heartbeat(stage)


async def _beating(task: asyncio.Future, stage: str) -> Any:
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
        if done:
            return task.result()
        beat(stage)


async def run_tool(name: str, *args: str, stage: str | None = None) -> ToolRun:
    """Run PostgreSQL's program ``name`` (from the embedded server's bin directory) with ``args``,
    heartbeating every few seconds; never raises on a non-zero exit (the caller reads ``code``)."""
    proc = await asyncio.create_subprocess_exec(str(POSTGRES_BIN_PATH / name), *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await _beating(asyncio.ensure_future(proc.communicate()), stage or name)
    except BaseException:
        if proc.returncode is None:  # cancelled: do not leave the program running
            proc.kill()
            await proc.wait()
        raise
    return ToolRun(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


async def in_thread(fn: Callable[..., T], *args: Any, stage: str) -> T:
    """``fn(*args)`` in a worker thread, heartbeating ``stage`` every few seconds until it returns."""
    return await _beating(asyncio.ensure_future(asyncio.to_thread(fn, *args)), stage)
