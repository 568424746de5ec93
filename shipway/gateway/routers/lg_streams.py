"""LangGraph Platform API streams: a run started and streamed, or a run's stream joined again.

The worker stores a streamed run's chunks in ``run_events`` (:mod:`activities.run_events`); any
gateway process replays them after a client's ``Last-Event-ID`` and follows new ones with
``LISTEN`` (:mod:`shipway.run_event_stream`), in the Platform's server-sent event format
(:mod:`shipway.gateway.sse`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from temporalio.client import Client

from activities.run_events import END, MESSAGES_TUPLE, graph_stream_modes
from shipway.auth.keys import Principal
from shipway.auth.roles import Action
from shipway.db.engine import Database
from shipway.db.models import Run
from shipway.gateway.auth import require
from shipway.gateway.deps import get_client, get_db
from shipway.gateway.errors import ApiError
from shipway.gateway.schemas import LookupText, ThreadId
from shipway.gateway.sse import HEARTBEAT, MEDIA_TYPE, parse_last_event_id, sse
from shipway.langgraph_api.errors import RESPONSES, PlatformError, PlatformRoute
from shipway.langgraph_api.run_start import RunCreate, Starter, run_of_thread, start_platform_run
from shipway.run_event_stream import follow

router = APIRouter(tags=["langgraph platform: streams"], route_class=PlatformRoute, responses=RESPONSES)
_CONFLICT = {409: {"model": PlatformError, "description": "The thread is busy (reject), or another agent's"}}


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
    run = await start_platform_run(thread_id, body, start, wait=False, stream_modes=modes)
    return _event_stream(request, run, start.principal.tenant, None, modes)


@router.post("/runs/stream", response_class=StreamingResponse, responses=_CONFLICT)
async def stream_stateless_run(request: Request, body: RunCreate, start: Starter) -> StreamingResponse:
    """Start a run on a new thread of its own and stream it."""
    modes = _stream_modes(body.stream_mode)
    run = await start_platform_run(None, body, start, wait=False, stream_modes=modes)
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
    run = await run_of_thread(db, client, thread_id, run_id, principal)
    modes = [m for m in stream_mode or [] if m]  # the SDK sends an empty ``stream_mode`` for none
    return _event_stream(request, run, principal.tenant, after, _stream_modes(modes) if modes else None)
