"""Operator actions from the console: submitting an agent, approval decisions and answers to interrupted runs.

Each call opens a Temporal client (``shipway.temporal.connect``) on a fresh event loop, because a
Streamlit script run is synchronous and a Temporal client is bound to the loop it was created on.
The actions themselves live in ``shipway.control``; decisions and answers return once the workflow
has answered, a submission once its lifecycle workflow has started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import Client

from shipway import control
from shipway.db.engine import Database
from shipway.temporal import connect
from workflows.statuses import ApprovalKind
from workflows.types import ApprovalOutcome, ResumeAck

T = TypeVar("T")


def with_client(action: Callable[[Client], Awaitable[T]]) -> T:
    """Connect to Temporal and run ``action(client)`` to completion.

    Raises:
        RuntimeError: no Temporal address is configured, or the server cannot be reached.
    """

    async def main() -> T:
        return await action(await connect())

    return asyncio.run(main())


def submit(raw_spec: dict, submitted_by: str) -> tuple[str, int, str]:
    """Start the lifecycle of a new version of ``raw_spec`` as ``submitted_by``; returns
    ``(name, version, workflow_id)`` once the workflow has started (it validates the spec itself).

    Raises:
        shipway.spec.SpecError: the spec has no valid ``name``.
        RuntimeError: Temporal or the database is not configured, or Temporal is unreachable.
        sqlalchemy.exc.OperationalError: the database is unreachable.
    """

    async def action(client: Client) -> tuple[str, int, str]:
        async with Database.from_settings(pool_size=1) as db:
            return await control.submit_agent(client, db, raw_spec, submitted_by)

    return with_client(action)


def decide(agent: str, version: int, decision: ApprovalKind, approver: str, reason: str) -> ApprovalOutcome:
    """Approve or reject ``agent`` v``version`` as ``approver``; returns the accepted outcome once
    the lifecycle workflow has recorded it.

    Raises:
        shipway.control.ActionRefused: the workflow refused the decision (``reason`` says why, e.g.
            the approver owns the agent, or the version is not awaiting approval).
        RuntimeError: Temporal is unreachable.
        temporalio.service.RPCError: the version has no lifecycle workflow.
    """
    return with_client(lambda client: control.decide(client, agent, version, decision, approver, reason))


def resume(run_id: str, value: dict[str, Any], actor: str) -> ResumeAck:
    """Answer an interrupted run with ``value`` as ``actor``; returns the workflow's acknowledgement.

    Raises:
        shipway.control.ActionRefused: the run is not waiting for input (or has closed), or the value
            is not a non-empty JSON object.
        RuntimeError: Temporal is unreachable.
    """
    return with_client(lambda client: control.resume_run(client, run_id, value, actor))
