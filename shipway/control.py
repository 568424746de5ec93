"""Operator actions shared by the CLI, the console, the gateway and the demo.

Each action talks to Temporal (signals, updates, starts) and, where it must, the
catalog database; none of them bypasses a workflow.
"""

from __future__ import annotations

import random
import uuid
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from shipway.db.models import Agent, AgentVersion, Run, TrafficWeight
from shipway.settings import AGENTS_TASK_QUEUE, CONTROL_TASK_QUEUE, get_settings
from shipway.spec import NAME_RE, SpecError
from shipway.temporal import SA_AGENT, SA_TENANT
from workflows.types import (
    SIGNAL_APPROVE,
    SIGNAL_REJECT,
    UPDATE_RESUME_RUN,
    UPDATE_WAIT_SETTLED,
    ApprovalDecision,
    LifecycleInput,
    ResumeRequest,
    RunInput,
    RunResult,
    lifecycle_workflow_id,
    run_workflow_id,
)


class UnknownAgentError(LookupError):
    """The agent does not exist or has no live version to route to."""


class UnknownRunError(LookupError):
    """No run with that id exists."""


async def submit_agent(client: Client, engine: AsyncEngine, raw_spec: dict, submitted_by: str) -> tuple[str, int, str]:
    """Record a new version of an agent and start its ``AgentLifecycleWorkflow``.

    Only the name is checked here (the workflow id needs it); full validation is the
    workflow's first step, so a malformed spec is recorded and fails visibly there.

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
    async with AsyncSession(engine, expire_on_commit=False) as session:
        agent = await session.get(Agent, name)
        if agent is None:
            session.add(Agent(name=name, owner=str(raw_spec.get("owner", "")), template=str(raw_spec.get("template", "")),
                              description=str(raw_spec.get("description", ""))))
        last = (await session.exec(select(func.max(AgentVersion.version)).where(AgentVersion.agent_name == name))).first()
        version = (last or 0) + 1
        wf_id = lifecycle_workflow_id(name, version)
        session.add(AgentVersion(agent_name=name, version=version, spec=raw_spec, status="submitted", workflow_id=wf_id))
        await session.commit()
    await client.start_workflow(
        "AgentLifecycleWorkflow",
        LifecycleInput(name=name, version=version, spec=raw_spec, submitted_by=submitted_by,
                       approval_timeout_s=get_settings().approval_timeout_s,
                       reminder_every_s=get_settings().approval_reminder_s),
        id=wf_id,
        task_queue=CONTROL_TASK_QUEUE,
        search_attributes=TypedSearchAttributes([SearchAttributePair(SA_AGENT, name)]),
    )
    return name, version, wf_id


def lifecycle_handle(client: Client, name: str, version: int) -> WorkflowHandle:
    """Handle of the lifecycle workflow ``agent:{name}:v{version}``."""
    return client.get_workflow_handle(lifecycle_workflow_id(name, version))


async def approve(client: Client, name: str, version: int, approver: str, reason: str) -> None:
    """Send the ``approve`` signal as ``approver``; the workflow refuses (and records) an owner's approval."""
    await lifecycle_handle(client, name, version).signal(SIGNAL_APPROVE, ApprovalDecision(approver=approver, reason=reason))


async def reject(client: Client, name: str, version: int, approver: str, reason: str) -> None:
    """Send the ``reject`` signal as ``approver``."""
    await lifecycle_handle(client, name, version).signal(SIGNAL_REJECT, ApprovalDecision(approver=approver, reason=reason))


async def pick_version(engine: AsyncEngine, agent_name: str, rng: random.Random | None = None) -> int:
    """Choose the version to serve a request by the agent's live traffic weights (percent).

    Raises:
        UnknownAgentError: the agent has no version with positive weight.
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        weights = (await session.exec(select(TrafficWeight).where(TrafficWeight.agent_name == agent_name, TrafficWeight.weight_pct > 0))).all()
    if not weights:
        raise UnknownAgentError(f"agent {agent_name!r} does not exist or has no live version")
    r = (rng or random).uniform(0, sum(w.weight_pct for w in weights))
    for w in sorted(weights, key=lambda w: w.version):
        r -= w.weight_pct
        if r <= 0:
            return w.version
    return weights[-1].version


async def _record_run(engine: AsyncEngine, agent_name: str, run_input: dict, thread_id: str | None, tenant: str,
                      version: int | None) -> tuple[str, dict]:
    """Insert the run's row; returns ``(run_id, keyword arguments of the workflow start)``."""
    settings = get_settings()
    if version is None:
        version = await pick_version(engine, agent_name)
    run_id = str(uuid.uuid4())
    thread_id = thread_id or run_id
    wf_id = run_workflow_id(run_id)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add(Run(id=run_id, agent_name=agent_name, version=version, thread_id=thread_id, tenant=tenant,
                        input=run_input, workflow_id=wf_id))
        await session.commit()
    start = dict(
        arg=RunInput(run_id=run_id, agent_name=agent_name, version=version, thread_id=thread_id, input=run_input, tenant=tenant,
                     heartbeat_timeout_s=settings.graph_heartbeat_timeout_s, resume_timeout_s=settings.resume_timeout_s),
        id=wf_id,
        task_queue=AGENTS_TASK_QUEUE,
        search_attributes=TypedSearchAttributes([SearchAttributePair(SA_AGENT, agent_name), SearchAttributePair(SA_TENANT, tenant)]),
    )
    return run_id, start


async def start_run(client: Client, engine: AsyncEngine, agent_name: str, run_input: dict, *,
                    thread_id: str | None = None, tenant: str = "default", version: int | None = None) -> tuple[str, WorkflowHandle]:
    """Record a run and start its ``AgentRunWorkflow`` on ``shipway-agents``.

    Returns:
        ``(run_id, handle)``.

    Raises:
        UnknownAgentError: no live version of the agent.
    """
    run_id, start = await _record_run(engine, agent_name, run_input, thread_id, tenant, version)
    return run_id, await client.start_workflow("AgentRunWorkflow", start.pop("arg"), **start)


async def start_run_and_wait(client: Client, engine: AsyncEngine, agent_name: str, run_input: dict, *,
                             thread_id: str | None = None, tenant: str = "default", version: int | None = None) -> tuple[str, RunResult]:
    """Record a run, start it and wait until it settles (finished or interrupted), in one
    update-with-start call (one round trip to Temporal instead of two).

    Returns:
        ``(run_id, result)`` where ``result.status`` is ``succeeded``, ``failed`` or ``interrupted``.

    Raises:
        UnknownAgentError: no live version of the agent.
    """
    run_id, start = await _record_run(engine, agent_name, run_input, thread_id, tenant, version)
    operation = WithStartWorkflowOperation("AgentRunWorkflow", start.pop("arg"),
                                           id_conflict_policy=WorkflowIDConflictPolicy.FAIL, **start)
    result = await client.execute_update_with_start_workflow(UPDATE_WAIT_SETTLED, start_workflow_operation=operation,
                                                             result_type=RunResult)
    return run_id, result


async def resume_run(client: Client, run_id: str, value: dict, actor: str) -> dict:
    """Answer an interrupted run (the ``resume_run`` update); returns the workflow's acknowledgement.

    Raises:
        temporalio.client.WorkflowUpdateFailedError: the run is not waiting for input, or the value is refused.
    """
    handle = client.get_workflow_handle(run_workflow_id(run_id))
    return await handle.execute_update(UPDATE_RESUME_RUN, ResumeRequest(value=value, actor=actor))
