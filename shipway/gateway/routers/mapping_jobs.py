"""DAG -> code mapping jobs: ``POST /v1/map-to-code`` starts one (a run of a ``dag_mapping`` agent)
and ``GET /v1/jobs/{id}`` shows its progress, cost, mappings and pending reviews. A pending review
is answered with the run's resume (``POST /v1/runs/{id}/resume``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from temporalio.client import Client

from activities.code_mappings import MAPPING_TEMPLATE
from reference_agents.dag_mapping.graph import repository_roots
from reference_agents.dag_mapping.inputs import MappingJobInput, RepositoryNotAllowed, check_repository_root
from reference_agents.dag_mapping.outputs import output as mapping_output
from reference_agents.dag_mapping.review import listed_nodes
from shipway import control, queries
from shipway.auth.keys import Principal
from shipway.auth.roles import Action
from shipway.db.engine import Database
from shipway.db.models import CODE_MAPPING_FIELDS, CodeMapping, Run
from shipway.gateway.budgets import refuse_over_daily_budget
from shipway.gateway.deps import get_client, get_db, get_settings, get_versions
from shipway.gateway.errors import RESPONSES, ApiError
from shipway.gateway.auth import require
from shipway.gateway.job_schemas import JobAccepted, JobProgress, JobView, MapToCodeRequest
from shipway.gateway.metrics import RUNS_STARTED
from shipway.gateway.routers.lg_assistants import graph_states
from shipway.gateway.routers.runs import readable_run
from shipway.gateway.versions import UnknownVersion, VersionCache
from shipway.langgraph_api import graphs
from shipway.settings import Settings
from workflows.statuses import RunStatus
from workflows.types import run_workflow_id

router = APIRouter(tags=["mapping jobs"], lifespan=graphs.graph_states_lifespan)
Db = Annotated[Database, Depends(get_db)]
States = Annotated[graphs.GraphStates, Depends(graph_states)]
_ERRORS = {k: RESPONSES[k] for k in (401, 403, 404, 409, 422, 429) if k in RESPONSES}


async def _mapping_agent(db: Database, principal: Principal, name: str | None) -> str:
    """The live ``dag_mapping`` agent the job runs on: ``name`` if it is one, else the tenant's only one.

    Raises:
        ApiError: 404 no such live mapping agent; 422 several are live and ``name`` was not given.
    """
    live = [a.agent.name for a in await db.read(queries.live_agents, name, as_tenant=principal.tenant)
            if a.agent.template == MAPPING_TEMPLATE]
    if name is not None and name not in live:
        raise ApiError(404, f"no live DAG -> code mapping agent named {name!r}")
    if not live:
        raise ApiError(404, "no DAG -> code mapping agent is live; deploy one from the dag_mapping template")
    if len(live) > 1:
        raise ApiError(422, "several mapping agents are live: name one with agent", [{"loc": ["body", "agent"],
                                                                                     "msg": f"one of {', '.join(live)}"}])
    return live[0]


def _job_input(body: MapToCodeRequest, config: dict) -> dict:
    """The run input of the job: the repository checked against the version's roots first (so a
    caller learns nothing about paths outside them), then the whole job validated.

    Raises:
        ApiError: 422 naming each field at fault (``body.<field>``; a plan error names ``plan``).
    """
    fields = body.model_dump(exclude={"agent"}, exclude_unset=True)
    try:
        check_repository_root(body.repository, repository_roots(config))
        job = MappingJobInput.model_validate(fields)
    except RepositoryNotAllowed as exc:
        raise ApiError(422, "invalid mapping job", [{"loc": ["body", "repository"], "msg": str(exc)}]) from exc
    except ValidationError as exc:
        problems = [{"loc": ["body", *e["loc"]], "msg": e["msg"].removeprefix("Value error, ")} for e in exc.errors()]
        raise ApiError(422, "invalid mapping job", problems) from exc
    return job.model_dump(mode="json", exclude_none=True)


@router.post("/v1/map-to-code", status_code=202, response_model=JobAccepted, responses=_ERRORS)
async def map_to_code(body: MapToCodeRequest, db: Db, client: Annotated[Client, Depends(get_client)],
                      versions: Annotated[VersionCache, Depends(get_versions)], settings: Annotated[Settings, Depends(get_settings)],
                      principal: Annotated[Principal, Depends(require(Action.RUN_START))]) -> JSONResponse:
    """Start a DAG -> code mapping job: 202 with the job id. Each bad input is a 4xx naming it: an
    unknown ``plan_format`` (the known ones listed), a malformed ``plan`` or ``dag_nodes`` (the
    plan reader's message), an empty DAG, a ``repository`` that is not found or is outside the
    directories the agent's spec lets it read (422); no live mapping agent (404); the agent's daily
    budget spent (429)."""
    name = await _mapping_agent(db, principal, body.agent)
    try:
        version = await control.pick_version(db, name, tenant=principal.tenant)
        served = await versions.get(name, version, principal.tenant)
    except (control.UnknownAgentError, UnknownVersion) as exc:
        raise ApiError(404, str(exc)) from exc
    run_input = _job_input(body, served.config)
    await refuse_over_daily_budget(db, name, principal)
    try:
        run_id, _ = await control.start_run(client, name, version, run_input, tenant=principal.tenant,
                                            started_by=principal.key_id, max_cost_usd=served.max_cost_usd)
    except control.ActionRefused as exc:
        raise ApiError(409, "thread not available", exc.reason) from exc
    RUNS_STARTED.labels(name, str(version)).inc()
    accepted = JobAccepted(job_id=run_id, analysis_id=run_input["analysis_id"], agent=name, version=version,
                           status=RunStatus.RUNNING, job_url=f"/v1/jobs/{run_id}",
                           workflow_url=settings.workflow_url(run_workflow_id(run_id)))
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)


def _row(m: CodeMapping) -> dict[str, Any]:
    return {k: getattr(m, k) for k in CODE_MAPPING_FIELDS}


async def _output_so_far(states: graphs.GraphStates, run: Run) -> dict:
    """The agent's output built from the job's latest checkpoint (the mappings done so far, cost, LLM
    calls); ``{}`` before the plan is read."""
    try:
        vg = await states.graph(run.agent_name, run.version, run.tenant)
    except graphs.UnknownGraph:
        return {}
    values = (await states.state(vg, run.thread_id, run.tenant)).values or {}
    return mapping_output(values) if values.get("nodes") else {}


@router.get("/v1/jobs/{job_id}", response_model=JobView, responses=_ERRORS)
async def get_job(job_id: str, db: Db, states: States, settings: Annotated[Settings, Depends(get_settings)],
                  principal: Annotated[Principal, Depends(require(Action.RUN_READ, Action.RUN_READ_OWN))]) -> JobView:
    """A mapping job: status, progress (nodes mapped / nodes in the plan), LLM cost, mappings, and
    the nodes waiting for a person. 404 alike for an unknown id, another tenant's or key's job, and
    a run that is not a mapping job."""
    run = await readable_run(db, job_id, principal)
    agent = await db.read(queries.agent, run.agent_name, as_tenant=principal.tenant)
    if agent is None or agent.template != MAPPING_TEMPLATE:
        raise ApiError(404, f"job {job_id!r} not found")
    # an ended job's output has everything; only a job still going is read from its checkpoint
    out = run.output or await _output_so_far(states, run)
    stored = await db.read(queries.code_mappings, run.id, as_tenant=principal.tenant)
    mappings = [_row(m) for m in stored] if stored else out.get("mappings", [])
    pending = listed_nodes(run.interrupt) if run.status == RunStatus.INTERRUPTED else []
    return JobView(
        job_id=run.id, analysis_id=out.get("analysis_id") or run.input.get("analysis_id"), agent=run.agent_name,
        version=run.version, status="pending_review" if run.status == RunStatus.INTERRUPTED else str(run.status),
        decision=out.get("decision") if run.status == RunStatus.SUCCEEDED else None, reasons=out.get("reasons", []),
        progress=JobProgress(nodes_done=len(mappings), nodes_total=out.get("nodes", 0)),
        cost_usd=max(run.cost_usd, out.get("cost_usd", 0.0)), max_job_cost_usd=out.get("max_job_cost_usd"),
        llm_calls=out.get("llm_calls", 0), cost_capped="COST_CAP_REACHED" in out.get("reasons", []), mappings=mappings,
        pending_reviews=pending, resume_url=f"/v1/runs/{run.id}/resume" if pending else None, error=run.error,
        started_at=run.started_at, finished_at=run.finished_at, workflow_url=settings.workflow_url(run.workflow_id))
