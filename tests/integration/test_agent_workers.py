"""``shipway worker --agent-processes N``: extra processes for agent runs, children that go with their parent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import psutil

from shipway import control
from tests.support.lifecycle import deploy_counting
from tests.support.workers import running_workers


def _agent_children(parent: psutil.Process) -> list[psutil.Process]:
    return [c for c in parent.children(recursive=True) if "--queue" in c.cmdline() and "shipway-agents" in c.cmdline()]


async def test_a_worker_starts_its_agent_processes_and_they_stop_with_it(settings_env, temporal_env, db, tmp_path):
    async with running_workers(temporal_env.client, ["shipway-control"]) as client:
        name = await deploy_counting(client, db)
        log = (tmp_path / "worker.log").open("ab")
        proc = subprocess.Popen([sys.executable, "-m", "shipway", "worker", "--queue", "shipway-agents", "--agent-processes", "2"],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            parent = psutil.Process(proc.pid)
            for _ in range(300):
                if len(_agent_children(parent)) == 2:
                    break
                await asyncio.sleep(0.1)  # the control worker shares this event loop
            children = _agent_children(parent)
            assert len(children) == 2
            # the children poll too: runs complete while the parent and both children serve the queue
            version = await control.pick_version(db, name)
            for i in range(4):
                _, result = await control.start_run(client, name, version, {"log_path": str(tmp_path / f"{i}.log")}, wait=True,
                                                    local_graph=True)
                assert result.status == "succeeded"
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            gone, alive = psutil.wait_procs(children, timeout=30)
            assert not alive, f"agent worker processes outlived their parent: {[p.pid for p in alive]}"
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
