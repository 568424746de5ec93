"""Health (open, for load balancers) and Prometheus metrics (behind a key with ``metrics.read``
unless ``metrics_require_key`` is off)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from temporalio.client import Client

from shipway import queries
from shipway.db.engine import Database
from shipway.auth.keys import Principal
from shipway.gateway.auth import metrics_access
from shipway.gateway.deps import get_client, get_db
from shipway.gateway.errors import RESPONSES
from shipway.gateway.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "A dependency is down"}})
async def healthz(db: Annotated[Database, Depends(get_db)], client: Annotated[Client, Depends(get_client)]) -> JSONResponse:
    """Check the database (a round trip) and Temporal (its health RPC); 503 when either fails."""
    checks: dict[str, str] = {}
    try:
        await db.read(queries.ping)
        checks["database"] = "ok"
    except Exception as exc:  # health reports any failure as a check result
        checks["database"] = f"error: {exc.__class__.__name__}: {exc}".splitlines()[0]
    try:
        await client.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as exc:
        checks["temporal"] = f"error: {exc.__class__.__name__}: {exc}".splitlines()[0]
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(Health(status="ok" if ok else "degraded", checks=checks).model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format"},
                       **{k: RESPONSES[k] for k in (401, 403, 429)}})
async def metrics(_: Annotated[Principal | None, Depends(metrics_access)]) -> Response:
    """The gateway's Prometheus metrics (text exposition format). Needs a key with ``metrics.read``
    (Prometheus: ``authorization: {credentials: <key>}``) unless ``metrics_require_key`` is off."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
