"""``shipway guard ...``: judge a text with the run guards, and evaluate them on a labelled set."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from shipway.cli.common import exit_now, run_async

guard_app = typer.Typer(help="Run guards: check one text layer by layer, evaluate a labelled set.", no_args_is_help=True)


def _policy(agent: str | None, classification: str):
    """The live version's guard policy of ``agent``, or the defaults of ``classification``."""
    from sqlmodel import Session

    from shipway import queries
    from shipway.db.engine import sync_engine
    from shipway.guard_policy import effective_policy

    if agent is None:
        return effective_policy({"data_classification": classification})
    with Session(sync_engine()) as s:
        live = queries.live_version(s, agent)
        row = queries.agent_version(s, agent, live) if live else None
    if row is None:
        typer.echo(f"agent {agent!r} has no live version", err=True)
        exit_now(1)
    return effective_policy(row.spec)


def _guards():
    from activities.guards.pii import PiiGuard
    from activities.guards.rails import RailsGuard
    from shipway.settings import get_settings

    return PiiGuard(), RailsGuard(llm=get_settings().llm)


@guard_app.command("check")
def check(text: str = typer.Argument(..., help="The text to judge, as a run input string."),
          agent: str = typer.Option(None, "--agent", help="Use this agent's guard policy and topics (its live version)."),
          classification: str = typer.Option("internal", help="Without --agent: the data classification's default policy.")) -> None:
    """Print the verdict of every layer (PII, rails) on TEXT and the input guard's as a whole."""
    from activities.guards.evaluate import check_text

    policy = _policy(agent, classification)
    pii, rails = _guards()
    verdict = run_async(check_text(text, policy, pii, rails))
    typer.echo(json.dumps({**asdict(verdict), "total_ms": verdict.total_ms}, indent=2))
    exit_now(0)


@guard_app.command("eval")
def evaluate(file: Path = typer.Argument(..., help='JSONL lines {"text": ..., "attack": true|false}.'),
             agent: str = typer.Option(None, "--agent", help="Use this agent's guard policy and topics (its live version)."),
             classification: str = typer.Option("internal", help="Without --agent: the data classification's default policy.")) -> None:
    """Detection rate, false-positive rate and p50/p95 latency per layer and overall on a labelled set."""
    from activities.guards.evaluate import evaluate as run_eval
    from activities.guards.evaluate import read_jsonl

    try:
        rows = read_jsonl(file)
    except (OSError, ValueError) as exc:
        typer.echo(f"cannot read {file}: {exc}", err=True)
        exit_now(2)
    pii, rails = _guards()
    report = run_async(run_eval(rows, _policy(agent, classification), pii, rails))
    typer.echo("\n".join(report.lines()))
    exit_now(0)


def register(app: typer.Typer) -> None:
    """Add ``shipway guard ...``."""
    app.add_typer(guard_app, name="guard")
