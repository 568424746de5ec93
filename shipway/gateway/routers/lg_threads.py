"""LangGraph Platform API: threads, read side (``GET /threads/{thread_id}``, ``POST /threads/search``,
``GET /threads/{thread_id}/state``, ``GET /threads/{thread_id}/state/{checkpoint_id}``,
``POST /threads/{thread_id}/state/checkpoint``, ``POST /threads/{thread_id}/history``), and the
update of a thread's state (``POST /threads/{thread_id}/state``, through ``ThreadStateWorkflow``).

A thread is a Shipway conversation thread of the key's tenant; its state is read from its
checkpoints through the graph of the version that served its last run
(:mod:`shipway.langgraph_api.graphs`). Keys whose role reads every run of the tenant see every
thread; a ``caller`` key (own runs only) sees the threads no other key ran. Anything else, another
tenant's thread included, is a 404 like an unknown thread. Errors answer ``{"detail": ...}``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client, WorkflowFailureError

from activities.artifact_format import IntegrityError
from activities.artifact_store import ArtifactNotFound
from shipway import queries
from shipway.auth.keys import Principal
from shipway.auth.roles import Action, allows
from shipway.checkpoint_crypto import CheckpointDecryptionError
from shipway.db.engine import Database
from shipway.gateway.auth import require
from shipway.gateway.deps import get_client, get_db
from shipway.gateway.errors import ApiError
from shipway.gateway.routers.lg_assistants import graph_states
from shipway.gateway.schemas import JsonObject, LookupText, ThreadId
from shipway.langgraph_api import graphs, thread_views
from shipway.langgraph_api.assistants import contains, resolve
from shipway.langgraph_api.errors import RESPONSES, PlatformError, PlatformRoute
from shipway.settings import AGENTS_TASK_QUEUE
from workflows.types import (THREAD_STATE_WORKFLOW, StateUpdateRefusal, ThreadStateUpdate, ThreadStateUpdated,
                             thread_state_workflow_id)

log = logging.getLogger(__name__)
router = APIRouter(tags=["langgraph platform: threads"], route_class=PlatformRoute,
                   responses=RESPONSES, lifespan=graphs.graph_states_lifespan)
Reader = Annotated[Principal, Depends(require(Action.RUN_READ, Action.RUN_READ_OWN))]
States = Annotated[graphs.GraphStates, Depends(graph_states)]
Db = Annotated[Database, Depends(get_db)]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
# a ``values`` filter needs each thread's state: at most this many threads are read for one search
MAX_VALUES_SCAN = 500


def _own(principal: Principal) -> str | None:
    """The key id whose threads alone the principal sees (a ``caller``), or None (the whole tenant)."""
    return None if allows(principal.role, Action.RUN_READ) else principal.key_id


async def thread_row(db: Database, thread_id: str, principal: Principal) -> queries.ThreadRow:
    """The thread as the principal may see it.

    Raises:
        ApiError: 404 for an unknown thread, another tenant's, or (for a ``caller`` key) one another key ran.
    """
    row = await db.read(queries.lg_thread, thread_id, started_by=_own(principal), as_tenant=principal.tenant)
    if row is None:
        raise ApiError(404, f"thread {thread_id!r} not found")
    return row


async def _graph(states: graphs.GraphStates, row: queries.ThreadRow, tenant: str) -> graphs.VersionGraph | None:
    """The graph of the version that served the thread's current run; None before any run."""
    if row.run is None:
        return None
    try:
        return await states.graph(row.run.agent_name, row.run.version, tenant)
    except graphs.UnknownGraph as exc:
        raise ApiError(404, str(exc)) from exc
    except (ArtifactNotFound, IntegrityError) as exc:  # its artifact is gone from the store or does not verify
        raise ApiError(404, f"agent {row.run.agent_name} v{row.run.version} has no graph here: {exc}") from exc


async def read_state(states: graphs.GraphStates, row: queries.ThreadRow, tenant: str, checkpoint: dict | None = None,
                     subgraphs: bool = False) -> dict[str, Any]:
    """The thread's ``ThreadState`` (latest, or at ``checkpoint``). A thread no run checkpointed has
    empty values; a ``checkpoint`` it does not have is a 404."""
    vg = await _graph(states, row, tenant)
    if vg is None:
        if checkpoint and checkpoint.get("checkpoint_id"):
            raise ApiError(404, f"checkpoint {checkpoint['checkpoint_id']!r} not found")
        return thread_views.empty_state(row.thread.thread_id)
    snapshot = await states.state(vg, row.thread.thread_id, tenant, checkpoint, subgraphs)
    wanted = (checkpoint or {}).get("checkpoint_id")
    if wanted and snapshot.created_at is None:  # LangGraph answers an empty snapshot for an unknown checkpoint
        raise ApiError(404, f"checkpoint {wanted!r} not found")
    return thread_views.state_view(snapshot, row.thread.thread_id)


