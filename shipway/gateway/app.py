"""FastAPI application of the gateway.

Routes: ``POST /v1/agents/{name}/runs`` (``?wait=true`` returns the settled run),
``GET /v1/runs/{id}``, ``POST /v1/runs/{id}/resume``, ``GET /healthz``, ``GET /metrics``.
Errors are JSON ``{"error": ..., "detail": ...}``: 404 unknown agent/run, 409 run not
waiting for input, 413 body over the limit, 422 malformed body or input.
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from reference_agents.registry import get_agent
from shipway import control
from shipway.db.engine import async_engine
from shipway.db.models import AgentVersion, Run
from shipway.gateway.body_limit import BodyLimitMiddleware
from shipway.gateway.metrics import RESUMES, RUN_WAIT_SECONDS, RUNS_SETTLED, RUNS_STARTED
from shipway.settings import get_settings
from shipway.temporal import connect
from workflows.types import UPDATE_WAIT_SETTLED, RunResult, run_workflow_id


class RunRequest(BaseModel):
    """Body of ``POST /v1/agents/{name}/runs``."""

    input: dict[str, Any]
    thread_id: str | None = Field(default=None, max_length=200, description="Conversation thread; default: a new one per run.")
    tenant: str = Field(default="default", max_length=100)


class ResumeBody(BaseModel):
    """Body of ``POST /v1/runs/{id}/resume``: the human's answer to the interrupt."""

    value: dict[str, Any]
    actor: str = Field(default="operator", min_length=1, max_length=200)


def _error(status: int, message: str, detail: Any = None) -> JSONResponse:
    return JSONResponse({"error": message, "detail": detail}, status_code=status)


def run_json(run: Run) -> dict:
    """A ``runs`` row as the API returns it (times ISO 8601, latency in ms, cost in USD)."""
    return {"run_id": run.id, "agent": run.agent_name, "version": run.version, "thread_id": run.thread_id,
            "tenant": run.tenant, "status": run.status, "output": run.output, "interrupt": run.interrupt,
            "error": run.error, "latency_ms": run.latency_ms, "wait_ms": run.wait_ms, "tokens_in": run.tokens_in,
            "tokens_out": run.tokens_out, "cost_usd": run.cost_usd, "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "workflow_url": get_settings().workflow_url(run.workflow_id)}


def create_app() -> FastAPI:
    """Build the gateway app; the Temporal client connects at startup."""
    settings = get_settings()
    specs: dict[tuple[str, int], dict] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.client = await connect(settings)
        yield

    app = FastAPI(title="Shipway gateway", version="0.1.0", lifespan=lifespan)
    # Starlette's own limiter answers a declared oversize Content-Length in plain text; ours answers JSON.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "malformed request", [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()])

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    async def spec_of(name: str, version: int) -> dict:
        if (name, version) not in specs:
            async with AsyncSession(async_engine(), expire_on_commit=False) as s:
                row = (await s.exec(select(AgentVersion).where(AgentVersion.agent_name == name, AgentVersion.version == version))).one()
            specs[(name, version)] = row.spec
        return specs[(name, version)]

    async def observed(run_id: str, agent: str, status: str, started: float) -> dict:
        """Count a settled run in the metrics; returns its row as JSON."""
        RUNS_SETTLED.labels(agent, status).inc()
        RUN_WAIT_SECONDS.labels(agent).observe(time.perf_counter() - started)
        async with AsyncSession(async_engine(), expire_on_commit=False) as s:
            return run_json(await s.get(Run, run_id))

    async def settled(client, run_id: str, agent: str, started: float) -> dict:
        handle = client.get_workflow_handle(run_workflow_id(run_id))
        try:
            status = (await handle.execute_update(UPDATE_WAIT_SETTLED, result_type=RunResult)).status
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            status = "closed"  # it finished before the update arrived; its row is already written
        return await observed(run_id, agent, status, started)

    @app.post("/v1/agents/{name}/runs", status_code=202)
    async def start_run(name: str, body: RunRequest, request: Request, wait: bool = False) -> JSONResponse:
        started = time.perf_counter()
        try:
            version = await control.pick_version(async_engine(), name)
        except control.UnknownAgentError as exc:
            return _error(404, str(exc))
        spec = await spec_of(name, version)
        try:
            get_agent(spec["template"]).input_model.model_validate(body.input)
        except ValidationError as exc:
            return _error(422, "invalid input for agent", [{"loc": ["input", *e["loc"]], "msg": e["msg"]} for e in exc.errors()])
        client = request.app.state.client
        kwargs = dict(thread_id=body.thread_id, tenant=body.tenant, version=version)
        if not wait:
            run_id, _ = await control.start_run(client, async_engine(), name, body.input, **kwargs)
            RUNS_STARTED.labels(name, str(version)).inc()
            return JSONResponse({"run_id": run_id, "agent": name, "version": version, "status": "running",
                                 "workflow_url": settings.workflow_url(run_workflow_id(run_id))}, status_code=202)
        run_id, result = await control.start_run_and_wait(client, async_engine(), name, body.input, **kwargs)
        RUNS_STARTED.labels(name, str(version)).inc()
        return JSONResponse(await observed(run_id, name, result.status, started), status_code=200)

    @app.get("/v1/runs/{run_id}")
    async def get_run(run_id: str) -> JSONResponse:
        async with AsyncSession(async_engine(), expire_on_commit=False) as s:
            run = await s.get(Run, run_id)
        if run is None:
            return _error(404, f"run {run_id!r} not found")
        return JSONResponse(run_json(run))

    @app.post("/v1/runs/{run_id}/resume")
    async def resume(run_id: str, body: ResumeBody, request: Request, wait: bool = False) -> JSONResponse:
        started = time.perf_counter()
        async with AsyncSession(async_engine(), expire_on_commit=False) as s:
            run = await s.get(Run, run_id)
        if run is None:
            return _error(404, f"run {run_id!r} not found")
        client = request.app.state.client
        try:
            ack = await control.resume_run(client, run_id, body.value, body.actor)
        except WorkflowUpdateFailedError as exc:
            return _error(409, "run is not waiting for input", str(exc.cause or exc))
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            return _error(409, "run is not waiting for input", f"run is {run.status}")
        RESUMES.labels(run.agent_name).inc()
        if not wait:
            return JSONResponse(ack, status_code=202)
        return JSONResponse(await settled(client, run_id, run.agent_name, started))

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with AsyncSession(async_engine(), expire_on_commit=False) as s:
                await s.exec(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # health reports any failure as a check result
            checks["database"] = f"error: {exc}"
        try:
            await request.app.state.client.service_client.check_health()
            checks["temporal"] = "ok"
        except Exception as exc:
            checks["temporal"] = f"error: {exc}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "degraded", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
