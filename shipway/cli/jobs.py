"""``shipway job map|show``: DAG -> code mapping jobs through the gateway (``/v1/map-to-code``,
``/v1/jobs/{id}``), with progress while a job runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from shipway.cli.common import exit_now, gateway_call, gateway_request

job_app = typer.Typer(help="DAG -> code mapping jobs via the gateway.", no_args_is_help=True)
POLL_S = 1.0


def _plan(text: str) -> str | dict | list:
    """``@file`` read, then JSON parsed when it is JSON (a DuckDB plan), else the text (a Spark plan)."""
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


@job_app.command("map")
def map_plan(plan: str = typer.Option(..., "--plan", help="The plan: text, JSON, or @file."),
             repository: str = typer.Option(..., "--repository", help="Directory or archive of the code, on the worker's disk."),
             plan_format: str = typer.Option("duckdb_json", "--format", help="duckdb_json or spark_text."),
             analysis_id: str = typer.Option(None, "--analysis-id", help="Your id of this analysis (default: the file name)."),
             agent: str = typer.Option(None, "--agent", help="The mapping agent, when several are live."),
             language: list[str] = typer.Option(None, "--language", help="Keep only code in this language (repeatable)."),
             wait: bool = typer.Option(True, help="Follow the job until it ends or waits for a review.")) -> None:
    """Start a mapping job; with ``--wait`` (default) print its progress, then the job."""
    body = {"plan": _plan(plan), "repository": repository, "plan_format": plan_format,
            "analysis_id": analysis_id or (Path(plan[1:]).stem if plan.startswith("@") else "cli"),
            "agent": agent, "languages": language or None}
    resp = gateway_request("POST", "/v1/map-to-code", {k: v for k, v in body.items() if v is not None})
    accepted = resp.json()
    if not resp.is_success or not wait:
        typer.echo(json.dumps(accepted, indent=2))
        exit_now(0 if resp.is_success else 1)
    typer.echo(f"job {accepted['job_id']} on {accepted['agent']} v{accepted['version']}: {accepted['workflow_url']}", err=True)
    shown = None
    while True:
        job = gateway_request("GET", accepted["job_url"]).json()
        progress = f"{job['status']}: {job['progress']['nodes_done']}/{job['progress']['nodes_total']} nodes mapped"
        if progress != shown:
            typer.echo(progress, err=True)
            shown = progress
        if job["status"] != "running":
            break
        time.sleep(POLL_S)
    typer.echo(json.dumps(job, indent=2))
    if job["status"] == "pending_review":
        typer.echo(f"answer the review: shipway run resume {job['job_id']} --value '<answer>'", err=True)
    exit_now(0 if job["status"] in ("succeeded", "pending_review") else 1)


@job_app.command("show")
def show(job_id: str) -> None:
    """Show a job: status, progress, cost, mappings, pending reviews, Temporal UI link."""
    gateway_call("GET", f"/v1/jobs/{job_id}")


def register(app: typer.Typer) -> None:
    """Add ``shipway job ...``."""
    app.add_typer(job_app, name="job")
