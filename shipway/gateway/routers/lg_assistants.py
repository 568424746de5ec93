"""LangGraph Platform API: the server (``GET /ok``, ``GET /info``) and assistants, read only
(``POST /assistants/search``, ``POST /assistants/count``, ``GET /assistants/{assistant_id}``,
``.../graph``, ``.../schemas``).

An assistant is a live agent the key's tenant may run (:mod:`shipway.langgraph_api.assistants`);
``{assistant_id}`` is its UUID or its name. Errors answer ``{"detail": ...}``; an assistant the
tenant cannot see is a 404 like an unknown one.
"""

from __future__ import annotations

from importlib.metadata import version as package_version
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from shipway import queries
from shipway.auth.keys import Principal
from shipway.auth.roles import Action
from shipway.db.engine import Database
from shipway.gateway.auth import require
from shipway.gateway.deps import get_db
from shipway.gateway.errors import ApiError
from shipway.gateway.schemas import JsonObject, LookupText
from shipway.langgraph_api import assistants, graphs
from shipway.langgraph_api.errors import RESPONSES, PlatformRoute

router = APIRouter(tags=["langgraph platform: assistants"], route_class=PlatformRoute, lifespan=graphs.graph_states_lifespan)
Reader = Annotated[Principal, Depends(require(Action.AGENT_READ))]


def graph_states(request: Request) -> graphs.GraphStates:
    """The app's :class:`~shipway.langgraph_api.graphs.GraphStates` (opened by the routers' lifespan)."""
    return request.app.state.graph_states


@router.get("/ok")
async def ok() -> dict:
    """Liveness as the Platform answers it (open, like ``/healthz``): ``{"ok": true}``."""
    return {"ok": True}


@router.get("/info", responses=RESPONSES)
async def info(_: Reader) -> dict:
    """What this server is and which Platform features it implements (``flags``: assistants yes;
    crons and LangSmith no)."""
    return {"version": f"shipway-{package_version('shipway')}", "langgraph_py_version": package_version("langgraph"),
            "flags": {"assistants": True, "crons": False, "langsmith": False, "langsmith_tracing_replicas": False}}


class AssistantSearch(BaseModel):
    """``POST /assistants/search`` and ``/assistants/count``: filters, order and page."""

    model_config = ConfigDict(extra="ignore")  # e.g. ``select``: every field is returned
    graph_id: LookupText | None = None
    name: LookupText | None = None
    metadata: JsonObject | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None


async def _views(db: Database, tenant: str) -> list[dict]:
    return [assistants.assistant_view(a) for a in await db.read(queries.live_agents, as_tenant=tenant)]


async def live_agent(db: Database, ref: str, tenant: str) -> queries.LiveAgent:
    """The live agent ``ref`` (assistant UUID or name) names for ``tenant``.

    Raises:
        ApiError: 404 when none does.
    """
    found = assistants.resolve(ref, await db.read(queries.live_agents, as_tenant=tenant))
    if found is None:
        raise ApiError(404, f"assistant {ref!r} not found")
    return found


async def version_graph(states: graphs.GraphStates, agent: str, version: int, tenant: str) -> graphs.VersionGraph:
    """The compiled graph of a version, or 404 when it has none the tenant may see."""
    try:
        return await states.graph(agent, version, tenant)
    except graphs.UnknownGraph as exc:
        raise ApiError(404, str(exc)) from exc


@router.post("/assistants/search", responses=RESPONSES)
async def search_assistants(body: AssistantSearch, db: Annotated[Database, Depends(get_db)],
                            principal: Reader) -> JSONResponse:
    """Live agents of the key's tenant (and shared ones) as assistants, filtered by ``graph_id``,
    ``name`` (substring) and ``metadata`` (containment), newest first unless ``sort_by``/``sort_order``
    say otherwise. ``X-Pagination-Next`` holds the next page's offset when there is one."""
    hits = assistants.search(await _views(db, principal.tenant), body.graph_id, body.name, body.metadata,
                             body.sort_by, body.sort_order, limit=body.limit + 1, offset=body.offset)
    headers = {"X-Pagination-Next": str(body.offset + body.limit)} if len(hits) > body.limit else {}
    return JSONResponse(hits[:body.limit], headers=headers)


@router.post("/assistants/count", responses=RESPONSES)
async def count_assistants(body: AssistantSearch, db: Annotated[Database, Depends(get_db)], principal: Reader) -> int:
    """How many assistants match the filters of :func:`search_assistants` (paging ignored)."""
    return len(assistants.search(await _views(db, principal.tenant), body.graph_id, body.name, body.metadata,
                                 limit=10**9))


@router.get("/assistants/{assistant_id}", responses=RESPONSES)
async def get_assistant(assistant_id: LookupText, db: Annotated[Database, Depends(get_db)], principal: Reader) -> dict:
    """One assistant by UUID or name; 404 when no live agent of the tenant has it."""
    return assistants.assistant_view(await live_agent(db, assistant_id, principal.tenant))


@router.get("/assistants/{assistant_id}/graph", responses=RESPONSES)
async def get_assistant_graph(assistant_id: LookupText, db: Annotated[Database, Depends(get_db)], principal: Reader,
                              states: Annotated[graphs.GraphStates, Depends(graph_states)],
                              xray: Annotated[int | bool, Query(description="draw subgraphs (an int: to that depth)")] = False
                              ) -> dict:
    """The assistant's graph (its stable version's) as nodes and edges, as ``get_graph().to_json()``."""
    live = await live_agent(db, assistant_id, principal.tenant)
    return graphs.drawing(await version_graph(states, live.agent.name, live.version, principal.tenant), xray)


@router.get("/assistants/{assistant_id}/schemas", responses=RESPONSES)
async def get_assistant_schemas(assistant_id: LookupText, db: Annotated[Database, Depends(get_db)], principal: Reader,
                                states: Annotated[graphs.GraphStates, Depends(graph_states)]) -> dict:
    """The JSON Schemas of the assistant's input, output, state, config and context."""
    live = await live_agent(db, assistant_id, principal.tenant)
    return graphs.schemas(await version_graph(states, live.agent.name, live.version, principal.tenant))
