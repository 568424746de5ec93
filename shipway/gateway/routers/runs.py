"""Starting agent runs (routed by live traffic weights), reading them, and answering their interrupts."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from jsonschema import Draft202012Validator
from temporalio.client import Client

from shipway import control, queries
from shipway.auth.keys import Principal
from shipway.auth.roles import Action, allows
from shipway.db.engine import Database
from shipway.db.models import GuardResult, Run
from shipway.gateway.auth import refuse_tenant, require
from shipway.gateway.budgets import refuse_over_daily_budget  # cost governance
from shipway.gateway.deps import get_client, get_db, get_settings, get_versions
from shipway.gateway.errors import RESPONSES, ApiError
from shipway.gateway.metrics import RESUMES, RUN_WAIT_SECONDS, RUNS_SETTLED, RUNS_STARTED
from shipway.gateway.schemas import GuardView, LookupText, ResumeAccepted, ResumeBody, RunAccepted, RunRequest, RunView
from shipway.gateway.versions import UnknownVersion, VersionCache
from shipway.settings import Settings
from workflows.statuses import RunStatus
from workflows.types import run_workflow_id

router = APIRouter(tags=["runs"])
_SETTLED = {200: {"model": RunView, "description": "With `?wait=true`: the run once it finished or waits for a human"}}


def run_view(run: Run, settings: Settings, guard: GuardResult | None = None) -> RunView:
    """A ``runs`` row as the API returns it, with the guard verdict that stopped it, if any."""
    return RunView(run_id=run.id, agent=run.agent_name, version=run.version, thread_id=run.thread_id, tenant=run.tenant,
                   status=run.status, output=run.output, interrupt=run.interrupt, error=run.error, latency_ms=run.latency_ms,
                   wait_ms=run.wait_ms, tokens_in=run.tokens_in, tokens_out=run.tokens_out, cost_usd=run.cost_usd,
                   started_at=run.started_at, finished_at=run.finished_at, workflow_url=settings.workflow_url(run.workflow_id),
                   guard=GuardView(stage=guard.stage, verdict=guard.verdict, rail=guard.rail, reason_code=guard.reason_code,
                                   detail=guard.detail) if guard is not None else None)


async def _view(db: Database, run: Run, settings: Settings) -> JSONResponse:
    guard = None
    if run.status in (RunStatus.BLOCKED, RunStatus.WITHHELD):
        guard = next((g for g in reversed(await db.read(queries.guard_results, run.id, as_tenant=run.tenant))
                      if g.verdict in (RunStatus.BLOCKED, RunStatus.WITHHELD)), None)
    return JSONResponse(run_view(run, settings, guard).model_dump(mode="json"), status_code=200)


def visible(run: Run, principal: Principal, any_of_tenant: Action, own: Action) -> bool:
    """Whether ``principal`` may see ``run``: same tenant, and either a role with ``any_of_tenant``
    or one with ``own`` on a run its key started."""
    if run.tenant != principal.tenant:
        return False
    return allows(principal.role, any_of_tenant) or (allows(principal.role, own) and run.started_by == principal.key_id)


async def readable_run(db: Database, run_id: str, principal: Principal, any_of_tenant: Action = Action.RUN_READ,
                own: Action = Action.RUN_READ_OWN) -> Run:
    """The run, if the principal may see it; 404 alike for a run that does not exist and one of
    another tenant or key, so ids cannot be probed."""
    run = await db.read(queries.run, run_id, as_tenant=principal.tenant)
    if run is None or not visible(run, principal, any_of_tenant, own):
        raise ApiError(404, f"run {run_id!r} not found")
    return run


async def _settled_view(db: Database, client: Client, settings: Settings, run: Run, started: float) -> JSONResponse:
    """Wait until the run settles, count it, and answer its row."""
    if run.status == RunStatus.RUNNING:
        await control.wait_run(client, run.id)
        run = await db.read(queries.run, run.id, as_tenant=run.tenant)
    RUNS_SETTLED.labels(run.agent_name, run.status).inc()
    RUN_WAIT_SECONDS.labels(run.agent_name).observe(time.perf_counter() - started)
    return await _view(db, run, settings)


@router.post("/v1/agents/{name}/runs", status_code=202, response_model=RunAccepted,
             responses={**_SETTLED, **RESPONSES})
async def start_run(name: LookupText, body: RunRequest, request: Request, db: Annotated[Database, Depends(get_db)],
                    client: Annotated[Client, Depends(get_client)], versions: Annotated[VersionCache, Depends(get_versions)],
                    settings: Annotated[Settings, Depends(get_settings)],
                    principal: Annotated[Principal, Depends(require(Action.RUN_START))], wait: bool = False) -> JSONResponse:
    """Start a run of agent ``name`` on the version its live traffic weights pick. 202 with the run's
    id, or with ``?wait=true`` 200 with the run once it finished or waits for a human.

    The input is validated against the version's input schema (422 naming each field); ``context``
    and ``config.configurable`` reach the graph as its runtime context and configuration; a
    ``thread_id`` that belongs to another agent or tenant, or that another unfinished run holds, is
    refused with 409. The run belongs to the key's tenant; a body naming another tenant gets 403.
    An agent whose daily budget is spent and stops runs (spec ``daily_budget_hard_stop``) gets 429.
    """
    started = time.perf_counter()
    if body.tenant is not None and body.tenant != principal.tenant:
        await refuse_tenant(request, db, principal, body.tenant)
    try:
        version = await control.pick_version(db, name, tenant=principal.tenant, thread_id=body.thread_id)
        served = await versions.get(name, version, principal.tenant)
    except (control.UnknownAgentError, UnknownVersion) as exc:
        raise ApiError(404, str(exc)) from exc
    if errors := served.input_errors(body.input):
        raise ApiError(422, "invalid input for agent", errors)
    await refuse_over_daily_budget(db, name, principal)  # cost governance: the daily budget's hard stop (429)
    # local graph steps only for a caller who waits: the run's acceptance is answered with the
    # workflow task, which a local step holds until the graph ends
    try:
        run_id, _ = await control.start_run(client, name, version, body.input, thread_id=body.thread_id, tenant=principal.tenant,
                                            context=body.context, configurable=body.config.configurable if body.config else None,
                                            wait=wait, started_by=principal.key_id, max_cost_usd=served.max_cost_usd,
                                            local_graph=served.durability == "exit" and wait)
    except control.ActionRefused as exc:
        raise ApiError(409, "thread not available", exc.reason) from exc
    RUNS_STARTED.labels(name, str(version)).inc()
    if wait:  # start_run waited for the run to settle, in the same update-with-start call
        return await _settled_view(db, client, settings, await db.read(queries.run, run_id, as_tenant=principal.tenant), started)
    accepted = RunAccepted(run_id=run_id, agent=name, version=version, thread_id=body.thread_id or run_id,
                           status=RunStatus.RUNNING, workflow_url=settings.workflow_url(run_workflow_id(run_id)))
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)


_AUTH = {k: RESPONSES[k] for k in (401, 403, 429)}


@router.get("/v1/runs", response_model=list[RunView], responses=_AUTH)
async def list_runs(db: Annotated[Database, Depends(get_db)], settings: Annotated[Settings, Depends(get_settings)],
                    principal: Annotated[Principal, Depends(require(Action.RUN_READ, Action.RUN_READ_OWN))],
                    agent: LookupText | None = None, status: RunStatus | None = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[RunView]:
    """The newest runs of the key's tenant (a ``caller`` key: the runs it started), optionally of
    one agent and status, at most ``limit`` (1-500)."""
    own = None if allows(principal.role, Action.RUN_READ) else principal.key_id
    rows = await db.read(queries.runs, agent=agent, status=status, limit=limit, tenant=principal.tenant, started_by=own,
                         as_tenant=principal.tenant)
    return [run_view(r, settings) for r in rows]


@router.get("/v1/runs/{run_id}", response_model=RunView, responses={404: RESPONSES[404], **_AUTH})
async def get_run(run_id: LookupText, db: Annotated[Database, Depends(get_db)], client: Annotated[Client, Depends(get_client)],
                  settings: Annotated[Settings, Depends(get_settings)],
                  principal: Annotated[Principal, Depends(require(Action.RUN_READ, Action.RUN_READ_OWN))],
                  wait: bool = False) -> JSONResponse:
    """A run: status, output, pending interrupt request, latency (ms), tokens, cost (USD), Temporal UI
    link. With ``?wait=true``, once it is no longer running (at once if it already finished). 404
    for a run of another tenant (or, for a ``caller`` key, one it did not start)."""
    run = await readable_run(db, run_id, principal)
    if wait:
        return await _settled_view(db, client, settings, run, time.perf_counter())
    return await _view(db, run, settings)


def answer_errors(interrupt: dict | None, value: dict) -> list[dict]:
    """Where ``value`` breaks the interrupt request's ``answer_schema`` (``[]`` when it satisfies it
    or the request declares none)."""
    schema = (interrupt or {}).get("answer_schema")
    if not isinstance(schema, dict):
        return []
    return [{"loc": ["body", "value", *e.absolute_path], "msg": e.message}
            for e in sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))]


@router.post("/v1/runs/{run_id}/resume", status_code=202, response_model=ResumeAccepted, responses={**_SETTLED, **RESPONSES})
async def resume(run_id: LookupText, body: ResumeBody, db: Annotated[Database, Depends(get_db)],
                 client: Annotated[Client, Depends(get_client)], settings: Annotated[Settings, Depends(get_settings)],
                 principal: Annotated[Principal, Depends(require(Action.RUN_RESUME, Action.RUN_RESUME_OWN))],
                 wait: bool = False) -> JSONResponse:
    """Answer a run waiting at an interrupt. The value must satisfy the request's ``answer_schema``
    (422 naming each field); 409 when the run is not waiting; 404 for a run of another tenant (or,
    for a ``caller`` key, one it did not start). 202, or with ``?wait=true`` 200 with the run once
    it settles again. The answer is audited as ``actor`` (default: the key)."""
    started = time.perf_counter()
    run = await readable_run(db, run_id, principal, Action.RUN_RESUME, Action.RUN_RESUME_OWN)
    if run.status == RunStatus.INTERRUPTED and (errors := answer_errors(run.interrupt, body.value)):
        raise ApiError(422, "answer does not match the interrupt's answer_schema", errors)
    try:
        ack = await control.resume_run(client, run_id, body.value, body.actor or principal.actor)
    except control.ActionRefused as exc:
        raise ApiError(409, "run is not waiting for input", exc.reason) from exc
    RESUMES.labels(run.agent_name).inc()
    if not wait:
        return JSONResponse(ResumeAccepted(accepted=ack.accepted, run_id=ack.run_id).model_dump(), status_code=202)
    await control.wait_run(client, run_id)
    return await _settled_view(db, client, settings, await db.read(queries.run, run_id, as_tenant=principal.tenant), started)
