"""Operator and caller actions shared by the CLI, the console, the gateway and the demo.

Each action talks to Temporal (starts, signals, updates, queries); reads go through
:mod:`shipway.queries`. None of them writes to the database: the workflows' activities do.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import (Client, WithStartWorkflowOperation, WorkflowFailureError, WorkflowHandle,
                              WorkflowUpdateFailedError)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from shipway import queries
from shipway.db.engine import Database
from shipway.settings import AGENTS_TASK_QUEUE, CONTROL_TASK_QUEUE, get_settings
from shipway.spec import NAME_RE, SpecError
from workflows.statuses import ApprovalChannel, ApprovalKind, RunStatus
from workflows.types import (
    THREAD_WORKFLOW,
    ThreadCreate,
    ThreadCreateResult,
    thread_workflow_id,
    LIFECYCLE_WORKFLOW,
    QUERY_PROGRESS,
    QUERY_STATUS,
    RUN_WORKFLOW,
    SA_AGENT,
    SA_TENANT,
    SIGNAL_ABORT,
    SIGNAL_APPROVE,
    SIGNAL_PAUSE,
    SIGNAL_PROMOTE,
    SIGNAL_REJECT,
    SIGNAL_RESUME_DEPLOY,
    UPDATE_DECIDE,
    UPDATE_LIFECYCLE_SETTLED,
    UPDATE_RESUME_RUN,
    UPDATE_RUN_ACCEPTED,
    UPDATE_RUN_SETTLED,
    ApprovalDecision,
    ApprovalOutcome,
    ApprovalRequest,
    DeploymentProgress,
    LifecycleInput,
    LifecycleStatus,
    ResumeAck,
    ResumeRequest,
    RunInput,
    RunResult,
    RunStartResult,
    deployment_workflow_id,
    lifecycle_workflow_id,
    run_workflow_id,
)

# A concurrent submission of the same agent takes the version number first; try the next ones.
_MAX_VERSION_ATTEMPTS = 20


class UnknownAgentError(LookupError):
    """The agent does not exist or has no live version to route to."""


class ActionRefused(Exception):
    """A workflow refused the action; ``reason`` says why (e.g. the approver owns the agent, the
    run is not waiting for input, the thread belongs to another agent)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _update_refusal(exc: WorkflowUpdateFailedError) -> ActionRefused:
    cause = exc.cause
    return ActionRefused(getattr(cause, "message", None) or str(cause or exc))


# -- lifecycle -------------------------------------------------------------------------------------
async def submit_agent(client: Client, db: Database, raw_spec: dict, submitted_by: str) -> tuple[str, int, str]:
    """Start a new version's ``AgentLifecycleWorkflow``; its first activity records the version.

    Only the name is checked here (the workflow id needs it); full validation is the workflow's
    first step, so a malformed spec is recorded and fails visibly there.

    Returns:
        ``(name, version, workflow_id)``.

    Raises:
        SpecError: the spec is not a mapping or has no valid ``name``.
    """
    if not isinstance(raw_spec, dict):
        raise SpecError([("<root>", "spec must be a mapping")])
    name = raw_spec.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpecError([("name", "required: 2-63 characters of lowercase letters, digits and '-', starting with a letter")])
    settings = get_settings()
    version = await db.read(queries.next_version, name)
    for _ in range(_MAX_VERSION_ATTEMPTS):
        wf_id = lifecycle_workflow_id(name, version)
        try:
            await client.start_workflow(
                LIFECYCLE_WORKFLOW,
                LifecycleInput(name=name, version=version, spec=raw_spec, submitted_by=submitted_by,
                               approval_timeout_s=settings.approval_timeout_s, reminder_every_s=settings.approval_reminder_s,
                               bake_scale=settings.bake_time_scale),
                id=wf_id, task_queue=CONTROL_TASK_QUEUE, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes([SearchAttributePair(SA_AGENT, name)]),
            )
            return name, version, wf_id
        except WorkflowAlreadyStartedError:
            version += 1
    raise RuntimeError(f"could not allocate a version number for {name} after {_MAX_VERSION_ATTEMPTS} attempts")


def lifecycle_handle(client: Client, name: str, version: int) -> WorkflowHandle:
    """Handle of the lifecycle workflow ``agent:{name}:v{version}``."""
    return client.get_workflow_handle(lifecycle_workflow_id(name, version))


