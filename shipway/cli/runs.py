"""``shipway run ...``: start a run through the gateway, show it, resume an interrupted one."""

from __future__ import annotations

import json

import httpx
import typer

from shipway.cli.common import exit_now
from shipway.settings import get_settings

run_app = typer.Typer(help="Agent runs via the gateway.", no_args_is_help=True)


def _call(method: str, path: str, body: dict | None = None, timeout: float = 120.0) -> None:
    settings = get_settings()
    url = settings.resolved_gateway_url() + path
    try:
        resp = httpx.request(method, url, json=body, timeout=timeout, headers=settings.auth_headers())
    except httpx.HTTPError as exc:
        typer.echo(f"gateway not reachable at {url}: {exc} (is `shipway up` running?)", err=True)
        exit_now(1)
    typer.echo(json.dumps(resp.json(), indent=2))
    exit_now(0 if resp.is_success else 1)


@run_app.command("start")
def start(agent: str, input_json: str = typer.Option(..., "--input", help="Run input as JSON, or @file.json."),
          wait: bool = typer.Option(True, help="Wait until the run ends or interrupts."),
          thread_id: str = typer.Option(None, help="Conversation thread id.")) -> None:
    """Start a run of ``agent`` (routed by live traffic weights)."""
    raw = open(input_json[1:]).read() if input_json.startswith("@") else input_json
    _call("POST", f"/v1/agents/{agent}/runs?wait={str(wait).lower()}", {"input": json.loads(raw), "thread_id": thread_id})


@run_app.command("show")
def show(run_id: str) -> None:
    """Show a run (status, output, pending interrupt, latency, cost, Temporal UI link)."""
    _call("GET", f"/v1/runs/{run_id}")


@run_app.command("resume")
def resume(run_id: str, value: str = typer.Option(..., "--value", help="The human's answer as JSON."),
           as_user: str = typer.Option(None, "--as", help="Who answers (default: SHIPWAY_OPERATOR).")) -> None:
    """Answer an interrupted run and wait for it to settle."""
    _call("POST", f"/v1/runs/{run_id}/resume?wait=true", {"value": json.loads(value), "actor": as_user or get_settings().operator})


def register(app: typer.Typer) -> None:
    """Add ``shipway run ...``."""
    app.add_typer(run_app, name="run")
