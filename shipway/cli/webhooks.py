"""``shipway webhooks list|replay``: the webhook deliveries the gateway recorded, and re-driving
dead letters (verified deliveries whose workflow could not be signalled)."""

from __future__ import annotations

import typer

from shipway.cli.common import exit_now, run_async

webhooks_app = typer.Typer(help="Webhook deliveries: list them, replay dead letters.", no_args_is_help=True)


@webhooks_app.command("list")
def list_deliveries(dead_letters: bool = typer.Option(False, "--dead-letters", help="Only dead letters."),
                    limit: int = typer.Option(50, help="At most this many, newest last.")) -> None:
    """One line per delivery: id, time, outcome, issue, decision, Jira account -> approver, detail."""
    from shipway import queries
    from shipway.db.engine import Database
    from workflows.statuses import WebhookOutcome

    async def main() -> list:
        async with Database.from_settings(pool_size=1) as db:
            return await db.read(queries.webhook_deliveries, outcome=WebhookOutcome.DEAD_LETTER if dead_letters else None,
                                 limit=limit, newest_first=True)

    rows = list(reversed(run_async(main())))
    if not rows:
        typer.echo("no deliveries")
    for r in rows:
        who = f"{r.jira_account_id or '-'} -> {r.approver or '-'}"
        typer.echo(f"{r.id:>6}  {r.received_at:%Y-%m-%d %H:%M:%S}  {r.outcome:<11}  {r.issue_key or '-':<10}  "
                   f"{r.decision or '-':<7}  {who}  {r.detail}")


@webhooks_app.command("replay")
def replay(ids: list[int] = typer.Argument(None, help="Delivery ids (default: every dead letter)."),
           as_user: str = typer.Option(None, "--as", help="Who replays, for the audit log (default: SHIPWAY_OPERATOR).")) -> None:
    """Re-drive dead letters from their stored bodies; a delivery that is not a dead letter is left
    alone. Exit 1 when any stays a dead letter or an id does not exist."""
    from shipway import jira_webhooks
    from shipway.db.engine import Database
    from shipway.settings import get_settings
    from shipway.temporal import connect
    from workflows.statuses import WebhookOutcome

    async def main() -> int:
        async with Database.from_settings(pool_size=2) as db:
            try:
                results = await jira_webhooks.replay(await connect(), db, get_settings(), as_user or get_settings().operator,
                                                     ids or None)
            except LookupError as exc:
                typer.echo(str(exc), err=True)
                return 1
        if not results:
            typer.echo("no dead letters")
        for delivery, outcome, detail in results:
            typer.echo(f"{delivery}: {outcome}: {detail}")
        return 1 if any(o == WebhookOutcome.DEAD_LETTER for _, o, _ in results) else 0

    exit_now(run_async(main()))


def register(app: typer.Typer) -> None:
    """Add ``shipway webhooks ...``."""
    app.add_typer(webhooks_app, name="webhooks")
