"""LangGraph Platform API: making threads, and runs on them (background, waited on, joined, cancelled).

A Platform run is one ``AgentRunWorkflow`` that ends at an interrupt (``PlatformRun``); answering
it is a new run on the thread with ``command={"resume": ...}``. Canary routing applies as on
``/v1``: a new thread is routed by the live traffic weights, a thread stays on its version.
``multitask_strategy`` on a thread that a run holds: ``reject`` answers 409; ``enqueue`` (the
default) queues the run in its workflow until the thread is free; ``interrupt`` cancels the
holder first. Not implemented, answered 422 naming the field: ``rollback``, ``command.update`` /
``command.goto``, ``interrupt_before`` / ``interrupt_after``, ``checkpoint`` / ``checkpoint_id``,
``after_seconds``. A ``webhook`` gets the ended run and its final values, signed
(``X-Shipway-Signature``, :mod:`shipway.run_webhook_signature`) and retried by an activity; it needs
``SHIPWAY_RUN_WEBHOOK_SECRET``, and a private address needs ``SHIPWAY_RUN_WEBHOOK_ALLOW_PRIVATE``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.run_events import END, MESSAGES_TUPLE, graph_stream_modes
from activities.run_webhooks import check_destination
from shipway import control, queries
from shipway.auth.keys import Principal
from shipway.auth.roles import Action
from shipway.db.engine import Database
from shipway.db.models import Run, Thread, utcnow
from shipway.gateway.auth import require
from shipway.gateway.budgets import refuse_over_daily_budget
from shipway.gateway.deps import get_client, get_db, get_settings, get_versions
from shipway.gateway.errors import ApiError
from shipway.gateway.sse import HEARTBEAT, MEDIA_TYPE, parse_last_event_id, sse
from shipway.gateway.schemas import JsonObject, LookupText, ThreadId, storable
from shipway.gateway.versions import UnknownVersion, VersionCache
from shipway.langgraph_api import assistants
from shipway.settings import Settings
from shipway.langgraph_api.errors import RESPONSES, PlatformRoute, PlatformError
from shipway.langgraph_api.run_views import run_object, wait_body
from shipway.langgraph_api.graphs import graph_states_lifespan
from shipway.gateway.routers.lg_threads import thread_row
from shipway.run_event_stream import follow
from shipway.langgraph_api.thread_views import empty_state, state_view, thread_view
from workflows.types import SA_AGENT, SA_TENANT, run_workflow_id

router = APIRouter(tags=["langgraph platform: runs"], route_class=PlatformRoute, lifespan=graph_states_lifespan,
                   responses=RESPONSES)
_CONFLICT = {409: {"model": PlatformError, "description": "The thread is busy (reject), another agent's, or the id is taken"}}

_NOT_IMPLEMENTED = ("interrupt_before", "interrupt_after", "checkpoint", "checkpoint_id", "after_seconds")


class Command(BaseModel):
    """``command``: only ``resume`` is implemented (any JSON value answering the pending interrupt)."""

    model_config = ConfigDict(extra="allow")
    resume: Annotated[Any, AfterValidator(storable)] = None
    update: Any = None
    goto: Any = None


class RunCreate(BaseModel):
    """The body of ``POST /threads/{tid}/runs[/wait]`` and ``POST /runs[/wait]`` (langgraph_sdk's
    ``runs.create`` / ``runs.wait`` payload); fields the SDK sends that Shipway ignores are accepted."""

    model_config = ConfigDict(extra="allow")
    assistant_id: LookupText
    input: JsonObject | None = None
    command: Command | None = None
    config: JsonObject | None = None
    context: JsonObject | None = None
    metadata: JsonObject | None = None
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] = "enqueue"
    if_not_exists: Literal["create", "reject"] = "reject"
    webhook: LookupText | None = None
    stream_mode: Any = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    on_completion: Literal["delete", "keep"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None


class ThreadCreateBody(BaseModel):
    """``POST /threads``: optional ``thread_id`` (a new UUID otherwise), ``metadata``, ``if_exists``."""

    model_config = ConfigDict(extra="allow")
    thread_id: ThreadId | None = None
    metadata: JsonObject | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"


async def _check_webhook(url: str, settings: Settings) -> None:
    """422 for a webhook Shipway would not deliver: no signing secret configured, not http(s), or
    an address it may not reach (checked again at delivery)."""
    if not settings.run_webhook_secret:
        raise ApiError(422, "webhook: run webhooks are signed; set SHIPWAY_RUN_WEBHOOK_SECRET to use them")
    try:
        await check_destination(url, settings.run_webhook_allow_private)
    except ApplicationError as exc:
        raise ApiError(422, f"webhook: {exc.message}") from exc


def _refuse_unimplemented(body: RunCreate) -> None:
    """422 naming each field set in ``body`` that Shipway does not implement."""
    unsupported = [name for name in _NOT_IMPLEMENTED if getattr(body, name, None) not in (None, [], {})]
    if body.multitask_strategy == "rollback":
        unsupported.append("multitask_strategy=rollback")
    # RemoteGraph sends every field of its Command: no update is None, no goto an empty list
    if body.command is not None and (body.command.update not in (None, [], {}) or body.command.goto not in (None, [], {})):
        unsupported.append("command.update/goto")
    if unsupported:
        raise ApiError(422, f"not implemented by Shipway: {', '.join(unsupported)}")
    if body.command is not None and body.input is not None:
        raise ApiError(422, "give either input or command, not both")


@router.post("/threads", responses=_CONFLICT)
async def create_thread(body: ThreadCreateBody, db: Annotated[Database, Depends(get_db)],
                        client: Annotated[Client, Depends(get_client)],
                        principal: Annotated[Principal, Depends(require(Action.RUN_START))]) -> JSONResponse:
    """Make a thread of the key's tenant (``ThreadWorkflow``). 409 when the id is taken (with
    ``if_exists="raise"``, or by another tenant)."""
    thread_id = body.thread_id or str(uuid.uuid4())
    try:
        await control.create_thread(client, thread_id, principal.tenant, body.metadata or {}, body.if_exists)
    except control.ActionRefused as exc:
        raise ApiError(409, "thread exists", exc.reason) from exc
    row = await thread_row(db, thread_id, principal)
    return JSONResponse(thread_view(row, empty_state(thread_id) if row.run is None else None))


async def _agent(db: Database, ref: str, tenant: str) -> str:
    live = await db.read(queries.live_agents, as_tenant=tenant)
    found = assistants.resolve(ref, live)
    if found is None:
        raise ApiError(404, f"assistant {ref!r} not found")
    return found.agent.name


async def _thread(db: Database, client: Client, thread_id: str, body: RunCreate, principal: Principal, agent: str) -> Thread:
    """The run's thread, made first with ``if_not_exists="create"``; 404 when missing, 409 when it is another agent's."""
    thread = await db.read(queries.thread, thread_id, as_tenant=principal.tenant)
    if thread is None:
        if body.if_not_exists != "create":
            raise ApiError(404, f"thread {thread_id!r} not found")
        try:
            await control.create_thread(client, thread_id, principal.tenant, {}, "do_nothing")
        except control.ActionRefused as exc:
            raise ApiError(409, "thread not available", exc.reason) from exc
        thread = await db.read(queries.thread, thread_id, as_tenant=principal.tenant)
    if thread.agent_name not in (None, agent):
        raise ApiError(409, "thread not available", f"thread {thread_id!r} belongs to agent {thread.agent_name!r}")
    return thread


@dataclass(frozen=True)
class _Start:
    """What starting a run needs: the database, Temporal, the served versions, the settings and the caller."""

    db: Database
    client: Client
    versions: VersionCache
    settings: Settings
    principal: Principal


async def _starter(db: Annotated[Database, Depends(get_db)], client: Annotated[Client, Depends(get_client)],
                   versions: Annotated[VersionCache, Depends(get_versions)], settings: Annotated[Settings, Depends(get_settings)],
                   principal: Annotated[Principal, Depends(require(Action.RUN_START))]) -> _Start:
    return _Start(db, client, versions, settings, principal)


Starter = Annotated[_Start, Depends(_starter)]


async def _start(thread_id: str | None, body: RunCreate, start: _Start, wait: bool,
                 stream_modes: list[str] | None = None) -> Run:
    """Start (and with ``wait`` wait for) one Platform run, storing its chunks of ``stream_modes``
    for its stream; returns its row."""
    db, client, versions, settings, principal = start.db, start.client, start.versions, start.settings, start.principal
    _refuse_unimplemented(body)
    if body.webhook is not None:
        await _check_webhook(body.webhook, settings)
    agent = await _agent(db, body.assistant_id, principal.tenant)
    queued = False
    if thread_id is not None:
        thread = await _thread(db, client, thread_id, body, principal, agent)
        if thread.active_run_id:
            queued = body.multitask_strategy == "enqueue"
            if body.multitask_strategy == "reject":
                raise ApiError(409, "thread is busy", f"run {thread.active_run_id} holds thread {thread_id!r}")
            if body.multitask_strategy == "interrupt":
                await control.cancel_run(client, thread.active_run_id)
    try:
        version = await control.pick_version(db, agent, tenant=principal.tenant, thread_id=thread_id)
        served = await versions.get(agent, version, principal.tenant)
    except (control.UnknownAgentError, UnknownVersion) as exc:
        raise ApiError(404, str(exc)) from exc
    resume = body.command.resume if body.command is not None else None
    if resume is None and (errors := served.input_errors(body.input or {})):
        raise ApiError(422, "invalid input for agent", errors)
    await refuse_over_daily_budget(db, agent, principal)
    platform = control.PlatformRun(resume=resume, wait_for_thread=queued, metadata=body.metadata or {},
                                   stream_modes=stream_modes, stream_subgraphs=body.stream_subgraphs, webhook=body.webhook)
    configurable = (body.config or {}).get("configurable")
    # local graph steps only for a caller who waits: the run's acceptance is answered with the
    # workflow task, which a local step holds until the graph ends
    try:
        run_id, _ = await control.start_run(client, agent, version, {} if resume is not None else body.input or {},
                                            thread_id=thread_id, tenant=principal.tenant, context=body.context,
                                            configurable=configurable, wait=wait, started_by=principal.key_id,
                                            max_cost_usd=served.max_cost_usd, local_graph=served.durability == "exit" and wait,
                                            platform=platform)
    except control.ActionRefused as exc:
        raise ApiError(409, "thread not available", exc.reason) from exc
    if not wait:
        row = await db.read(queries.run, run_id, as_tenant=principal.tenant)
        if row is None:  # queued for a busy thread: not recorded until it holds it
            return Run(id=run_id, agent_name=agent, version=version, thread_id=thread_id or run_id, tenant=principal.tenant,
                       workflow_id="", meta=body.metadata or {}, started_at=utcnow())
        return row
    return await db.read(queries.run, run_id, as_tenant=principal.tenant)


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
    run = await _start(thread_id, body, start, wait=False)
    return _located(run, run_object(run, assistants.assistant_id(run.agent_name), body.multitask_strategy))


@router.post("/runs", responses=_CONFLICT)
async def create_stateless_run(body: RunCreate, start: Starter) -> JSONResponse:
    """Start a background run on a new thread of its own (``runs.create`` with no thread)."""
    run = await _start(None, body, start, wait=False)
    return _located(run, run_object(run, assistants.assistant_id(run.agent_name), body.multitask_strategy))


@router.post("/threads/{thread_id}/runs/wait", responses=_CONFLICT)
async def wait_run(request: Request, thread_id: ThreadId, body: RunCreate, start: Starter) -> JSONResponse:
    """Run on the thread and answer its final values, ``__interrupt__`` or ``__error__`` (``runs.wait``)."""
    run = await _start(thread_id, body, start, wait=True)
    return _located(run, await _settled_body(request, start.db, start.client, run, start.principal.tenant))


@router.post("/runs/wait", responses=_CONFLICT)
async def wait_stateless_run(request: Request, body: RunCreate, start: Starter) -> JSONResponse:
    """Run on a new thread of its own and answer as ``runs.wait`` does; the thread is kept."""
    run = await _start(None, body, start, wait=True)
    return _located(run, await _settled_body(request, start.db, start.client, run, start.principal.tenant))


async def _run_of_thread(db: Database, client: Client, thread_id: str, run_id: str, principal: Principal) -> Run:
    """The run's row; a run queued for its busy thread (``enqueue``), not recorded yet, as a pending
    row from its workflow. 404 for a run of another thread or tenant."""
    run = await db.read(queries.run, run_id, as_tenant=principal.tenant)
    if run is None:
        run = await _queued(client, run_id, thread_id, principal.tenant)
    if run is None or run.thread_id != thread_id:
        raise ApiError(404, f"run {run_id!r} not found on thread {thread_id!r}")
    return run


async def _queued(client: Client, run_id: str, thread_id: str, tenant: str) -> Run | None:
    """A pending row for a run workflow of ``tenant`` that is still waiting for ``thread_id``, or None."""
    try:
        described = await client.get_workflow_handle(run_workflow_id(run_id)).describe()
    except RPCError:
        return None
    attrs = described.typed_search_attributes
    if attrs.get(SA_TENANT) != tenant or described.status != WorkflowExecutionStatus.RUNNING:
        return None
    return Run(id=run_id, agent_name=attrs.get(SA_AGENT) or "", version=0, thread_id=thread_id, tenant=tenant,
               workflow_id="", started_at=described.start_time)


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
    run = await _run_of_thread(db, client, thread_id, run_id, principal)
    return JSONResponse(run_object(run, assistants.assistant_id(run.agent_name)))


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(request: Request, thread_id: ThreadId, run_id: LookupText, db: Annotated[Database, Depends(get_db)],
                   client: Annotated[Client, Depends(get_client)],
                   principal: Annotated[Principal, Depends(require(Action.RUN_READ))]) -> JSONResponse:
    """Wait for the run to settle and answer as ``runs.wait`` does (``runs.join``)."""
    run = await _run_of_thread(db, client, thread_id, run_id, principal)
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
    run = await _run_of_thread(db, client, thread_id, run_id, principal)
    if run.status != "running":
        raise ApiError(409, f"run {run_id!r} is not running: it is {run.status}")
    await control.cancel_run(client, run_id, wait=wait)
    if wait:
        run = await db.read(queries.run, run_id, as_tenant=principal.tenant)
        return JSONResponse(run_object(run, assistants.assistant_id(run.agent_name)))
    return JSONResponse(None, status_code=202)


def _stream_modes(requested: Any) -> list[str]:
    """The Platform stream modes asked for (``stream_mode``: one or a list; default ``values``).

    Raises:
        ApiError: 422 naming a mode Shipway does not stream.
    """
    modes = [requested] if isinstance(requested, str) else list(requested or ["values"])
    try:
        graph_stream_modes(modes)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc
    return modes


def _event_stream(request: Request, run: Run, tenant: str, after_id: int | None, modes: list[str] | None) -> StreamingResponse:
    """The run's events as the Platform's server-sent events: ``metadata`` first, then every stored
    event after ``after_id`` (each with its id, to resume from) and each new one as the worker
    stores it, a heartbeat comment while idle, until the run's stream ends. ``modes``: only events
    of these modes (and ``error``); None: all."""
    db: Database = request.app.state.db
    settings = request.app.state.settings
    wanted = None if modes is None else {"messages" if m == MESSAGES_TUPLE else m for m in modes} | {"error"}

    async def events() -> AsyncIterator[bytes]:
        yield sse("metadata", {"run_id": run.id, "attempt": 1})
        async with aclosing(follow(db.url, db.role, run.id, tenant, after_id, settings.stream_heartbeat_s)) as stored:
            async for event in stored:
                if event is None:
                    yield HEARTBEAT
                elif event.event == END:
                    return
                elif wanted is None or event.event.split("|", 1)[0] in wanted:
                    yield sse(event.event, event.data, event.id)

    where = f"/threads/{run.thread_id}/runs/{run.id}"
    return StreamingResponse(events(), media_type=MEDIA_TYPE,
                             headers={"Content-Location": where, "Location": f"{where}/stream", "Cache-Control": "no-store"})


@router.post("/threads/{thread_id}/runs/stream", response_class=StreamingResponse, responses=_CONFLICT)
async def stream_run(request: Request, thread_id: ThreadId, body: RunCreate, start: Starter) -> StreamingResponse:
    """Start a run on the thread and stream it (``runs.stream``); the stream can be joined again
    from any gateway with ``Last-Event-ID`` (``GET .../stream``)."""
    modes = _stream_modes(body.stream_mode)
    run = await _start(thread_id, body, start, wait=False, stream_modes=modes)
    return _event_stream(request, run, start.principal.tenant, None, modes)


@router.post("/runs/stream", response_class=StreamingResponse, responses=_CONFLICT)
async def stream_stateless_run(request: Request, body: RunCreate, start: Starter) -> StreamingResponse:
    """Start a run on a new thread of its own and stream it."""
    modes = _stream_modes(body.stream_mode)
    run = await _start(None, body, start, wait=False, stream_modes=modes)
    return _event_stream(request, run, start.principal.tenant, None, modes)


@router.get("/threads/{thread_id}/runs/{run_id}/stream", response_class=StreamingResponse)
async def join_stream(request: Request, thread_id: ThreadId, run_id: LookupText, db: Annotated[Database, Depends(get_db)],
                      client: Annotated[Client, Depends(get_client)],
                      principal: Annotated[Principal, Depends(require(Action.RUN_READ))],
                      last_event_id: Annotated[str | None, Header()] = None,
                      stream_mode: Annotated[list[str] | None, Query()] = None) -> StreamingResponse:
    """Join a run's stream (``runs.join_stream``): with ``Last-Event-ID``, the events after that id,
    else all of them, then the new ones until the run's stream ends. 422 for a malformed
    ``Last-Event-ID``; a run that was not streamed has no events and ends at once when it settles."""
    try:
        after = parse_last_event_id(last_event_id)
    except ValueError as exc:
        raise ApiError(422, f"Last-Event-ID: {exc}") from exc
    run = await _run_of_thread(db, client, thread_id, run_id, principal)
    modes = [m for m in stream_mode or [] if m]  # the SDK sends an empty ``stream_mode`` for none
    return _event_stream(request, run, principal.tenant, after, _stream_modes(modes) if modes else None)
