"""``shipway costs rollup|show``: refresh the cost rollups now (the ``CostRollupWorkflow`` the
``cost-rollup`` schedule also starts), and print them with each agent's daily budget use."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import typer

from shipway.cli.common import exit_now, run_async

costs_app = typer.Typer(help="LLM costs: rollups per agent, version, tenant, model and day; daily budgets.", no_args_is_help=True)


async def _rollup(days: int, timeout_s: float):
    import asyncio
    import uuid

    from shipway.settings import CONTROL_TASK_QUEUE
    from shipway.temporal import connect
    from workflows.types import COST_ROLLUP_WORKFLOW, CostRollupRequest, CostRollupResult

    client = await connect()
    handle = await client.start_workflow(COST_ROLLUP_WORKFLOW, CostRollupRequest(days=days), id=f"cost-rollup-now-{uuid.uuid4().hex[:8]}",
                                         task_queue=CONTROL_TASK_QUEUE, result_type=CostRollupResult)
    return handle.id, await asyncio.wait_for(handle.result(), timeout_s)


@costs_app.command("rollup")
def rollup(days: int = typer.Option(2, min=1, help="UTC days to recompute, today included."),
           timeout_s: float = typer.Option(120.0, "--timeout", help="Seconds to wait for a worker to finish it.")) -> None:
    """Recompute the rollups now and evaluate today's daily budgets (needs a running control worker)."""
    try:
        workflow_id, result = run_async(_rollup(days, timeout_s))
    except TimeoutError:
        typer.echo(f"no result in {timeout_s:g} s: is a worker serving shipway-control running (`shipway worker`)?", err=True)
        exit_now(1)
    except Exception as exc:  # Temporal unreachable or the workflow failed: say which, exit non-zero
        typer.echo(f"cost rollup failed: {exc}", err=True)
        exit_now(1)
    typer.echo(f"{workflow_id}: {result.rollup_rows} rollup rows over {days} day(s); {result.budgets} daily budget(s) evaluated")
    for a in result.alerts:
        typer.echo(f"alert: {a.agent_name} reached {a.threshold_pct}% of its daily budget "
                   f"({a.spent_usd:.4f} of {a.budget_usd:.4f} USD on {a.day})")
    exit_now(0)


@costs_app.command("show")
def show(days: int = typer.Option(7, min=1, help="UTC days to show, today included."),
         agent: str = typer.Option(None, help="Only this agent's rollups.")) -> None:
    """Print the rollups of the last ``days`` days (as of the last refresh) and today's budget use (live)."""
    from sqlmodel import Session

    from shipway import queries
    from shipway.db.engine import sync_engine

    today = datetime.now(timezone.utc).date()
    with Session(sync_engine()) as s:
        rows = queries.cost_rollups(s, today - timedelta(days=days - 1), today, agent)
        budgets = queries.budget_usage(s, today)
    typer.echo(f"{'DAY':<10} {'AGENT':<24} {'VER':>3} {'TENANT':<16} {'MODEL':<22} {'RUNS':>6} {'CALLS':>6} "
               f"{'TOKENS IN':>10} {'TOKENS OUT':>10} {'COST':>12}")
    for r in rows:
        typer.echo(f"{r.day} {r.agent_name:<24} {r.version:>3} {r.tenant:<16} {r.model:<22} {r.runs:>6} {r.calls:>6} "
                   f"{r.tokens_in:>10} {r.tokens_out:>10} {r.cost_usd:>8.4f} {r.currency}")
    typer.echo(f"total {sum(r.cost_usd for r in rows):.4f} USD over {len(rows)} rows")
    typer.echo(f"\ndaily budgets today ({today}, UTC):")
    for b in budgets:
        stop = " hard stop" if b.hard_stop else ""
        crossed = f" alerts {', '.join(f'{p}%' for p in b.alerts)}" if b.alerts else ""
        typer.echo(f"  {b.agent:<24} {b.spent_usd:.4f} of {b.budget_usd:.4f} USD ({b.ratio:.0%}){stop}{crossed}")
    if not budgets:
        typer.echo("  (no live version sets daily_budget_usd)")
    exit_now(0)


def register(app: typer.Typer) -> None:
    """Add ``shipway costs ...``."""
    app.add_typer(costs_app, name="costs")
