"""``shipway up`` / ``down`` / ``status`` as a user runs them: data and workflows survive a restart,
and nothing is left running after ``down``. Uses a tmp state dir and free ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import psycopg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from shipway.settings import CONTROL_TASK_QUEUE
from shipway.stack.processes import running_pid
from shipway.temporal import SA_AGENT
from tests.support.ports import restartable_port
from workflows.types import SIGNAL_APPROVE, ApprovalDecision, LifecycleInput, lifecycle_workflow_id

pytestmark = pytest.mark.integration

COMPONENTS = "postgres,temporal,migrations"


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    """Environment of a user whose stack lives in a tmp state dir on free ports, with no
    external database or Temporal configured."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS") and not k.startswith("SHIPWAY_")}
    ports = set()
    for key in ("POSTGRES_PORT", "TEMPORAL_PORT", "TEMPORAL_UI_PORT"):
        ports.add(port := restartable_port(avoid=ports))
        env[f"SHIPWAY_{key}"] = str(port)
    env["SHIPWAY_STATE_DIR"] = str(tmp_path / "state")
    return env


def shipway(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the ``shipway`` CLI of this environment as a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-c", "from shipway.cli import app; app()", *args],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    if check:
        assert proc.returncode == 0, f"shipway {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def stack_record(env: dict[str, str]) -> dict:
    return json.loads((Path(env["SHIPWAY_STATE_DIR"]) / "stack.json").read_text())


def processes_under(state_dir: str) -> list[psutil.Process]:
    """Live processes whose command line mentions the state dir (servers started by `up`)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if state_dir in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_data_and_workflows_survive_down_and_up(stack_env: dict[str, str]) -> None:
    state_dir = stack_env["SHIPWAY_STATE_DIR"]
    try:
        out = shipway(stack_env, "up", "--only", COMPONENTS).stdout
        assert "[up] postgres ... ok" in out and "[up] temporal ... ok" in out and "[up] migrations ... ok" in out
        first = stack_record(stack_env)
        assert first["postgres"]["port"] == int(stack_env["SHIPWAY_POSTGRES_PORT"])
        assert first["temporal"]["port"] == int(stack_env["SHIPWAY_TEMPORAL_PORT"])

        # Starting twice reuses the running servers.
        again = shipway(stack_env, "up", "--only", COMPONENTS).stdout
        assert "[up] postgres ... already running" in again and "[up] temporal ... already running" in again
        assert stack_record(stack_env)["postgres"]["pid"] == first["postgres"]["pid"]
        assert shipway(stack_env, "status").returncode == 0

        name = f"stack-{uuid.uuid4().hex[:8]}"
        with psycopg.connect(first["database_url"]) as conn:
            conn.execute(
                "INSERT INTO agents (name, owner, template, description, created_at) VALUES (%s, %s, %s, %s, now())",
                (name, "alice@bank.example", "credit_underwriting", "survives restarts"),
            )

        # A lifecycle workflow with no worker polling yet: it stays Running with its first task pending.
        workflow_id = lifecycle_workflow_id(name, 1)
        client = await Client.connect(first["temporal_address"])
        handle = await client.start_workflow(
            "AgentLifecycleWorkflow",
            LifecycleInput(name=name, version=1, spec={"name": name}, submitted_by="alice@bank.example"),
            id=workflow_id,
            task_queue=CONTROL_TASK_QUEUE,
            search_attributes=TypedSearchAttributes([SearchAttributePair(SA_AGENT, name)]),
        )
        run_id = handle.result_run_id

        shipway(stack_env, "down")
        assert not processes_under(state_dir)
        for component in ("postgres", "temporal"):
            assert not _alive(first[component]["pid"])
        assert shipway(stack_env, "status", check=False).returncode != 0

        shipway(stack_env, "up", "--only", COMPONENTS)
        second = stack_record(stack_env)
        assert second["postgres"]["pid"] != first["postgres"]["pid"]

        with psycopg.connect(second["database_url"]) as conn:
            row = conn.execute("SELECT owner, description FROM agents WHERE name = %s", (name,)).fetchone()
        assert row == ("alice@bank.example", "survives restarts")

        client = await Client.connect(second["temporal_address"])
        desc = await client.get_workflow_handle(workflow_id).describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING
        assert desc.run_id == run_id
        assert desc.typed_search_attributes.get(SA_AGENT) == name
        # The restarted server accepts signals for it: the approval would reach the workflow.
        await client.get_workflow_handle(workflow_id).signal(SIGNAL_APPROVE, ApprovalDecision(approver="carol@bank.example"))
        history = [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]
        assert any(e.HasField("workflow_execution_signaled_event_attributes") for e in history)
    finally:
        shipway(stack_env, "down", check=False)
    assert not processes_under(state_dir)
    assert running_pid(Path(state_dir) / "temporal" / "temporal.pid") is None


def test_taken_port_fails_naming_it_or_is_replaced_with_free_ports(stack_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(stack_env["SHIPWAY_POSTGRES_PORT"])))
        blocker.listen()
        try:
            failed = shipway(stack_env, "up", "--only", "postgres", check=False)
            assert failed.returncode != 0
            assert f"port {stack_env['SHIPWAY_POSTGRES_PORT']}" in failed.stderr

            shipway(stack_env, "up", "--only", "postgres", "--free-ports")
            record = stack_record(stack_env)
            assert record["postgres"]["port"] != int(stack_env["SHIPWAY_POSTGRES_PORT"])
            with psycopg.connect(record["database_url"]) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        finally:
            shipway(stack_env, "down", check=False)
    assert not processes_under(stack_env["SHIPWAY_STATE_DIR"])


async def test_worker_probe_sees_only_the_worker_process_polling(settings_env, temporal_env) -> None:
    """`up`/`status` call a worker healthy when *its* pid polls shipway-control, not any poller."""
    import asyncio

    from temporalio.worker import Worker

    from shipway.stack.health import temporal_async
    from workflows.lifecycle import AgentLifecycleWorkflow

    async def probe(pid: int) -> bool:
        for _ in range(50):  # pollers show up within a poll round-trip
            if (await temporal_async(settings_env, worker_pid=pid))[0]:
                return True
            await asyncio.sleep(0.1)
        return False

    assert (await temporal_async(settings_env))[0]
    async with Worker(temporal_env.client, task_queue=CONTROL_TASK_QUEUE, workflows=[AgentLifecycleWorkflow]):
        assert await probe(os.getpid())
        assert not (await temporal_async(settings_env, worker_pid=os.getpid() + 100000))[0]
