"""``shipway retention run``: prune the checkpoints of finished threads past their retention now
(``CheckpointRetentionWorkflow`` on Temporal), or with ``--dry-run`` report what that would delete."""

from __future__ import annotations

import asyncio

import typer

from shipway.cli.common import exit_now, run_async

retention_app = typer.Typer(help="Checkpoint retention: prune finished threads' older checkpoints.", no_args_is_help=True)


def _table(report) -> None:
    """Print ``report`` (a :class:`~workflows.types.RetentionReport`) by agent, with totals."""
    if not report.agents:
        typer.echo("  no finished thread is past its retention with checkpoints to prune")
        return
    typer.echo(f"  {'agent':<32} {'retention':>9}  {'cutoff (UTC)':<25} {'threads':>8} {'checkpoints':>11} "
               f"{'writes':>8} {'blobs':>8}")
    for a in report.agents:
        typer.echo(f"  {a.agent_name:<32} {str(a.retention_days) + ' d':>9}  {a.cutoff[:19]:<25} {a.threads:>8,} "
                   f"{a.checkpoints:>11,} {a.writes:>8,} {a.blobs:>8,}")
    typer.echo(f"  {'total':<32} {'':>9}  {'':<25} {report.total('threads'):>8,} {report.total('checkpoints'):>11,} "
               f"{report.total('writes'):>8,} {report.total('blobs'):>8,}")


@retention_app.command("run")
def run(dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be deleted, per agent; delete nothing."),
        agent: str = typer.Option(None, "--agent", help="Only this agent's threads."),
        older_than_days: int = typer.Option(None, "--older-than-days", min=0,
                                            help="Prune threads idle longer than this, days (overrides agents' retention)."),
        batch_size: int = typer.Option(None, "--batch-size", min=1,
                                       help="Threads per transaction (default: SHIPWAY_RETENTION_BATCH_SIZE).")) -> None:
    """Keep only the latest checkpoint of each finished thread whose last activity is older than its
    agent's retention (spec ``retention_days``, else SHIPWAY_RETENTION_DAYS). Without ``--dry-run``
    it starts ``CheckpointRetentionWorkflow``, shows its progress and prints its Temporal UI link."""
    exit_now(run_async(_dry_run(agent, older_than_days, batch_size) if dry_run else _run(agent, older_than_days, batch_size)))


async def _dry_run(agent: str | None, older_than_days: int | None, batch_size: int | None) -> int:
    from datetime import UTC, datetime

    from activities.retention import RetentionActivities
    from shipway.db.engine import Database
    from shipway.settings import get_settings

    settings = get_settings()
    as_of = datetime.now(UTC)
    # the workers' role, so the dry run sees every tenant's threads exactly as the workflow will
    async with Database(settings.resolved_database_url(), pool_size=1, role=settings.worker_db_role or None) as db:
        report = await RetentionActivities.from_settings(db, settings).dry_run(
            agent_name=agent, older_than_days=older_than_days, batch_size=batch_size, as_of=as_of)
    typer.echo(f"dry run as of {as_of:%Y-%m-%d %H:%M:%S} UTC (default retention {settings.retention_days} days): "
               f"would delete, nothing deleted")
    _table(report)
    return 0


async def _run(agent: str | None, older_than_days: int | None, batch_size: int | None) -> int:
    import uuid
    from datetime import UTC, datetime

    from temporalio.client import WorkflowFailureError, WorkflowQueryFailedError
    from temporalio.service import RPCError

    from shipway.settings import CONTROL_TASK_QUEUE, get_settings
    from shipway.temporal import connect
    from workflows.types import QUERY_RETENTION_PROGRESS, RETENTION_WORKFLOW, RetentionInput, RetentionReport

    client = await connect()
    wf_id = f"checkpoint-retention-cli-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    handle = await client.start_workflow(
        RETENTION_WORKFLOW, RetentionInput(agent_name=agent, older_than_days=older_than_days, batch_size=batch_size),
        id=wf_id, task_queue=CONTROL_TASK_QUEUE, result_type=RetentionReport)
    typer.echo(f"started {RETENTION_WORKFLOW} {wf_id}\n  {get_settings().workflow_url(wf_id)}")
    result = asyncio.ensure_future(handle.result())
    shown = 0
    while not result.done():
        await asyncio.wait([result], timeout=1.0)
        if result.done():
            break
        try:
            so_far = await handle.query(QUERY_RETENTION_PROGRESS, result_type=RetentionReport)
        except (RPCError, WorkflowQueryFailedError):  # between continue-as-new runs, or no worker yet: ask again
            continue
        if so_far.batches != shown:
            shown = so_far.batches
            typer.echo(f"  {so_far.batches:,} batches: {so_far.total('threads'):,} threads, "
                       f"{so_far.total('checkpoints'):,} checkpoints pruned so far")
    try:
        report = result.result()
    except WorkflowFailureError as exc:
        typer.echo(f"retention failed: {exc.cause or exc}", err=True)
        return 1
    typer.echo(f"done: {report.batches:,} batch(es)")
    _table(report)
    return 0


def register(app: typer.Typer) -> None:
    """Add ``shipway retention ...``."""
    app.add_typer(retention_app, name="retention")
