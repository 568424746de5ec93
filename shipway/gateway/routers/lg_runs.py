"""LangGraph Platform API: making threads, and runs on them (background, waited on, joined, listed,
cancelled). A Platform run is one ``AgentRunWorkflow`` that ends at an interrupt; answering it is a
new run on the thread with ``command={"resume": ...}`` (:mod:`shipway.langgraph_api.run_start`).
A ``webhook`` gets the ended run and its final values, signed (``X-Shipway-Signature``,
:mod:`shipway.run_webhook_signature`) and retried by an activity. Streams: :mod:`.lg_streams`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from temporalio.client import Client

from shipway import control, queries
from shipway.auth.keys import Principal
from shipway.auth.roles import Action
from shipway.db.engine import Database
from shipway.db.models import Run
from shipway.gateway.auth import require
from shipway.gateway.deps import get_client, get_db
from shipway.gateway.errors import ApiError
from shipway.gateway.routers.lg_threads import thread_row
from shipway.gateway.schemas import JsonObject, LookupText, ThreadId
from shipway.langgraph_api import assistants
from shipway.langgraph_api.errors import RESPONSES, PlatformError, PlatformRoute
from shipway.langgraph_api.graphs import graph_states_lifespan
from shipway.langgraph_api.run_start import RunCreate, Starter, run_of_thread, start_platform_run
from shipway.langgraph_api.run_views import run_object, wait_body
from shipway.langgraph_api.thread_views import empty_state, state_view, thread_view

router = APIRouter(tags=["langgraph platform: runs"], route_class=PlatformRoute, lifespan=graph_states_lifespan,
                   responses=RESPONSES)


_CONFLICT = {409: {"model": PlatformError, "description": "The thread is busy (reject), another agent's, or the id is taken"}}


class ThreadCreateBody(BaseModel):
    """``POST /threads``: optional ``thread_id`` (a new UUID otherwise), ``metadata``, ``if_exists``."""

    model_config = ConfigDict(extra="allow")
    thread_id: ThreadId | None = None
    metadata: JsonObject | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"


@router.post("/threads", responses=_CONFLICT)
async def create_thread(body: ThreadCreateBody, db: Annotated[Database, Depends(get_db)],
                        client: Annotated[Client, Depends(get_client)],
                        principal: Annotated[Principal, Depends(require(Action.RUN_START))]) -> JSONResponse:
    """Make a thread of the key's tenant (``ThreadWorkflow``). 409 when the id is taken (with
    ``if_exists="raise"``, or by another tenant)."""
    thread_id = body.thread_id or str(uuid.uuid4())
    try:
        await control.create_thread(client, thread_id, principal.tenant, body.metadata or {}, body.if_exists,
                                    created_by=principal.key_id)
    except control.ActionRefused as exc:
        raise ApiError(409, "thread exists", exc.reason) from exc
    row = await thread_row(db, thread_id, principal)
    return JSONResponse(thread_view(row, empty_state(thread_id) if row.run is None else None))


def _located(run: Run, content: Any, status: int = 200) -> JSONResponse:
    """``content`` with the headers the SDK reads: where the run is (``Content-Location``) and where to join it (``Location``)."""
    where = f"/threads/{run.thread_id}/runs/{run.id}"
    return JSONResponse(content, status_code=status, headers={"Content-Location": where, "Location": f"{where}/join"})


async def _settled_body(request: Request, db: Database, client: Client, run: Run, tenant: str) -> dict[str, Any]:
    """The wait/join body of ``run`` once it settled (waiting for it first), from its thread's latest state."""
    if run.status == "running" or run.workflow_id == "":
        await control.wait_run(client, run.id)
        run = await db.read(queries.run, run.id, as_tenant=tenant)
    states = request.app.state.graph_states
    state = state_view(await states.state(await states.graph(run.agent_name, run.version, tenant), run.thread_id, tenant),
                       run.thread_id)
    return wait_body(run, state["values"], state["interrupts"])


@router.post("/threads/{thread_id}/runs", responses=_CONFLICT)
async def create_run(thread_id: ThreadId, body: RunCreate, start: Starter) -> JSONResponse:
    """Start a background run on the thread; answers the Run object (``runs.create``)."""
    run = await start_platform_run(thread_id, body, start, wait=False)
    return _located(run, run_object(run, assistants.assistant_id(run.agent_name), body.multitask_strategy))


