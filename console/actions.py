"""Operator actions from the console: submitting an agent, approval decisions, answers to interrupted
runs, replays of webhook dead letters, signals to rollouts, and runbook starts and decisions
(through :mod:`shipway.runbook_control`); and the queries that follow the long operations they start
(:func:`follow`, for :mod:`console.progress`).

Each call opens a Temporal client (``shipway.temporal.connect``) on a fresh event loop, because a
Streamlit script run is synchronous and a Temporal client is bound to the loop it was created on.
The actions themselves live in ``shipway.control``; decisions and answers return once the workflow
has answered, a submission once its lifecycle workflow has started, a rollout signal once Temporal
has accepted it (the workflow acts on it afterwards). Each is taken as an
:class:`~console.identity.Identity`, under its name, and only when its role allows it: the pages
hide what a role may not do, and these functions refuse it again before anything is sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import Client
from temporalio.service import RPCError

from console.identity import Identity, require
from shipway import control, jira_webhooks, runbook_control
from shipway.auth.roles import Action
from shipway.db.engine import Database
from shipway.settings import get_settings
from shipway.temporal import connect
from workflows.runbook_types import RunbookDecision, RunbookState, RunbookStepState, StartedRunbook
from workflows.statuses import ApprovalChannel, ApprovalKind, LifecycleStep, Runbook, WebhookOutcome
from workflows.types import ApprovalOutcome, DeploymentProgress, LifecycleStatus, ResumeAck

T = TypeVar("T")

# Re-driving a dead letter is an operator's repair, like a rollback; the role table has no action of
# its own for it, so it takes the deploy / rollback permission (admin and operator).
REPLAY_ACTION = Action.VERSION_DEPLOY


def with_client(action: Callable[[Client], Awaitable[T]]) -> T:
    """Connect to Temporal and run ``action(client)`` to completion.

    Raises:
        RuntimeError: no Temporal address is configured, or the server cannot be reached.
    """

    async def main() -> T:
        return await action(await connect())

    return asyncio.run(main())


def submit(identity: Identity, raw_spec: dict) -> tuple[str, int, str]:
    """Start the lifecycle of a new version of ``raw_spec``, submitted by ``identity.name``; returns
    ``(name, version, workflow_id)`` once the workflow has started (it validates the spec itself).

    Raises:
        console.identity.NotAllowed: the identity's role may not submit versions.
        shipway.spec.SpecError: the spec has no valid ``name``.
        RuntimeError: Temporal or the database is not configured, or Temporal is unreachable.
        sqlalchemy.exc.OperationalError: the database is unreachable.
    """

    async def action(client: Client) -> tuple[str, int, str]:
        async with Database.from_settings(pool_size=1) as db:
            return await control.submit_agent(client, db, raw_spec, identity.name)

    require(identity, Action.VERSION_SUBMIT)
    return with_client(action)


def decide(identity: Identity, agent: str, version: int, decision: ApprovalKind, reason: str) -> ApprovalOutcome:
    """Approve or reject ``agent`` v``version`` with ``identity.name`` as the approver; returns the
    accepted outcome once the lifecycle workflow has recorded it.

    Raises:
        console.identity.NotAllowed: the identity's role may not approve or reject versions.
        shipway.control.ActionRefused: the workflow refused the decision (``reason`` says why, e.g.
            the approver owns the agent, or the version is not awaiting approval).
        RuntimeError: Temporal is unreachable.
        temporalio.service.RPCError: the version has no lifecycle workflow.
    """
    require(identity, Action.VERSION_APPROVE)
    return with_client(lambda client: control.decide(client, agent, version, decision, identity.name, reason,
                                                     ApprovalChannel.CONSOLE))


def resume(identity: Identity, run_id: str, value: dict[str, Any]) -> ResumeAck:
    """Answer an interrupted run with ``value``, ``identity.name`` as the actor; returns the
    workflow's acknowledgement.

    Raises:
        console.identity.NotAllowed: the identity's role may not resume runs.
        shipway.control.ActionRefused: the run is not waiting for input (or has closed), or the value
            is not a non-empty JSON object.
        RuntimeError: Temporal is unreachable.
    """
    require(identity, Action.RUN_RESUME)
    return with_client(lambda client: control.resume_run(client, run_id, value, identity.name))


def replay_dead_letters(identity: Identity, ids: list[int] | None = None) -> list[tuple[int, WebhookOutcome, str]]:
    """Re-drive webhook dead letters (those of ``ids``, or every one) from their stored bodies, as
    ``shipway webhooks replay`` does; returns ``(id, outcome, detail)`` for each. A delivery that is
    no longer a dead letter is left alone and reported with its outcome.

    Raises:
        console.identity.NotAllowed: the identity's role may not replay (:data:`REPLAY_ACTION`).
        LookupError: one of ``ids`` does not exist.
        RuntimeError: Temporal or the database is not configured, or Temporal is unreachable.
        sqlalchemy.exc.OperationalError: the database is unreachable.
    """

    async def action(client: Client) -> list[tuple[int, WebhookOutcome, str]]:
        # two connections: driving a delivery holds its row lock while the approval request is read
        async with Database.from_settings(pool_size=2) as db:
            return await jira_webhooks.replay(client, db, get_settings(), identity.name or identity.role, ids)

    require(identity, REPLAY_ACTION)
    return with_client(action)


DEPLOYMENT_ACTIONS = tuple(control.DEPLOYMENT_SIGNALS)  # promote, pause, resume, abort


def signal_deployment(identity: Identity, name: str, version: int, action: str) -> None:
    """Send ``action`` (one of :data:`DEPLOYMENT_ACTIONS`) to the rollout of ``name`` v``version``
    as ``identity.name`` (the workflow records it as an audit event); returns once Temporal has
    accepted the signal, not once the workflow has acted on it.

    Raises:
        console.identity.NotAllowed: the identity's role may not deploy (``version.deploy``).
        ValueError: an unknown action.
        shipway.control.ActionRefused: the rollout has ended.
        temporalio.service.RPCError: the version has no rollout workflow.
        RuntimeError: Temporal is unreachable.
    """
    require(identity, Action.VERSION_DEPLOY)
    if action not in DEPLOYMENT_ACTIONS:
        raise ValueError(f"unknown deployment action {action!r}; one of {', '.join(DEPLOYMENT_ACTIONS)}")
    with_client(lambda client: control.signal_deployment(client, name, version, action, identity.name))


# -- following long operations (console.progress) ---------------------------------------------------
def follow(query: Callable[[Client], Awaitable[T]], on_value: Callable[[T], bool], timeout_s: float, poll_s: float) -> T:
    """Run ``query(client)`` every ``poll_s`` seconds on one client, handing each result to
    ``on_value``, until ``on_value`` returns True or ``timeout_s`` seconds have passed; returns the
    last result. Reads only, so no role is required.

    Raises:
        RuntimeError: Temporal is unreachable.
        temporalio.service.RPCError: the query failed (e.g. no such workflow).
    """

    async def action(client: Client) -> T:
        deadline = time.monotonic() + timeout_s
        while True:
            value = await query(client)
            if on_value(value) or time.monotonic() >= deadline:
                return value
            await asyncio.sleep(poll_s)

    return with_client(action)


async def lifecycle_and_rollout(client: Client, name: str, version: int) -> tuple[LifecycleStatus, DeploymentProgress | None]:
    """The ``status`` query of ``name`` v``version``'s lifecycle and, once it is deploying, the
    ``progress`` query of its rollout (None before, or while the rollout has not started)."""
    status = await control.lifecycle_status(client, name, version)
    if status.step != LifecycleStep.DEPLOY:
        return status, None
    try:
        return status, await control.deployment_progress(client, name, version)
    except RPCError:  # the child workflow is not started yet
        return status, None


def rollout_progress(name: str, version: int) -> DeploymentProgress:
    """The ``progress`` query of ``name`` v``version``'s rollout.

    Raises:
        RuntimeError: Temporal is unreachable.
        temporalio.service.RPCError: the version has no rollout workflow.
    """
    return with_client(lambda client: control.deployment_progress(client, name, version))


# -- runbooks (issue 14: the Runbooks page) ----------------------------------------------------------
def start_runbook(identity: Identity, runbook: Runbook, params: dict[str, Any], reason: str) -> StartedRunbook:
    """Start ``runbook`` with ``params``, started by ``identity.name`` for ``reason``; returns its
    workflow id once Temporal has started it (:func:`shipway.runbook_control.start`).

    Raises:
        console.identity.NotAllowed: the identity's role may not start runbooks (``runbook.start``).
        RuntimeError: Temporal is not configured or unreachable.
    """
    require(identity, Action.RUNBOOK_START)
    return with_client(lambda client: runbook_control.start(client, get_settings(), runbook, params, identity.name, reason))


def decide_runbook(identity: Identity, run_id: str, signal: str, reason: str, step: str = "") -> RunbookStepState:
    """``confirm`` or ``skip`` (``signal``) the step of run ``run_id`` waiting for a decision (or step
    ``step``, by name), as ``identity.name`` for ``reason``; returns the step once the workflow has
    recorded the decision (``decided_by`` None: not yet, after
    :data:`shipway.runbook_control.DECISION_WAIT_S` seconds). Answering a destructive step takes the
    role that may start runbooks.

    Raises:
        console.identity.NotAllowed: the identity's role may not start runbooks (``runbook.start``).
        shipway.runbook_control.DecisionRefused: no name, the run has ended, or the step is not waiting.
        LookupError: no such runbook run.
        RuntimeError: Temporal is unreachable.
        temporalio.service.RPCError: no worker answered the run's ``progress`` query.
    """
    require(identity, Action.RUNBOOK_START)
    decision = RunbookDecision(by=identity.name, reason=reason, step=step)
    return with_client(lambda client: runbook_control.decide(client, run_id, signal, decision))


def runbook_progress(run_id: str) -> RunbookState | None:
    """The ``progress`` query of run ``run_id`` (for a run the database has no row of yet, or while
    the database is away); reads only, so no role is required.

    Raises:
        RuntimeError: Temporal is unreachable.
        temporalio.service.RPCError: no such workflow, or no worker answered in time.
    """
    return with_client(lambda client: runbook_control.progress(client, run_id))
