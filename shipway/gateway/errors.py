"""The gateway's one error shape, ``{"error": str, "detail": ...}``, for every status it answers.

Handlers turn request validation errors (422, each naming the field), HTTP errors (including
FastAPI's 400 for a body it cannot parse, e.g. JSON nested too deeply, answered as 422 since the
body is malformed), a thread's checkpoints the configured keys cannot decrypt (409) and unexpected
exceptions (500) into that shape. :data:`RESPONSES` declares
them in the OpenAPI document.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from shipway.checkpoint_crypto import CHECKPOINTS_UNREADABLE, CheckpointDecryptionError

log = logging.getLogger("shipway.gateway")


class FieldError(BaseModel):
    """One invalid field: its location (``["body", "input", "amount"]``) and what is wrong."""

    loc: list[str | int]
    msg: str


class ErrorResponse(BaseModel):
    """Every error the gateway answers. ``detail``: a list of :class:`FieldError` for 422, a short
    explanation or a small object (e.g. ``{"max_bytes": ...}`` for 413) otherwise."""

    error: str = Field(description="What went wrong, in one line.")
    detail: list[FieldError] | dict[str, Any] | str | None = None


class ApiError(Exception):
    """Raised by routes to answer ``status`` with :class:`ErrorResponse`."""

    def __init__(self, status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def error_response(status: int, error: str, detail: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """A :class:`ErrorResponse` with ``status`` (and extra headers, e.g. ``Retry-After``)."""
    return JSONResponse(ErrorResponse(error=error, detail=detail).model_dump(mode="json"), status_code=status, headers=headers)


def _describe(status: int, what: str) -> dict:
    return {"model": ErrorResponse, "description": what}


RESPONSES: dict[int | str, dict] = {
    401: _describe(401, "No API key, or a malformed, unknown or revoked one (`Authorization: Bearer <key>`)"),
    403: _describe(403, "The key's role may not do this, or it acts for another tenant"),
    429: _describe(429, "Rate limit of the key or client address reached; `Retry-After` says when to try again (s)"),
    404: _describe(404, "Unknown agent, version or run"),
    409: _describe(409, "Conflict: the run is not waiting for input, the thread belongs to another agent or run, "
                        "or its checkpoints are encrypted under a key this deployment is not configured with"),
    413: _describe(413, "Request body over the size limit"),
    422: _describe(422, "Malformed body or input; `detail` names each field"),
}


async def api_error(_: Request, exc: ApiError) -> JSONResponse:
    """Answer an :class:`ApiError`."""
    return error_response(exc.status, exc.error, exc.detail, exc.headers)


async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each invalid field."""
    return error_response(422, "malformed request", [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()])


async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's and FastAPI's own errors (unknown route 404, wrong method 405, unparsable body)."""
    if exc.status_code == 400:
        why = "JSON nested too deeply" if isinstance(exc.__cause__, RecursionError) else str(exc.detail)
        return error_response(422, "malformed request", [{"loc": ["body"], "msg": why}])
    return error_response(exc.status_code, str(exc.detail))


async def sealed_checkpoint(_: Request, exc: CheckpointDecryptionError) -> JSONResponse:
    """409 for a thread whose checkpoints this deployment cannot decrypt (written under a key no
    longer in ``SHIPWAY_CHECKPOINT_KEYS``, or altered): the thread is there, its state is not
    readable until that key is configured again."""
    log.warning("checkpoint not readable here: %s", exc)
    return error_response(409, CHECKPOINTS_UNREADABLE, str(exc))


async def unexpected(_: Request, exc: Exception) -> JSONResponse:
    """500 for anything unhandled, logged with its traceback."""
    log.exception("unhandled error in the gateway", exc_info=exc)
    return error_response(500, "internal error", type(exc).__name__)
