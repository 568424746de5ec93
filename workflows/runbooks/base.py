"""What every runbook workflow shares: steps that record themselves, the ``confirm``/``skip``
contract of destructive steps, the ``progress`` query, the final report.

A step's state is saved (``save_runbook_state``: the run and all its steps, upserted) and audited
(``runbook.step.<status>``) at every change. Saving and auditing go to the catalog database, which a
Restore runbook may run without: they are tried a few times, and what could not be stored waits in the
workflow (the ``progress`` query shows it) and is stored with the next save that succeeds.

A remediation step waits for an operator: ``confirm`` (who, why) runs it, ``skip`` leaves it; after
``escalate_after_s`` unanswered the step is ``escalated`` (audit event ``runbook.escalated``: alerting
and the console pick it up), after ``confirm_timeout_s`` it is ``timed_out`` and nothing is changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, is_dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.runbook_types import (
    DEFAULT_CONFIRM_TIMEOUT_S,
    DEFAULT_ESCALATE_AFTER_S,
    QUERY_RUNBOOK,
    SAVE_RUNBOOK_STATE,
    SIGNAL_CONFIRM,
    SIGNAL_SKIP,
    RunbookDecision,
    RunbookInput,
    RunbookState,
    RunbookStepState,
    SavedRunbookState,
    SaveRunbookState,
)
from workflows.statuses import Runbook, RunbookStatus, RunbookStepStatus
from workflows.types import RECORD_AUDIT, AuditRecord, AuditResult

# Storing the run's state is bounded so a runbook keeps going while the database is down (Restore).
_STORE = dict(start_to_close_timeout=timedelta(seconds=30),
              retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3))
# Diagnostics read the running system; a few retries, then the step is reported failed.
DIAGNOSTIC = dict(start_to_close_timeout=timedelta(minutes=5),
                  retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=3))
DIAGNOSTIC_KIND, ACTION_KIND, REMEDIATION_KIND = "diagnostic", "action", "remediation"


def as_findings(value: Any) -> dict[str, Any]:
    """A step's result as JSON findings: a dataclass as its fields, a dict as is, else ``{"value": ...}``."""
    if is_dataclass(value):
        return asdict(value)
    if isinstance(value, dict):
        return value
    return {"value": value}


def _error(err: BaseException) -> str:
    cause = err.cause if isinstance(err, ActivityError) and err.cause else err
    return str(cause) or type(cause).__name__


