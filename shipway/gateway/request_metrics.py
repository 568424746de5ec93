"""Request metrics of the gateway (pure ASGI middleware): ``shipway_http_requests_total`` and
``shipway_http_request_duration_seconds`` by route template, method and status.

The route label is the matched route's template (``/v1/agents/{name}/runs``), never the raw path,
and a request no route matches is labelled ``unmatched``; a method outside the standard set is
``other``. Responses sent before routing (a body over the limit) are labelled by the route they
were aimed at. An exception that escapes the app counts as a 500.
"""

from __future__ import annotations

import time

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipway.gateway.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The template of the route that handled (or would handle) ``scope``, else :data:`UNMATCHED`."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return route.path
    app = scope.get("app")
    for candidate in getattr(app, "routes", ()):
        match, _ = candidate.matches(scope)
        if match is not Match.NONE and hasattr(candidate, "path"):
            return candidate.path
    return UNMATCHED


class RequestMetricsMiddleware:
    """Count and time every HTTP request (see the module docstring); other ASGI traffic passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route, method = route_template(scope), scope["method"] if scope["method"] in METHODS else "other"
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            HTTP_REQUEST_SECONDS.labels(route, method).observe(time.perf_counter() - started)