@router.get("/threads/{thread_id}")
async def get_thread(thread_id: ThreadId, db: Db, states: States, principal: Reader) -> dict:
    """The thread: metadata (with its agent as ``graph_id``/``assistant_id``), status, latest
    values and pending interrupts."""
    row = await thread_row(db, thread_id, principal)
    return thread_views.thread_view(row, await read_state(states, row, principal.tenant))


class ThreadSearch(BaseModel):
    """``POST /threads/search``: filters, order and page."""

    model_config = ConfigDict(extra="ignore")  # ``select``/``extract``: every field is returned
    metadata: JsonObject | None = None
    values: JsonObject | None = None
    ids: list[LookupText] | None = Field(default=None, max_length=1000)
    status: ThreadStatus | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None


async def _listed_state(states: graphs.GraphStates, row: queries.ThreadRow, tenant: str) -> dict[str, Any] | None:
    """A listed thread's latest state; None (no values shown) when its checkpoint cannot be
    decrypted with the configured keys or its run's version has no graph here (no artifact, or one
    missing from the store or failing its check), so one such thread does not fail the whole
    search (reading that thread alone answers 409 or 404 respectively)."""
    try:
        return await read_state(states, row, tenant)
    except CheckpointDecryptionError as exc:
        log.warning("thread %s listed without values: %s", row.thread.thread_id, exc)
    except ApiError as exc:
        if exc.status != 404:
            raise
        log.warning("thread %s listed without values: %s", row.thread.thread_id, exc.error)
    return None


@router.post("/threads/search")
async def search_threads(body: ThreadSearch, db: Db, states: States, principal: Reader) -> list[dict]:
    """Threads of the tenant whose metadata contains ``metadata`` (its ``graph_id`` and
    ``assistant_id`` also match the agent a thread is bound to), of ``status``, among ``ids``,
    newest update first unless ``sort_by``/``sort_order`` say otherwise. ``values`` keeps those whose
    latest values contain it (read from their checkpoints: at most 500 threads are considered)."""
    paged = body.values is None
    metadata = dict(body.metadata or {})
    # graph_id and assistant_id are shown in every bound thread's metadata: filter by the agent too
    graph_id = metadata.pop("graph_id", None)
    if (ref := metadata.get("assistant_id")) is not None:
        if (live := resolve(ref, await db.read(queries.live_agents, as_tenant=principal.tenant))) is not None:
            if graph_id not in (None, live.agent.name):
                return []
            graph_id = live.agent.name
            del metadata["assistant_id"]
    rows = await db.read(queries.lg_threads, metadata, body.status, body.ids, started_by=_own(principal),
                         sort_by=body.sort_by or "updated_at", descending=(body.sort_order or "desc") == "desc",
                         limit=body.limit if paged else MAX_VALUES_SCAN, offset=body.offset if paged else 0,
                         graph_id=graph_id, as_tenant=principal.tenant)
    views = [thread_views.thread_view(r, await _listed_state(states, r, principal.tenant)) for r in rows]
    if paged:
        return views
    return [v for v in views if contains(v["values"], body.values)][body.offset:body.offset + body.limit]


@router.get("/threads/{thread_id}/state")
async def get_thread_state(thread_id: ThreadId, db: Db, states: States, principal: Reader,
                           subgraphs: bool = False) -> dict:
    """The thread's latest state (with its subgraphs' states when ``subgraphs``)."""
    row = await thread_row(db, thread_id, principal)
    return await read_state(states, row, principal.tenant, subgraphs=subgraphs)


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
async def get_thread_state_at(thread_id: ThreadId, checkpoint_id: LookupText, db: Db, states: States,
                              principal: Reader, subgraphs: bool = False) -> dict:
    """The thread's state at checkpoint ``checkpoint_id`` of its root graph; 404 when it has none such."""
    row = await thread_row(db, thread_id, principal)
    return await read_state(states, row, principal.tenant, {"checkpoint_id": checkpoint_id}, subgraphs)


class CheckpointRef(BaseModel):
    """A Platform ``Checkpoint`` as a client sends it back."""

    model_config = ConfigDict(extra="ignore")
    checkpoint_id: LookupText | None = None
    checkpoint_ns: LookupText = ""
    checkpoint_map: JsonObject | None = None


class StateAtCheckpoint(BaseModel):
    """``POST /threads/{thread_id}/state/checkpoint``."""

    model_config = ConfigDict(extra="ignore")
    checkpoint: CheckpointRef
    subgraphs: bool = False


@router.post("/threads/{thread_id}/state/checkpoint")
async def post_thread_state_at(thread_id: ThreadId, body: StateAtCheckpoint, db: Db, states: States,
                               principal: Reader) -> dict:
    """The thread's state at ``checkpoint`` (its namespace and id); 404 when it has none such."""
    row = await thread_row(db, thread_id, principal)
    return await read_state(states, row, principal.tenant, body.checkpoint.model_dump(), body.subgraphs)


