"""``shipway up | down | status | migrate``: the local stack from the command line."""

from __future__ import annotations


import typer

from shipway.cli.common import exit_now as _exit
from shipway.settings import get_settings
from shipway.stack.local import COMPONENTS, LocalStack


def up(
    only: str = typer.Option("", help=f"Comma-separated subset of: {','.join(COMPONENTS)} (default: all)."),
    free_ports: bool = typer.Option(False, "--free-ports", help="Use free ports where configured ones are taken."),
    timeout: float = typer.Option(120.0, help="Readiness deadline per service, seconds."),
) -> None:
    """Start PostgreSQL, Temporal, migrations, worker, gateway and console (what is not configured)."""
    selected = [c.strip() for c in only.split(",") if c.strip()] or None
    stack = LocalStack(get_settings())
    try:
        record = stack.up(selected, pick_free_ports=free_ports, timeout_s=timeout)
    except Exception as exc:  # reported as one message; the stack stays as far as it got
        typer.echo(f"failed\n[up] error: {exc}", err=True)
        _exit(1)
    typer.echo(f"[up] stack recorded in {stack.stack_file}")
    for key in ("database_url", "temporal_address", "temporal_ui_url", "gateway_url", "console_url"):
        if key in record:
            typer.echo(f"     {key:17} {record[key]}")
    _exit(0)


def down(timeout: float = typer.Option(15.0, help="Seconds between SIGTERM and SIGKILL.")) -> None:
    """Stop the local stack in reverse order; data under the state dir is kept."""
    LocalStack(get_settings(), echo=print).down(timeout_s=timeout)


def status() -> None:
    """Show each component with its URL, pid and health; exit 1 if any is down."""
    rows = LocalStack(get_settings()).status()
    if not rows:
        typer.echo("no stack: run `shipway up` (or set DATABASE_URL / TEMPORAL_ADDRESS)")
        _exit(1)
    for row in rows:
        mark = "up  " if row.healthy else "DOWN"
        typer.echo(f"{mark} {row.name:10} {row.url:60} pid {row.pid or '-':>7}  {row.detail}")
    _exit(0 if all(r.healthy for r in rows) else 1)


def migrate() -> None:
    """Apply database migrations (Alembic head + LangGraph checkpoint tables) to the configured database."""
    from shipway.db.migrate import upgrade

    revision = upgrade(get_settings().resolved_database_url())
    typer.echo(f"[migrate] database at revision {revision} + LangGraph checkpoint tables")


def register(app: typer.Typer) -> None:
    """Add ``up``, ``down``, ``status`` and ``migrate`` to the ``shipway`` CLI."""
    app.command()(up)
    app.command()(down)
    app.command()(status)
    app.command()(migrate)
