"""The agents a key may run: shared agents and its tenant's private ones, who owns them, where
their traffic goes, their input schema. Another tenant's private agent is a 404, as if it did not
exist (row-level security hides it: every read names the key's tenant)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AfterValidator, StringConstraints

from shipway import queries
from shipway.auth.keys import Principal
from shipway.auth.roles import Action
from shipway.db.engine import Database
from shipway.gateway.auth import require
from shipway.gateway.deps import get_db, get_versions
from shipway.gateway.errors import RESPONSES, ApiError
from shipway.gateway.schemas import AgentView, LookupText, TrafficShare, storable
from shipway.gateway.versions import UnknownVersion, VersionCache
from shipway.search import MAX_QUERY_CHARS, AgentHit, embed_query, search_agents
from workflows.statuses import VersionStatus

router = APIRouter(prefix="/v1/agents", tags=["agents"], responses={k: RESPONSES[k] for k in (401, 403, 429)})
Reader = Annotated[Principal, Depends(require(Action.AGENT_READ))]


async def _view(db: Database, versions: VersionCache, name: str, with_schema: bool, tenant: str) -> AgentView | None:
    agent = await db.read(queries.agent, name, as_tenant=tenant)
    traffic = await db.read(queries.traffic, name, as_tenant=tenant)
    if agent is None or not traffic:
        return None
    schema = None
    if with_schema:
        main = max(traffic, key=lambda w: (w.weight_pct, w.version))
        try:
            schema = (await versions.get(name, main.version, tenant)).input_schema
        except UnknownVersion as exc:
            raise ApiError(404, str(exc)) from exc
    return AgentView(name=agent.name, owner=agent.owner, description=agent.description, live_version=agent.live_version,
                     tenant=agent.tenant, traffic=[TrafficShare(version=w.version, weight_pct=w.weight_pct) for w in traffic],
                     input_schema=schema)


@router.get("", response_model=list[AgentView])
async def list_agents(db: Annotated[Database, Depends(get_db)], versions: Annotated[VersionCache, Depends(get_versions)],
                      principal: Reader) -> list[AgentView]:
    """Agents serving traffic that the key's tenant may run, by name (without input schemas; ask
    for one agent to get its schema)."""
    views = [await _view(db, versions, a.name, False, principal.tenant)
             for a in await db.read(queries.agents, as_tenant=principal.tenant)]
    return [v for v in views if v is not None]


# -- agent search (issue 13); declared before /{name}, which would otherwise take "search" for a name ------
SearchText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY_CHARS),
                       AfterValidator(storable)]


@router.get("/search", response_model=list[AgentHit], responses={422: RESPONSES[422]})
async def search(q: Annotated[SearchText, Query(description=f"What to look for, 1-{MAX_QUERY_CHARS} characters: words "
                                                          "(all must match for the text leg; \"phrases\", or, -word) "
                                                          "and meaning (the description's embedding).")],
                 db: Annotated[Database, Depends(get_db)], principal: Reader,
                 status: Annotated[VersionStatus | None, Query(description="The agent's status: its live version's, "
                                                                           "else its newest version's.")] = None,
                 owner: Annotated[LookupText | None, Query(max_length=200)] = None,
                 template: Annotated[LookupText | None, Query(max_length=200)] = None,
                 limit: Annotated[int, Query(ge=1, le=50)] = 10) -> list[AgentHit]:
    """Agents the key's tenant may run (shared and its own, any status), best first by hybrid
    search: nearest description embeddings and full-text matches fused by reciprocal rank
    (``score``; ``vector_rank``/``text_rank`` say which list found each, None when absent).

    The query's embedding is computed here, in a thread (the model loads on the first search, a few
    seconds)."""
    embedding = await asyncio.to_thread(embed_query, q)
    # through the SECURITY DEFINER search of migration 0014: it keeps the agents of the transaction's
    # tenant itself (also for a gateway without a tenant-scoped role) and, unlike a query under
    # row-level security, can use the HNSW and GIN indexes
    return await db.read(search_agents, q, embedding, status=status, owner=owner, template=template,
                         limit=limit, for_transaction_tenant=True, as_tenant=principal.tenant)
# -- end agent search ----------------------------------------------------------------------------------------


@router.get("/{name}", response_model=AgentView, responses={404: RESPONSES[404]})
async def get_agent(name: LookupText, db: Annotated[Database, Depends(get_db)],
                    versions: Annotated[VersionCache, Depends(get_versions)], principal: Reader) -> AgentView:
    """One agent serving traffic, with the JSON Schema of its run input (``input_schema``, from the
    artifact of the version with the largest share)."""
    view = await _view(db, versions, name, True, principal.tenant)
    if view is None:
        raise ApiError(404, f"agent {name!r} does not exist or has no live version")
    return view
