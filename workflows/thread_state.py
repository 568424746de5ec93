"""``ThreadStateWorkflow`` (id ``thread-state:{thread_id}:{uuid}``, task queue ``shipway-agents``):
one update of a thread's state (the LangGraph Platform API's ``POST /threads/{thread_id}/state``).

The values are guarded first like every value a human gives a graph (the run guards' input policy
and rails, stage ``state_update``: a blocked update writes nothing and is audited without the
values); then one activity writes the checkpoint (:mod:`activities.thread_updates`, which refuses a
busy thread), and a written update is audited with who made it. The gateway, whose database role
only reads, changes nothing itself.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.types import (
    GUARD_INPUT,
    RECORD_AUDIT,
    THREAD_STATE_WORKFLOW,
    UPDATE_THREAD_STATE,
    AuditRecord,
    AuditResult,
    GuardInput,
    GuardVerdict,
    StateUpdateRefusal,
    ThreadStateUpdate,
    ThreadStateUpdated,
)

_LOCAL = dict(start_to_close_timeout=timedelta(seconds=30))
_GUARD = dict(start_to_close_timeout=timedelta(seconds=60))  # a worker's first guard call loads the rails' model
# Failures of compiling the version's graph that another attempt cannot fix.
_NOT_RETRIED = ["UnknownAgentVersion", "ArtifactIntegrity", "UnknownArtifact"]


@workflow.defn(name=THREAD_STATE_WORKFLOW)
class ThreadStateWorkflow:
    """Guards, writes and audits one state update; returns the new checkpoint or why not.

    Raises (the workflow fails): ``ActivityError`` when the write failed for good (the version's graph
    cannot be compiled, or the retries ran out)."""

    @workflow.run
    async def run(self, inp: ThreadStateUpdate) -> ThreadStateUpdated:
        subject = f"thread:{inp.thread_id}"
        if inp.values is not None:
            verdict = await workflow.execute_local_activity(GUARD_INPUT, GuardInput(
                run_id=inp.update_id, agent_name=inp.agent_name, version=inp.version, stage="state_update",
                value=_as_object(inp.values)), result_type=GuardVerdict, **_GUARD)
            if verdict.blocked:
                reason = f"{verdict.reason_code}: {verdict.detail}"
                await self._audit(inp.actor, "thread.state_update_blocked", subject, {
                    "rail": verdict.rail, "reason_code": verdict.reason_code, "detail": verdict.detail})
                return ThreadStateUpdated(refused=StateUpdateRefusal.BLOCKED, reason=reason)
            inp = replace(inp, values=_from_object(verdict.value, inp.values))
        done = await workflow.execute_activity(
            UPDATE_THREAD_STATE, inp, result_type=ThreadStateUpdated, start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5,
                                     non_retryable_error_types=_NOT_RETRIED))
        if done.checkpoint is not None:
            await self._audit(inp.actor, "thread.state_updated", subject, {
                "agent": inp.agent_name, "version": inp.version, "as_node": inp.as_node, "values": inp.values,
                "checkpoint_id": done.checkpoint["checkpoint_id"], "on_checkpoint_id": inp.checkpoint_id})
        return done

    async def _audit(self, actor: str, action: str, subject: str, detail: dict) -> None:
        await workflow.execute_local_activity(RECORD_AUDIT, AuditRecord(actor or "unknown", action, subject, detail),
                                              result_type=AuditResult, **_LOCAL)


def _as_object(value: Any) -> dict:
    """Values as the guards take them: a JSON object as it is, anything else (a list) under ``value``."""
    return value if isinstance(value, dict) else {"value": value}


def _from_object(checked: dict, original: Any) -> Any:
    """The guarded form of ``original`` back from :func:`_as_object`'s shape."""
    return checked if isinstance(original, dict) else checked.get("value")