class HistoryQuery(BaseModel):
    """``POST /threads/{thread_id}/history``."""

    model_config = ConfigDict(extra="ignore")
    limit: int = Field(default=10, ge=1, le=1000)
    before: LookupText | CheckpointRef | None = None
    metadata: JsonObject | None = None
    checkpoint: CheckpointRef | None = None


@router.post("/threads/{thread_id}/history")
async def thread_history(thread_id: ThreadId, body: HistoryQuery, db: Db, states: States, principal: Reader) -> list[dict]:
    """Up to ``limit`` states of the thread, newest first, each linked to its ``parent_checkpoint``:
    those before ``before`` (a checkpoint id or Checkpoint), whose metadata contains ``metadata``, of
    the namespace ``checkpoint`` names (default: the root graph). A thread no run checkpointed has none."""
    row = await thread_row(db, thread_id, principal)
    vg = await _graph(states, row, principal.tenant)
    if vg is None:
        return []
    before = body.before.model_dump() if isinstance(body.before, CheckpointRef) else body.before
    snapshots = await states.history(vg, thread_id, principal.tenant, body.limit, before, body.metadata,
                                     body.checkpoint.model_dump() if body.checkpoint else None)
    return [thread_views.state_view(s, thread_id) for s in snapshots]


class StateUpdate(BaseModel):
    """``POST /threads/{thread_id}/state`` (``threads.update_state``): ``values`` (an object, a list of
    objects, or null), written as node ``as_node``, on the latest checkpoint or on ``checkpoint`` /
    ``checkpoint_id`` (the SDK's deprecated form)."""

    model_config = ConfigDict(extra="ignore")
    values: JsonObject | list[JsonObject] | None = None
    as_node: LookupText | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: LookupText | None = None


Updater = Annotated[Principal, Depends(require(Action.RUN_RESUME, Action.RUN_RESUME_OWN))]
_UPDATE_REFUSED = {StateUpdateRefusal.NOT_FOUND: 404, StateUpdateRefusal.BUSY: 409, StateUpdateRefusal.INVALID: 422,
                   StateUpdateRefusal.BLOCKED: 422, StateUpdateRefusal.UNREADABLE: 409}
_STATE_UPDATE = {409: {"model": PlatformError, "description": "A run is executing on the thread (busy), or its "
                                                              "checkpoints are encrypted under a key not configured here"},
                 422: {"model": PlatformError, "description": "No agent bound to the thread yet, values the run guards "
                                                              "blocked, or an update LangGraph refuses"}}


@router.post("/threads/{thread_id}/state", responses=_STATE_UPDATE)
async def update_thread_state(thread_id: ThreadId, body: StateUpdate, db: Db, principal: Updater,
                              client: Annotated[Client, Depends(get_client)]) -> dict:
    """Write ``values`` to the thread's state as if node ``as_node`` had just run (``ThreadStateWorkflow``:
    guarded like a human's answer, written by the worker, audited as ``thread.state_updated`` with the
    key's actor); answers ``{"checkpoint": ...}``, the new checkpoint, whose parent is the one written
    on. An update changes what the graph does next, as an answer does: roles that may resume runs.

    404 for an unknown thread or checkpoint (another tenant's included); 409 while a run executes on
    the thread, or one waits for a human through ``/v1``, or when its checkpoints are under a key not
    configured here; 422 for a thread no run has bound to an
    agent yet (no graph to update), a subgraph's namespace (not implemented), values the run guards
    block, or an update LangGraph refuses (e.g. an unknown node), each naming why.
    """
    row = await thread_row(db, thread_id, principal)
    if row.thread.agent_name is None or row.run is None:
        raise ApiError(422, f"thread {thread_id!r} has no agent bound yet (its first run binds one): no graph to update")
    checkpoint = body.checkpoint or CheckpointRef(checkpoint_id=body.checkpoint_id)
    if checkpoint.checkpoint_ns:
        raise ApiError(422, "not implemented by Shipway: checkpoint.checkpoint_ns (a subgraph's state)")
    update_id = str(uuid.uuid4())
    try:
        done = await client.execute_workflow(
            THREAD_STATE_WORKFLOW, ThreadStateUpdate(
                thread_id=thread_id, tenant=principal.tenant, agent_name=row.thread.agent_name, version=row.run.version,
                values=body.values, as_node=body.as_node, checkpoint_id=checkpoint.checkpoint_id or body.checkpoint_id,
                actor=principal.actor, update_id=update_id),
            id=thread_state_workflow_id(thread_id, update_id), task_queue=AGENTS_TASK_QUEUE, result_type=ThreadStateUpdated)
    except WorkflowFailureError as exc:
        raise ApiError(500, f"state update failed: {exc.cause.cause or exc.cause}") from exc
    if done.refused is not None:
        raise ApiError(_UPDATE_REFUSED[done.refused], done.reason)
    return {"checkpoint": thread_views.checkpoint_view({"configurable": done.checkpoint}, thread_id)}
