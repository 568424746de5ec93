"""``shipway run ...``: start a run through the gateway, show it, resume an interrupted one."""

from __future__ import annotations

import json

import typer

from shipway.cli.common import gateway_call
from shipway.settings import get_settings

run_app = typer.Typer(help="Agent runs via the gateway.", no_args_is_help=True)


@run_app.command("start")
def start(agent: str, input_json: str = typer.Option(..., "--input", help="Run input as JSON, or @file.json."),
          wait: bool = typer.Option(True, help="Wait until the run ends or interrupts."),
          thread_id: str = typer.Option(None, help="Conversation thread id.")) -> None:
    """Start a run of ``agent`` (routed by live traffic weights)."""
    raw = open(input_json[1:]).read() if input_json.startswith("@") else input_json
    gateway_call("POST", f"/v1/agents/{agent}/runs?wait={str(wait).lower()}", {"input": json.loads(raw), "thread_id": thread_id})


@run_app.command("show")
def show(run_id: str) -> None:
    """Show a run (status, output, pending interrupt, latency, cost, Temporal UI link)."""
    gateway_call("GET", f"/v1/runs/{run_id}")


@run_app.command("resume")
def resume(run_id: str, value: str = typer.Option(..., "--value", help="The human's answer as JSON."),
           as_user: str = typer.Option(None, "--as", help="Who answers (default: SHIPWAY_OPERATOR).")) -> None:
    """Answer an interrupted run and wait for it to settle."""
    gateway_call("POST", f"/v1/runs/{run_id}/resume?wait=true", {"value": json.loads(value), "actor": as_user or get_settings().operator})


def register(app: typer.Typer) -> None:
    """Add ``shipway run ...``."""
    app.add_typer(run_app, name="run")
