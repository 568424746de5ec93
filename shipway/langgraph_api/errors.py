"""The LangGraph Platform's error body, ``{"detail": str}`` (422: ``{"detail": [field errors]}``),
for the routes of the Platform API; Shipway's own ``/v1`` routes keep
:class:`shipway.gateway.errors.ErrorResponse`. ``langgraph-sdk`` reads ``detail`` as the message of
the error it raises (``NotFoundError``, ``AuthenticationError``, ...)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from shipway.checkpoint_crypto import CHECKPOINTS_UNREADABLE, CheckpointDecryptionError
from shipway.gateway.errors import ApiError


class PlatformError(BaseModel):
    """Every error of the Platform API routes: ``detail``, a message (a list of field errors, each
    with ``loc``, ``msg`` and ``type``, for 422)."""

    detail: str | list[dict[str, Any]]


def _described(what: str) -> dict:
    return {"model": PlatformError, "description": what}


RESPONSES: dict[int | str, dict] = {
    401: _described("No API key (`x-api-key` or `Authorization: Bearer`), or a malformed, unknown or revoked one"),
    403: _described("The key's role may not do this"),
    404: _described("Unknown assistant, thread or checkpoint, or one of another tenant"),
    409: _described("The thread's checkpoints are encrypted under a key this deployment is not configured with"),
    422: _described("Malformed request; `detail` names each field"),
    429: _described("Rate limit of the key or client address reached; `Retry-After` says when to try again (s)"),
}


def platform_error(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"detail": detail}`` with ``status`` (and extra headers, e.g. ``WWW-Authenticate``)."""
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=status, headers=headers)


class PlatformRoute(APIRoute):
    """A route class (``APIRouter(route_class=PlatformRoute)``) answering the errors raised while
    handling a request, its dependencies' included (authentication, roles, rate limits), in the
    Platform's shape: an :class:`ApiError` as ``{"detail": "<error>[: <detail>]"}`` with its status
    and headers, a request validation error as 422 ``{"detail": [...]}``, checkpoints the configured
    keys cannot decrypt as 409."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                message = exc.error if exc.detail in (None, "", [], {}) else f"{exc.error}: {exc.detail}"
                return platform_error(exc.status, message, exc.headers)
            except CheckpointDecryptionError as exc:
                return platform_error(409, f"{CHECKPOINTS_UNREADABLE}: {exc}")
            except RequestValidationError as exc:
                return platform_error(422, [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                                            for e in exc.errors()])

        return handle
