"""FastAPI application of the gateway: routers per concern (``routers/``), shared dependencies
(``deps.py``), one error shape (``errors.py``).

Routes: ``POST /v1/agents/{name}/runs``, ``GET /v1/runs/{id}``, ``POST /v1/runs/{id}/resume``,
``GET /v1/agents``, ``GET /v1/agents/search``, ``GET /v1/agents/{name}``, ``POST /webhooks/jira``, ``GET /healthz``, ``GET /metrics``. The OpenAPI
document at ``/openapi.json`` (``/docs``) declares every response, and its components hold the
input schema of each built-in agent.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException

from reference_agents.registry import available_templates, get_agent
from shipway.checkpoint_crypto import CheckpointDecryptionError
from shipway.db.engine import Database
from shipway.gateway import errors
from shipway.gateway.versions import VersionCache
from shipway.gateway.body_limit import BodyLimitMiddleware
from shipway.gateway.rate_limit import RateLimiter
from shipway.gateway.security_headers import SecurityHeadersMiddleware
from shipway.gateway.request_metrics import RequestMetricsMiddleware
from shipway.metrics import POOLS, sqlalchemy_pool_stats
from shipway.gateway.routers import (agents, health, lg_assistants, lg_runs, lg_streams, lg_threads, mapping_jobs, runs,
                                     webhooks)
from shipway.settings import Settings, get_settings
from shipway.temporal import connect


def _openapi_with_agent_inputs(app: FastAPI) -> dict:
    """The OpenAPI document with the gateway's own 422 body, plus one component schema per built-in
    agent's run input (``<Template>Input``), referenced from ``RunRequest.input``."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    # FastAPI declares its own 422 body (HTTPValidationError); the gateway answers ErrorResponse
    for operation in (op for path in doc["paths"].values() for op in path.values()):
        if "HTTPValidationError" in str(operation.get("responses", {}).get("422", "")):  # not the Platform routes' own
            operation["responses"]["422"] = {
                "description": errors.RESPONSES[422]["description"],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    refs = []
    for template in available_templates():
        model = get_agent(template).input_model
        name = "".join(part.title() for part in template.split("_")) + "Input"
        schema = model.model_json_schema(ref_template=f"#/components/schemas/{name}.{{model}}")
        for sub, sub_schema in schema.pop("$defs", {}).items():
            schemas[f"{name}.{sub}"] = sub_schema
        schemas[name] = schema
        refs.append({"$ref": f"#/components/schemas/{name}"})
    run_input = schemas["RunRequest"]["properties"]["input"]
    run_input["anyOf"] = [*refs, {"type": "object", "description": "any other agent: see GET /v1/agents/{name}"}]
    app.openapi_schema = doc
    return doc


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway app; the Temporal client and the database pool open at startup and close at shutdown."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        app.state.client = await connect(settings)
        # tenant-scoped by row-level security: every run read names its tenant (Database.read(as_tenant=...))
        app.state.db = Database(settings.resolved_database_url(), role=settings.gateway_db_role or None)
        app.state.versions = VersionCache(app.state.db, default_model=settings.llm)
        app.state.limiter = RateLimiter.from_settings(settings)
        untrack_pool = POOLS.track("gateway", sqlalchemy_pool_stats(app.state.db.engine))
        try:
            yield
        finally:
            untrack_pool()
            await app.state.limiter.close()
            await app.state.db.dispose()

    app = FastAPI(title="Shipway gateway", version="0.1.0", lifespan=lifespan,
                  description="Run governed LangGraph agents durably; answer their interrupts.")
    # Starlette's own limiter answers a declared oversize Content-Length in plain text; ours answers JSON.
    # webhooks bound their own bodies (webhook_max_body_bytes) so that an oversized delivery is recorded
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, exempt_prefixes=("/webhooks/",))
    if settings.cors_origins:
        # LangGraph Studio and other browser clients of the Platform API: its key header, its methods,
        # stream reconnection (Last-Event-ID) and the headers the SDK reads (pagination, run location)
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "x-api-key", "Last-Event-ID"],
                           expose_headers=["Content-Location", "Location", "X-Pagination-Next", "X-Pagination-Total"],
                           max_age=600)
    # outermost, so every response gets them, the limiters' and the error handlers' included
    app.add_middleware(SecurityHeadersMiddleware)
    # around even that one (it only observes), so that every answer, 413s and 500s included, is counted
    app.add_middleware(RequestMetricsMiddleware)
    app.add_exception_handler(errors.ApiError, errors.api_error)
    app.add_exception_handler(RequestValidationError, errors.invalid_request)
    app.add_exception_handler(HTTPException, errors.http_error)
    app.add_exception_handler(CheckpointDecryptionError, errors.sealed_checkpoint)
    app.add_exception_handler(Exception, errors.unexpected)
    for module in (runs, agents, health, webhooks, mapping_jobs, lg_runs, lg_streams, lg_assistants, lg_threads):
        app.include_router(module.router)
    app.openapi = lambda: _openapi_with_agent_inputs(app)
    return app