class RunbookBase:
    """Base of the runbook workflows: subclasses set ``RUNBOOK`` and, in their ``@workflow.run``, call
    :meth:`begin`, then :meth:`diagnose`, :meth:`act` and :meth:`remediate` for each step, then
    :meth:`finish`."""

    RUNBOOK: Runbook

    def __init__(self) -> None:
        self._state: RunbookState | None = None
        self._decisions: dict[int, tuple[str, RunbookDecision]] = {}
        self._unsaved = False
        self._audits: list[AuditRecord] = []

    # -- the process ---------------------------------------------------------------------------
    async def begin(self, inp: RunbookInput, subject: str | None = None) -> None:
        """Open the run's record (status ``running``)."""
        self._inp = inp
        self._state = RunbookState(
            id=workflow.info().workflow_id, runbook=self.RUNBOOK, status=RunbookStatus.RUNNING, trigger=inp.trigger,
            started_by=inp.started_by, reason=inp.reason, subject=subject, params=dict(inp.params),
            started_at=workflow.now().isoformat())
        self._audit("runbook.started", {"trigger": inp.trigger, "params": inp.params, "reason": inp.reason})
        await self._save()

    async def diagnose(self, name: str, activity: str, arg: Any, result_type: type, optional: bool = False,
                       **options: Any) -> Any:
        """Run a diagnostic activity as step ``name``; its result becomes the step's findings.

        Returns:
            The activity's result, or None when it failed: the step is then ``failed`` with the error,
            or, when ``optional`` (a fact that may be unobtainable, such as a lost database's
            position), ``done`` with the error as its finding.
        """
        return await self._step(name, DIAGNOSTIC_KIND, activity, arg, result_type, options or DIAGNOSTIC, optional)

    async def act(self, name: str, activity: str, arg: Any, result_type: type, **options: Any) -> Any:
        """Run a step that changes nothing an operator must approve (a backup, a restore into a new
        directory); like :meth:`diagnose`, its result is recorded as the step's findings."""
        return await self._step(name, ACTION_KIND, activity, arg, result_type, options or DIAGNOSTIC)

    async def note(self, name: str, findings: dict[str, Any], status: RunbookStepStatus = RunbookStepStatus.DONE) -> None:
        """Record a step the workflow itself concluded (e.g. a measurement from earlier steps)."""
        step = self._open(name, DIAGNOSTIC_KIND, status)
        step.findings, step.finished_at = findings, workflow.now().isoformat()
        self._audit(f"runbook.step.{status}", {"step": name})
        await self._save()

    async def not_needed(self, name: str, why: str) -> None:
        """Record remediation ``name`` as not needed (the findings showed nothing to change)."""
        step = self._open(name, REMEDIATION_KIND, RunbookStepStatus.NOT_NEEDED)
        step.proposal, step.finished_at = why, workflow.now().isoformat()
        self._audit("runbook.step.not_needed", {"step": name, "why": why})
        await self._save()

    async def remediate(self, name: str, proposal: str, activity: str, arg: Any, result_type: type,
                        **options: Any) -> Any:
        """Propose a destructive step (an activity) and run it only once an operator confirms it.

        Returns:
            The activity's result; None when the step was skipped, timed out or failed.
        """
        return await self.remediate_with(name, proposal, lambda: workflow.execute_activity(
            activity, arg, result_type=result_type, **(options or DIAGNOSTIC)))

    async def remediate_with(self, name: str, proposal: str, change: Callable[[], Awaitable[Any]]) -> Any:
        """Like :meth:`remediate`, for a change that is not one activity (e.g. signalling a workflow):
        ``change()`` runs once confirmed; what it returns is the step's result."""
        step = self._open(name, REMEDIATION_KIND, RunbookStepStatus.AWAITING_CONFIRMATION)
        step.proposal = proposal
        self._state.status = RunbookStatus.WAITING
        self._audit("runbook.confirmation_requested", {"step": name, "proposal": proposal})
        await self._save()
        decided = lambda: step.seq in self._decisions  # noqa: E731
        total = self._inp.confirm_timeout_s or DEFAULT_CONFIRM_TIMEOUT_S
        escalate = min(self._inp.escalate_after_s or DEFAULT_ESCALATE_AFTER_S, total)
        try:
            await workflow.wait_condition(decided, timeout=timedelta(seconds=escalate))
        except asyncio.TimeoutError:
            if total > escalate:
                step.status = RunbookStepStatus.ESCALATED
                self._audit("runbook.escalated", {"step": name, "waited_s": escalate})
                await self._save()
                try:
                    await workflow.wait_condition(decided, timeout=timedelta(seconds=total - escalate))
                except asyncio.TimeoutError:
                    pass
        self._state.status = RunbookStatus.RUNNING
        if not decided():
            return await self._close(step, RunbookStepStatus.TIMED_OUT, error=f"no answer within {total:.0f} s: nothing changed")
        signal, decision = self._decisions[step.seq]
        step.decided_by, step.reason = decision.by, decision.reason
        if signal == SIGNAL_SKIP:
            return await self._close(step, RunbookStepStatus.SKIPPED)
        step.status = RunbookStepStatus.CONFIRMED
        self._audit("runbook.step.confirmed", {"step": name, "by": decision.by, "reason": decision.reason})
        await self._save()
        try:
            result = await change()
        except (ActivityError, ApplicationError) as err:
            return await self._close(step, RunbookStepStatus.FAILED, error=_error(err))
        step.result = as_findings(result)
        await self._close(step, RunbookStepStatus.DONE)
        return result

    async def finish(self, summary: str, extra: dict[str, Any] | None = None) -> RunbookState:
        """End the run: ``failed`` when a step failed, else ``completed``; store the report
        (findings, actions with who confirmed them, durations in seconds, and ``extra``)."""
        s = self._state
        now = workflow.now()
        s.status = RunbookStatus.FAILED if any(x.status == RunbookStepStatus.FAILED for x in s.steps) else RunbookStatus.COMPLETED
        s.summary, s.finished_at = summary, now.isoformat()
        s.report = {
            "summary": summary,
            "findings": {x.name: x.findings for x in s.steps if x.findings},
            "actions": [{"step": x.name, "proposal": x.proposal, "status": x.status, "decided_by": x.decided_by,
                         "reason": x.reason, "result": x.result, "error": x.error}
                        for x in s.steps if x.kind != DIAGNOSTIC_KIND],
            "failed": [{"step": x.name, "error": x.error} for x in s.steps if x.status == RunbookStepStatus.FAILED],
            "durations_s": {x.name: _seconds(x.started_at, x.finished_at) for x in s.steps},
            "total_s": _seconds(s.started_at, s.finished_at),
            **(extra or {}),
        }
        self._audit(f"runbook.{s.status}", {"summary": summary})
        await self._save()
        if self._unsaved:  # the database was away until now: one more try, then the workflow's result is the record
            await self._save()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return s

    # -- signals and query --------------------------------------------------------------------
    @workflow.signal(name=SIGNAL_CONFIRM)
    def confirm(self, decision: RunbookDecision) -> None:
        """Run the waiting (or named) destructive step; ``by`` is required."""
        self._decide(SIGNAL_CONFIRM, decision)

    @workflow.signal(name=SIGNAL_SKIP)
    def skip(self, decision: RunbookDecision) -> None:
        """Leave the waiting (or named) destructive step undone; ``by`` is required."""
        self._decide(SIGNAL_SKIP, decision)

    @workflow.query(name=QUERY_RUNBOOK)
    def progress(self) -> RunbookState | None:
        """The run so far: each step's status, findings and decisions."""
        return self._state

    def _decide(self, signal: str, decision: RunbookDecision) -> None:
        # A decision without a name, or for no waiting step, is dropped: it cannot approve a later step.
        if self._state is None or not (decision.by or "").strip():
            return
        waiting = self._state.awaiting()
        if waiting is None or (decision.step and decision.step != waiting.name) or waiting.seq in self._decisions:
            return
        self._decisions[waiting.seq] = (signal, decision)

    # -- recording ----------------------------------------------------------------------------
    def _open(self, name: str, kind: str, status: RunbookStepStatus) -> RunbookStepState:
        step = RunbookStepState(seq=len(self._state.steps) + 1, name=name, kind=kind, status=status,
                                started_at=workflow.now().isoformat())
        self._state.steps.append(step)
        return step

    async def _step(self, name: str, kind: str, activity: str, arg: Any, result_type: type, options: dict,
                    optional: bool = False) -> Any:
        step = self._open(name, kind, RunbookStepStatus.RUNNING)
        await self._save()
        try:
            result = await workflow.execute_activity(activity, arg, result_type=result_type, **options)
        except ActivityError as err:
            if optional:
                step.findings = {"unavailable": _error(err)}
                return await self._close(step, RunbookStepStatus.DONE)
            return await self._close(step, RunbookStepStatus.FAILED, error=_error(err))
        step.findings = as_findings(result)
        await self._close(step, RunbookStepStatus.DONE)
        return result

    async def _close(self, step: RunbookStepState, status: RunbookStepStatus, error: str | None = None) -> None:
        step.status, step.error, step.finished_at = status, error, workflow.now().isoformat()
        self._audit(f"runbook.step.{status}", {"step": step.name, "by": step.decided_by, "reason": step.reason,
                                                "error": error})
        await self._save()
        return None

    def _audit(self, action: str, detail: dict[str, Any]) -> None:
        self._audits.append(AuditRecord(actor=self._inp.started_by if action == "runbook.started" else "shipway.runbooks",
                                        action=action, subject=self._state.id if self._state else workflow.info().workflow_id,
                                        detail=detail))

    async def _save(self) -> None:
        try:
            await workflow.execute_activity(SAVE_RUNBOOK_STATE, SaveRunbookState(self._state),
                                            result_type=SavedRunbookState, **_STORE)
            while self._audits:
                await workflow.execute_activity(RECORD_AUDIT, self._audits[0], result_type=AuditResult, **_STORE)
                self._audits.pop(0)
            self._unsaved = False
        except ActivityError:
            self._unsaved = True


def _seconds(start: str, end: str | None) -> float | None:
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3) if end else None