async def lifecycle_status(client: Client, name: str, version: int) -> LifecycleStatus:
    """The ``status`` query of a version's lifecycle (open or closed)."""
    return await lifecycle_handle(client, name, version).query(QUERY_STATUS, result_type=LifecycleStatus)


async def wait_lifecycle(client: Client, name: str, version: int) -> LifecycleStatus:
    """Wait until the version is live or its lifecycle has ended; returns its status."""
    handle = lifecycle_handle(client, name, version)
    try:
        return await handle.execute_update(UPDATE_LIFECYCLE_SETTLED, result_type=LifecycleStatus)
    except (WorkflowUpdateFailedError, RPCError):
        # closed before or while the update was sent (failed, rejected, superseded): its last status
        return await handle.query(QUERY_STATUS, result_type=LifecycleStatus)


async def decide(client: Client, name: str, version: int, decision: ApprovalKind, approver: str, reason: str,
                 channel: ApprovalChannel = ApprovalChannel.CLI) -> ApprovalOutcome:
    """Approve or reject a version through the ``decide`` update and return the accepted outcome
    (``approvals`` of ``required``: a restricted version needs a second approver after the first).

    Raises:
        ActionRefused: the workflow refused it (no approver or reason, the approver owns the agent,
            not awaiting approval); refusals of a named approver are also recorded by the workflow.
        temporalio.service.RPCError: no such lifecycle workflow.
    """
    try:
        return await lifecycle_handle(client, name, version).execute_update(
            UPDATE_DECIDE, ApprovalRequest(decision=ApprovalKind(decision), approver=approver, reason=reason,
                                           channel=ApprovalChannel(channel)),
            result_type=ApprovalOutcome)
    except WorkflowUpdateFailedError as exc:
        raise _update_refusal(exc) from exc


async def signal_decision(client: Client, name: str, version: int, decision: ApprovalKind, approver: str, reason: str) -> None:
    """Send the ``approve`` / ``reject`` signal (what ``temporal workflow signal`` sends); the workflow
    judges and records it later, so nothing is returned."""
    signal = SIGNAL_APPROVE if ApprovalKind(decision) == ApprovalKind.APPROVE else SIGNAL_REJECT
    await lifecycle_handle(client, name, version).signal(signal, ApprovalDecision(approver=approver, reason=reason))


# -- deployments -----------------------------------------------------------------------------------
DEPLOYMENT_SIGNALS = {"promote": SIGNAL_PROMOTE, "pause": SIGNAL_PAUSE, "resume": SIGNAL_RESUME_DEPLOY, "abort": SIGNAL_ABORT}


async def deployment_progress(client: Client, name: str, version: int) -> DeploymentProgress:
    """The ``progress`` query of a version's rollout (``deploy:{name}:v{n}``, open or closed).

    Raises:
        temporalio.service.RPCError: the version has no rollout.
    """
    return await client.get_workflow_handle(deployment_workflow_id(name, version)).query(QUERY_PROGRESS,
                                                                                        result_type=DeploymentProgress)


async def signal_deployment(client: Client, name: str, version: int, action: str, actor: str) -> None:
    """Send ``promote`` / ``pause`` / ``resume`` / ``abort`` to a version's rollout as ``actor``
    (the workflow records it as an audit event).

    Raises:
        ValueError: an unknown action.
        ActionRefused: the rollout has ended.
        temporalio.service.RPCError: the version has no rollout.
    """
    if action not in DEPLOYMENT_SIGNALS:
        raise ValueError(f"unknown deployment action {action!r}; one of {', '.join(DEPLOYMENT_SIGNALS)}")
    handle = client.get_workflow_handle(deployment_workflow_id(name, version))
    try:
        await handle.signal(DEPLOYMENT_SIGNALS[action], {"actor": actor})
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and "completed" in str(exc).lower():
            raise ActionRefused(f"the rollout of {name} v{version} has ended") from exc
        raise


