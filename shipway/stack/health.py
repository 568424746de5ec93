"""Health probes of the stack's components. Each returns ``(healthy, detail)``; none raises."""

from __future__ import annotations

import asyncio

import httpx
import psycopg

from shipway.settings import CONTROL_TASK_QUEUE, Settings

Probe = tuple[bool, str]


def postgres(url: str, timeout_s: float = 3.0) -> Probe:
    """``SELECT 1`` on ``url``; detail is the server version or the error."""
    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout_s))) as conn:
            conn.execute("SELECT 1").fetchone()
            return True, "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error as exc:
        return False, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def http(url: str, timeout_s: float = 3.0) -> Probe:
    """GET ``url``; healthy on a 2xx answer."""
    try:
        resp = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return resp.is_success, f"HTTP {resp.status_code}"


async def temporal_async(settings: Settings, worker_pid: int | None = None, timeout_s: float = 5.0) -> Probe:
    """:func:`temporal` for callers already inside an event loop; raises on connection errors."""
    from datetime import timedelta

    from temporalio.api.enums.v1 import NamespaceState, TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeTaskQueueRequest

    from shipway.temporal import connect

    client = await asyncio.wait_for(connect(settings), timeout_s)
    ns = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=settings.temporal_namespace), timeout=timedelta(seconds=timeout_s)
    )
    if worker_pid is None:
        return True, f"namespace {ns.namespace_info.name} {NamespaceState.Name(ns.namespace_info.state)}"
    # The SDK's default worker identity is "<pid>@<host>"; a poller with it means that worker is serving.
    queue = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=settings.temporal_namespace,
            task_queue=TaskQueue(name=CONTROL_TASK_QUEUE),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=timedelta(seconds=timeout_s),
    )
    polling = [p.identity for p in queue.pollers if p.identity.startswith(f"{worker_pid}@")]
    return bool(polling), f"polling {CONTROL_TASK_QUEUE}" if polling else f"no poller from pid {worker_pid} on {CONTROL_TASK_QUEUE}"


def temporal(settings: Settings, worker_pid: int | None = None, timeout_s: float = 5.0) -> Probe:
    """Connect with the Temporal client and describe the namespace; with ``worker_pid``, also
    require a poller of that worker process on the ``shipway-control`` task queue.

    Callers exit with ``os._exit`` afterwards: the SDK's runtime may abort at interpreter exit
    (temporalio/sdk-python#300).
    """
    try:
        return asyncio.run(temporal_async(settings, worker_pid, timeout_s))
    except Exception as exc:  # any failure means "not healthy"; the detail says which
        return False, f"{type(exc).__name__}: {exc}".strip()
