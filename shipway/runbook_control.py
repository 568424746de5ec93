"""Operator actions on runbook runs, shared by ``shipway runbook`` and the console's Runbooks page:
start a runbook, read a run's progress, confirm or skip the step it waits on.

These talk to Temporal only: the runbook workflow stores its run (``runbook_runs``,
``runbook_steps``) itself; reads of those tables are :func:`shipway.queries.runbook_runs` and
:func:`shipway.queries.runbook_run`. The workflow silently drops a decision without a name or for a
step that is not waiting (so a late decision can never approve a later step); :func:`decide` checks
first and says why instead, then waits until the workflow has recorded the decision.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.runbook_starter import RECOVERY_RUNBOOKS, recovery_target, runbook_input, start_runbook
from shipway.settings import Settings
from workflows.runbook_types import (
    QUERY_RUNBOOK,
    RUNBOOK_WORKFLOWS,
    SIGNAL_CONFIRM,
    SIGNAL_SKIP,
    RunbookDecision,
    RunbookState,
    RunbookStepState,
    StartedRunbook,
)
from workflows.statuses import Runbook, RunbookStatus, RunbookStepStatus

RUNBOOK_NAMES = tuple(r.value for r in Runbook)
DECISIONS = (SIGNAL_CONFIRM, SIGNAL_SKIP)
ENDED = frozenset({RunbookStatus.COMPLETED, RunbookStatus.FAILED})
WAITING_STEP = frozenset({RunbookStepStatus.AWAITING_CONFIRMATION, RunbookStepStatus.ESCALATED})
DECISION_WAIT_S = 15.0  # how long decide() waits for the workflow to record a decision
# A query needs a worker to answer: fail with a message rather than hang when none serves the queue.
QUERY_TIMEOUT = timedelta(seconds=15)
_POLL_S = 0.2


class UnknownRunbook(ValueError):
    """A name that is not a :class:`~workflows.statuses.Runbook`; the message lists the names."""


class DecisionRefused(Exception):
    """A confirm or skip that would not reach a waiting step; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_runbook(name: str) -> Runbook:
    """``name`` as a :class:`Runbook` (surrounding blanks ignored).

    Raises:
        UnknownRunbook: not a runbook name.
    """
    try:
        return Runbook(name.strip())
    except ValueError:
        raise UnknownRunbook(f"unknown runbook {name!r}; runbooks: {', '.join(RUNBOOK_NAMES)}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity stay text


def parse_value(raw: str) -> Any:
    """A parameter's value: JSON when it parses as JSON (numbers, booleans, null, lists, objects,
    quoted strings), else the text itself."""
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except ValueError:
        return raw


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` as a dict (values by :func:`parse_value`; a later key wins); blank
    entries are ignored.

    Raises:
        ValueError: an entry has no ``=`` or an empty key; the message quotes it.
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"parameter {pair.strip()!r} is not key=value")
        params[key.strip()] = parse_value(value.strip())
    return params


def operator_key(now: datetime | None = None) -> str:
    """A unique key for an operator's run: UTC time ``%Y%m%dT%H%M%S`` and 4 random hex digits."""
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"


def describe_runbook(runbook: Runbook) -> str:
    """What ``runbook`` does and which params it takes: the first paragraph of its workflow module's
    docstring (``workflows/runbooks/<name>.py``), on one line."""
    module = importlib.import_module(f"workflows.runbooks.{runbook.value.replace('-', '_')}")
    return " ".join((module.__doc__ or "").strip().split("\n\n")[0].split())


async def start(client: Client, settings: Settings, runbook: Runbook, params: dict[str, Any], started_by: str,
                reason: str = "") -> StartedRunbook:
    """Start ``runbook`` for an operator under id ``runbook:{name}:{operator_key()}``, with the
    confirmation timeout and escalation time of ``settings`` (and, for Backup, Restore and Restore
    drill, ``target`` from the settings unless given).

    Raises:
        temporalio.service.RPCError: Temporal refused the start.
    """
    if runbook in RECOVERY_RUNBOOKS and "target" not in params:
        params = {**params, "target": recovery_target(settings)}
    inp = runbook_input(settings, params=params, started_by=started_by, reason=reason)
    return await start_runbook(client, runbook, operator_key(), inp)


async def progress(client: Client, run_id: str) -> RunbookState | None:
    """The ``progress`` query of run ``run_id`` (open or ended): None before its first step.

    Raises:
        temporalio.service.RPCError: no such workflow, or no worker answered in time.
        temporalio.client.WorkflowQueryFailedError: the workflow could not answer.
    """
    return await client.get_workflow_handle(run_id).query(QUERY_RUNBOOK, result_type=RunbookState,
                                                          rpc_timeout=QUERY_TIMEOUT)


def step_to_decide(state: RunbookState | None, run_id: str, step: str = "") -> RunbookStepState:
    """The step a decision for ``step`` (a name; ``""`` = the one waiting now) would answer.

    Raises:
        DecisionRefused: the run has not started a step, has no step of that name, or it (or, with no
            name, any step) is not waiting for a decision.
    """
    if state is None:
        raise DecisionRefused(f"run {run_id} has not started yet; no step waits for a decision")
    if step:
        named = [s for s in state.steps if s.name == step]
        if not named:
            names = ", ".join(repr(s.name) for s in state.steps) or "none yet"
            raise DecisionRefused(f"run {run_id} has no step {step!r} (its steps: {names})")
        found = named[-1]
        if found.status not in WAITING_STEP:
            raise DecisionRefused(f"step {step!r} is not waiting for a decision; it is {found.status}")
        return found
    waiting = state.awaiting()
    if waiting is None:
        last = f" (its last step {state.steps[-1].name!r} is {state.steps[-1].status})" if state.steps else ""
        raise DecisionRefused(f"no step of run {run_id} is waiting for a decision; the run is {state.status}{last}")
    return waiting


async def decide(client: Client, run_id: str, signal: str, decision: RunbookDecision,
                 wait_s: float = DECISION_WAIT_S) -> RunbookStepState:
    """Send ``confirm`` or ``skip`` (``signal``) with ``decision`` to run ``run_id``, once its step is
    checked to be waiting; returns the step as the workflow shows it once it recorded the decision
    (``decided_by`` set), or as it still is after ``wait_s`` seconds (``decided_by`` None then).

    The signal names the step checked, so it cannot answer a step that started waiting later.

    Raises:
        ValueError: ``signal`` is neither ``confirm`` nor ``skip``.
        DecisionRefused: ``decision.by`` is empty, the run has ended, or no such step is waiting
            (see :func:`step_to_decide`).
        LookupError: no workflow ``run_id``, or it is not a runbook run.
        temporalio.service.RPCError: Temporal is unreachable, or no worker answered the query.
    """
    if signal not in DECISIONS:
        raise ValueError(f"unknown decision {signal!r}; one of {', '.join(DECISIONS)}")
    by = (decision.by or "").strip()
    if not by:
        raise DecisionRefused("a decision needs who makes it (by)")
    handle = client.get_workflow_handle(run_id)
    try:
        desc = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise LookupError(f"no runbook run {run_id}") from exc
        raise
    if desc.workflow_type not in RUNBOOK_WORKFLOWS.values():
        raise LookupError(f"{run_id} is a {desc.workflow_type}, not a runbook run")
    if desc.status != WorkflowExecutionStatus.RUNNING:
        raise DecisionRefused(f"run {run_id} has ended ({desc.status.name.lower()}); no step waits for a decision")
    step = step_to_decide(await progress(client, run_id), run_id, decision.step)
    await handle.signal(signal, RunbookDecision(by=by, reason=(decision.reason or "").strip(), step=step.name))
    deadline = time.monotonic() + wait_s
    while True:
        state = await progress(client, run_id)
        now = next(s for s in state.steps if s.seq == step.seq)
        if now.decided_by or time.monotonic() >= deadline:
            return now
        await asyncio.sleep(_POLL_S)
