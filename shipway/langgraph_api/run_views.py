"""Shipway runs as the LangGraph Platform API shows them: the Run object, its status, and the body
``runs.wait`` / ``runs.join`` answer.

Statuses follow the Platform's meaning (langgraph_sdk ``RunStatus``): a run paused at ``interrupt()``
ended ``success`` (its thread is ``interrupted``); ``interrupted`` means cancelled; every way a run
ends without its output (failed, blocked by a guard, withheld, over budget) is ``error``.
"""

from __future__ import annotations

from typing import Any

from shipway.db.models import Run
from workflows.statuses import RunStatus

_STATUS = {
    RunStatus.RUNNING: "running",
    RunStatus.INTERRUPTED: "success",
    RunStatus.SUCCEEDED: "success",
    RunStatus.CANCELLED: "interrupted",
}


def platform_status(run: Run) -> str:
    """The Platform status of a run row: ``pending`` (queued for its thread, not recorded yet: no
    ``workflow_id``), ``running``, ``success``, ``interrupted`` (cancelled) or ``error``."""
    if not run.workflow_id:
        return "pending"
    return _STATUS.get(run.status, "error")


def run_object(run: Run, assistant_id: str, multitask_strategy: str | None = None) -> dict[str, Any]:
    """The Platform's ``Run`` object (langgraph_sdk.schema.Run) of a run row; times in ISO 8601."""
    return {"run_id": run.id, "thread_id": run.thread_id, "assistant_id": assistant_id,
            "created_at": run.started_at.isoformat(), "updated_at": (run.finished_at or run.started_at).isoformat(),
            "status": platform_status(run), "metadata": run.meta or {}, "kwargs": {},
            "multitask_strategy": multitask_strategy}


def error_body(run: Run) -> dict[str, Any]:
    """``{"__error__": {"error", "message"}}`` of a run that ended without its output: ``error`` names
    the kind (the run's status, or the error type its message starts with)."""
    message = run.error or f"run ended {run.status}"
    kind, _, rest = message.partition(": ")
    if run.status == RunStatus.FAILED and rest and kind.isidentifier():
        return {"__error__": {"error": kind, "message": rest}}
    return {"__error__": {"error": str(run.status), "message": message}}


def wait_body(run: Run, values: dict[str, Any], interrupts: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``runs.wait`` and ``runs.join`` answer once the run settled: the thread's state values,
    with ``__interrupt__`` (a list of ``{"value", "id"}``) when the run stopped at an interrupt, or
    :func:`error_body` when it ended without its output."""
    if platform_status(run) == "error":
        return error_body(run)
    if run.status == RunStatus.INTERRUPTED and interrupts:
        return {**values, "__interrupt__": interrupts}
    return values
