"""``shipway demo``: the reference agents and the example LangGraph project through their lifecycle
and real traffic (needs `shipway up`)."""

from __future__ import annotations

import typer

from shipway.cli.common import exit_now, run_async


def demo(agent: list[str] = typer.Option(None, help="Only these (repeat): a reference agent's template, or "
                                                  "loan-document-checklist; default: all five and the example project.")) -> None:
    """Take the reference agents and the example project through their lifecycle, send real traffic, print the summary."""
    from shipway.demo import run_demo

    results = run_async(run_demo(agent or None, say=lambda line: typer.echo(line)))
    exit_now(0 if all(not r.failures and r.outputs for r in results.values()) else 1)


def register(app: typer.Typer) -> None:
    """Add ``shipway demo``."""
    app.command()(demo)