# -- runs ------------------------------------------------------------------------------------------
async def pick_version(db: Database, agent_name: str, rng: random.Random | None = None, tenant: str | None = None,
                       thread_id: str | None = None) -> int:
    """Choose the version to serve a request by the agent's live traffic weights (percent), read as
    ``tenant`` (row-level security hides another tenant's private agent) when given. Sticky per
    conversation: a ``thread_id`` whose last run was served by a version that still has traffic
    stays on it, so a canary or a rollout never switches a conversation's version mid-way; once
    that version loses its traffic (rolled back, or superseded), the thread moves with the weights.

    Raises:
        UnknownAgentError: the agent has no version with positive weight (or is not visible).
    """
    weights = await db.read(queries.traffic, agent_name, as_tenant=tenant)
    if not weights:
        raise UnknownAgentError(f"agent {agent_name!r} does not exist or has no live version")
    if thread_id is not None:
        served = await db.read(queries.thread_version, thread_id, agent_name, as_tenant=tenant)
        if served is not None and any(w.version == served for w in weights):
            return served
    r = (rng or random).uniform(0, sum(w.weight_pct for w in weights))
    for w in weights:
        r -= w.weight_pct
        if r <= 0:
            return w.version
    return weights[-1].version


def run_start(agent_name: str, version: int, run_input: dict, thread_id: str | None = None, tenant: str = "default",
              context: dict | None = None, configurable: dict | None = None, started_by: str = "",
              max_cost_usd: float | None = None, local_graph: bool = False, platform: PlatformRun | None = None,
              run_id: str | None = None) -> tuple[str, RunInput, dict]:
    """A new run's id (``run_id``, or a new UUID), its workflow input and the workflow start options
    (id, task queue, search attributes); ``max_cost_usd`` is the version's per-run budget (US dollars,
    None: none); ``local_graph``: the version is checkpointed at exit, so its steps run as local
    activities first (``local_graph_timeout_s``); ``platform``: a LangGraph Platform API run."""
    settings = get_settings()
    run_id = run_id or str(uuid.uuid4())
    p = platform or PlatformRun(ends_at_interrupt=False)
    inp = RunInput(run_id=run_id, agent_name=agent_name, version=version, thread_id=thread_id or run_id, input=run_input,
                   tenant=tenant, heartbeat_timeout_s=settings.graph_heartbeat_timeout_s, resume_timeout_s=settings.resume_timeout_s,
                   context=context, configurable=configurable or {}, started_by=started_by, max_cost_usd=max_cost_usd,
                   local_graph_timeout_s=settings.local_graph_timeout_s if local_graph and settings.local_graph_timeout_s else None,
                   ends_at_interrupt=p.ends_at_interrupt, resume=p.resume, wait_for_thread=p.wait_for_thread,
                   metadata=p.metadata, stream_modes=p.stream_modes, stream_subgraphs=p.stream_subgraphs,
                   webhook=p.webhook)
    options = dict(id=run_workflow_id(run_id), task_queue=AGENTS_TASK_QUEUE, id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                   search_attributes=TypedSearchAttributes([SearchAttributePair(SA_AGENT, agent_name),
                                                            SearchAttributePair(SA_TENANT, tenant)]))
    return run_id, inp, options


@dataclass(frozen=True)
class PlatformRun:
    """How a LangGraph Platform API run differs from Shipway's own: it ends at an interrupt
    (``ends_at_interrupt``), may answer its thread's pending interrupt (``resume``: ``command.resume``,
    any JSON value; None: none), may queue for a busy thread (``wait_for_thread``), keeps the
    caller's ``metadata``, and may store its chunks of ``stream_modes`` (of subgraphs too with
    ``stream_subgraphs``) in ``run_events``, and may POST itself to a ``webhook`` once it ended."""

    ends_at_interrupt: bool = True
    resume: Any = None
    wait_for_thread: bool = False
    metadata: dict = field(default_factory=dict)
    stream_modes: list[str] | None = None
    stream_subgraphs: bool = False
    webhook: str | None = None