@router.post("/runs", responses=_CONFLICT)
async def create_stateless_run(body: RunCreate, start: Starter) -> JSONResponse:
    """Start a background run on a new thread of its own (``runs.create`` with no thread)."""
    run = await start_platform_run(None, body, start, wait=False)
    return _located(run, run_object(run, assistants.assistant_id(run.agent_name), body.multitask_strategy))


@router.post("/threads/{thread_id}/runs/wait", responses=_CONFLICT)
async def wait_run(request: Request, thread_id: ThreadId, body: RunCreate, start: Starter) -> JSONResponse:
    """Run on the thread and answer its final values, ``__interrupt__`` or ``__error__`` (``runs.wait``)."""
    run = await start_platform_run(thread_id, body, start, wait=True)
    return _located(run, await _settled_body(request, start.db, start.client, run, start.principal.tenant))


@router.post("/runs/wait", responses=_CONFLICT)
async def wait_stateless_run(request: Request, body: RunCreate, start: Starter) -> JSONResponse:
    """Run on a new thread of its own and answer as ``runs.wait`` does; the thread is kept."""
    run = await start_platform_run(None, body, start, wait=True)
    return _located(run, await _settled_body(request, start.db, start.client, run, start.principal.tenant))


@router.get("/threads/{thread_id}/runs")
async def list_runs(thread_id: ThreadId, db: Annotated[Database, Depends(get_db)],
                    principal: Annotated[Principal, Depends(require(Action.RUN_READ))],
                    limit: Annotated[int, Query(ge=1, le=1000)] = 10, offset: Annotated[int, Query(ge=0)] = 0,
                    status: LookupText | None = None) -> JSONResponse:
    """The thread's runs, newest first."""
    if await db.read(queries.thread, thread_id, as_tenant=principal.tenant) is None:
        raise ApiError(404, f"thread {thread_id!r} not found")
    rows = await db.read(queries.thread_runs, thread_id, limit, offset, as_tenant=principal.tenant)
    views = [run_object(r, assistants.assistant_id(r.agent_name)) for r in rows]
    return JSONResponse([v for v in views if status is None or v["status"] == status])


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(thread_id: ThreadId, run_id: LookupText, db: Annotated[Database, Depends(get_db)],
                  client: Annotated[Client, Depends(get_client)], principal: Annotated[Principal, Depends(require(Action.RUN_READ))]) -> JSONResponse:
    """One run of the thread (``runs.get``)."""
    run = await run_of_thread(db, client, thread_id, run_id, principal)
    return JSONResponse(run_object(run, assistants.assistant_id(run.agent_name)))


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(request: Request, thread_id: ThreadId, run_id: LookupText, db: Annotated[Database, Depends(get_db)],
                   client: Annotated[Client, Depends(get_client)],
                   principal: Annotated[Principal, Depends(require(Action.RUN_READ))]) -> JSONResponse:
    """Wait for the run to settle and answer as ``runs.wait`` does (``runs.join``)."""
    run = await run_of_thread(db, client, thread_id, run_id, principal)
    return JSONResponse(await _settled_body(request, db, client, run, principal.tenant))


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", responses=_CONFLICT)
async def cancel_run(thread_id: ThreadId, run_id: LookupText, db: Annotated[Database, Depends(get_db)],
                     client: Annotated[Client, Depends(get_client)],
                     principal: Annotated[Principal, Depends(require(Action.RUN_START))],
                     wait: bool = False, action: Literal["interrupt", "rollback"] = "interrupt") -> JSONResponse:
    """Cancel a run (``runs.cancel``): it ends ``interrupted`` and frees its thread. 409 when it has
    already ended; ``action=rollback`` is not implemented (422)."""
    if action == "rollback":
        raise ApiError(422, "not implemented by Shipway: action=rollback")
    run = await run_of_thread(db, client, thread_id, run_id, principal)
    if run.status != "running":
        raise ApiError(409, f"run {run_id!r} is not running: it is {run.status}")
    await control.cancel_run(client, run_id, wait=wait)
    if wait:
        run = await db.read(queries.run, run_id, as_tenant=principal.tenant)
        return JSONResponse(run_object(run, assistants.assistant_id(run.agent_name)))
    return JSONResponse(None, status_code=202)
