"""Following a runbook run in tests: its ``progress`` query polled until a condition holds."""

from __future__ import annotations

import asyncio
import time

from workflows.runbook_types import QUERY_RUNBOOK, RunbookState
from workflows.statuses import RunbookStatus


async def until(client, workflow_id: str, done, timeout_s: float = 90) -> RunbookState:
    """Poll the run's ``progress`` query until ``done(state)``; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = await client.get_workflow_handle(workflow_id).query(QUERY_RUNBOOK, result_type=RunbookState)
        if state is not None and done(state):
            return state
        assert time.monotonic() < deadline, f"{workflow_id} never got there: {state}"
        await asyncio.sleep(0.2)


def waiting(state: RunbookState) -> bool:
    """A step waits for ``confirm`` or ``skip``."""
    return state.awaiting() is not None


def ended(state: RunbookState) -> bool:
    """The run completed or failed."""
    return state.status in (RunbookStatus.COMPLETED, RunbookStatus.FAILED)


async def record_runs(db, agent: str, version: int, failed: int, succeeded: int) -> None:
    """Write finished runs of ``agent`` v``version`` through the runs' own writer
    (:class:`activities.runs.RunActivities`): ``failed`` failed ones, then ``succeeded`` ones."""
    import uuid

    from activities.runs import RunActivities
    from workflows.statuses import RunStatus
    from workflows.types import RunRecord, RunStart

    runs = RunActivities(db)
    for i in range(failed + succeeded):
        run_id = str(uuid.uuid4())
        await runs.start_run(RunStart(run_id=run_id, agent_name=agent, version=version, thread_id=run_id, tenant="default",
                                      input={}, workflow_id=f"run:{run_id}"))
        await runs.record_run(RunRecord(run_id=run_id, status=RunStatus.FAILED if i < failed else RunStatus.SUCCEEDED,
                                        error="boom" if i < failed else None, latency_ms=10.0))


async def stored_until(db, run_id: str, done, timeout_s: float = 60):
    """Poll the stored run (:func:`shipway.queries.runbook_run`: its ``runbook_runs`` row and steps)
    until ``done(detail)``; the timeout only guards against a hang, and the failure shows what it saw."""
    from shipway import queries

    deadline = time.monotonic() + timeout_s
    while True:
        detail = await db.read(queries.runbook_run, run_id)
        if detail is not None and done(detail):
            return detail
        assert time.monotonic() < deadline, f"{run_id} never got there: {detail}"
        await asyncio.sleep(0.2)


async def finished(client, workflow_id: str, timeout_s: float = 90) -> RunbookState:
    """The run's final state once its workflow has returned. The ``progress`` query shows the end
    before the workflow's last save (the run row, then its audit records, one activity each), so
    tests that read what the run stored wait for the workflow's result, not only for :func:`ended`."""
    await until(client, workflow_id, ended, timeout_s)
    handle = client.get_workflow_handle(workflow_id, result_type=RunbookState)
    return await asyncio.wait_for(handle.result(), timeout_s)