async def start_run(client: Client, agent_name: str, version: int, run_input: dict, *, thread_id: str | None = None,
                    tenant: str = "default", context: dict | None = None, configurable: dict | None = None,
                    wait: bool = False, started_by: str = "", max_cost_usd: float | None = None,
                    local_graph: bool = False, platform: PlatformRun | None = None,
                    run_id: str | None = None) -> tuple[str, RunResult | None]:
    """Start an ``AgentRunWorkflow`` of ``version`` and wait, in one update-with-start call, until it
    has claimed its thread (``wait=False``; the result is None) or has settled (``wait=True``:
    interrupted, succeeded or failed; None for a run that failed, whose workflow closed as it answered:
    read its row). ``context`` and ``configurable`` reach the graph;
    ``started_by`` is the id of the API key that started it; ``max_cost_usd`` the version's per-run budget
    (US dollars: the run stops ``budget_exceeded`` once its LLM cost reaches it; None: no budget);
    ``local_graph``: the version is checkpointed at exit (its steps run as local activities first).

    Raises:
        ActionRefused: the thread belongs to another agent or tenant, or another run holds it.
    """
    run_id, inp, options = run_start(agent_name, version, run_input, thread_id, tenant, context, configurable, started_by,
                                     max_cost_usd, local_graph, platform, run_id)
    operation = WithStartWorkflowOperation(RUN_WORKFLOW, inp, **options)
    if platform is not None and platform.wait_for_thread and not wait:
        # a queued run is accepted once its thread is free, which may be long after this call
        await client.start_workflow(RUN_WORKFLOW, inp, **options)
        return run_id, None
    if wait:
        try:
            result = await client.execute_update_with_start_workflow(UPDATE_RUN_SETTLED, start_workflow_operation=operation,
                                                                     result_type=RunResult)
        except WorkflowUpdateFailedError:
            # a run that fails closes its workflow in the same task that answers the update; the run
            # row (recorded before) says how it ended
            return run_id, None
        if result.status == RunStatus.REFUSED:
            raise ActionRefused(result.error or "run refused")
        return run_id, result
    accepted = await client.execute_update_with_start_workflow(UPDATE_RUN_ACCEPTED, start_workflow_operation=operation,
                                                               result_type=RunStartResult)
    if not accepted.accepted:
        raise ActionRefused(accepted.reason)
    return run_id, None


async def wait_run(client: Client, run_id: str) -> RunResult | None:
    """Wait until a run settles; None when its workflow had already closed (read the run row instead)."""
    handle = client.get_workflow_handle(run_workflow_id(run_id))
    try:
        return await handle.execute_update(UPDATE_RUN_SETTLED, result_type=RunResult)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    except WorkflowUpdateFailedError:
        pass
    return None


async def resume_run(client: Client, run_id: str, value: dict, actor: str) -> ResumeAck:
    """Answer an interrupted run (the ``resume_run`` update).

    Raises:
        ActionRefused: the run is not waiting for input (or has closed), or the value is not a
            non-empty JSON object.
    """
    handle = client.get_workflow_handle(run_workflow_id(run_id))
    try:
        return await handle.execute_update(UPDATE_RESUME_RUN, ResumeRequest(value=value, actor=actor), result_type=ResumeAck)
    except WorkflowUpdateFailedError as exc:
        raise _update_refusal(exc) from exc
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise ActionRefused("run has finished; it is not waiting for input") from exc


async def create_thread(client: Client, thread_id: str, tenant: str, metadata: dict, if_exists: str = "raise",
                        created_by: str = "") -> bool:
    """Make a thread before its first run (``ThreadWorkflow``), recording the id of the key that
    made it (``created_by``); True when made, False when ``if_exists="do_nothing"`` found it already there.

    Raises:
        ActionRefused: the id is taken (by this tenant with ``if_exists="raise"``, or by another tenant).
    """
    result = await client.execute_workflow(
        THREAD_WORKFLOW, ThreadCreate(thread_id=thread_id, tenant=tenant, metadata=metadata, if_exists=if_exists,
                                      created_by=created_by),
        id=thread_workflow_id(thread_id), task_queue=AGENTS_TASK_QUEUE, result_type=ThreadCreateResult,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    if result.reason:
        raise ActionRefused(result.reason)
    return result.created


async def cancel_run(client: Client, run_id: str, wait: bool = True) -> bool:
    """Cancel a run (running, queued, or waiting for a human) and, with ``wait``, wait until its
    workflow closed, having recorded ``cancelled`` (or its outcome, when it ended first); False
    when the workflow had already closed (nothing to cancel)."""
    handle = client.get_workflow_handle(run_workflow_id(run_id))
    try:
        await handle.cancel()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    if not wait:
        return True
    try:
        await handle.result()
    except WorkflowFailureError:
        pass  # cancelled (or failed first): the run row says which
    return True
