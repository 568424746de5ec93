"""Helpers shared by the CLI modules."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn


def exit_now(code: int) -> NoReturn:
    """Flush and leave at once: the Temporal SDK's runtime can abort during interpreter teardown
    (exit code 134; temporalio/sdk-python#300), which must not replace our exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine from a synchronous Typer command."""
    return asyncio.run(coro)


def gateway_request(method: str, path: str, body: dict | None = None, timeout: float = 120.0):
    """One call to the gateway (``SHIPWAY_GATEWAY_URL``, the operator's key): the ``httpx.Response``.
    A gateway that cannot be reached prints why and exits 1."""
    import httpx
    import typer

    from shipway.settings import get_settings

    settings = get_settings()
    url = settings.resolved_gateway_url() + path
    try:
        return httpx.request(method, url, json=body, timeout=timeout, headers=settings.auth_headers())
    except httpx.HTTPError as exc:
        typer.echo(f"gateway not reachable at {url}: {exc} (is `shipway up` running?)", err=True)
        exit_now(1)


def gateway_call(method: str, path: str, body: dict | None = None, timeout: float = 120.0) -> NoReturn:
    """:func:`gateway_request`, print the JSON answer and exit 0 on success, else 1."""
    import json

    import typer

    resp = gateway_request(method, path, body, timeout)
    typer.echo(json.dumps(resp.json(), indent=2))
    exit_now(0 if resp.is_success else 1)
