"""Operator actions from the console: approval decisions and resuming interrupted runs.

Each call opens a Temporal client (``shipway.temporal.connect``) on a fresh event
loop, because a Streamlit script run is synchronous and a Temporal client is bound
to the loop it was created on. The actions themselves live in ``shipway.control``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import Client

from shipway import control
from shipway.temporal import connect

T = TypeVar("T")


def with_client(action: Callable[[Client], Awaitable[T]]) -> T:
    """Connect to Temporal and run ``action(client)`` to completion.

    Raises:
        RuntimeError: no Temporal address is configured, or the server cannot be reached.
    """

    async def main() -> T:
        return await action(await connect())

    return asyncio.run(main())


def decide(decision: str, agent: str, version: int, approver: str, reason: str) -> None:
    """Signal ``approve`` or ``reject`` to the lifecycle workflow of ``agent`` v``version`` as ``approver``.

    Raises:
        ValueError: ``decision`` is neither ``approve`` nor ``reject``.
        RuntimeError: Temporal is unreachable.
        temporalio.service.RPCError: the workflow does not exist or has completed.
    """
    send = {"approve": control.approve, "reject": control.reject}.get(decision)
    if send is None:
        raise ValueError(f"decision must be 'approve' or 'reject', not {decision!r}")
    with_client(lambda client: send(client, agent, version, approver, reason))


def resume(run_id: str, value: dict[str, Any], actor: str) -> Any:
    """Answer an interrupted run with ``value`` as ``actor``; returns the workflow's acknowledgement.

    Raises:
        temporalio.client.WorkflowUpdateFailedError: the run is not waiting, or refused the value.
        RuntimeError: Temporal is unreachable.
    """
    return with_client(lambda client: control.resume_run(client, run_id, value, actor))
