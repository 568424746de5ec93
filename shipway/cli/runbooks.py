"""``shipway runbook list|start|show|confirm|skip``: run the operations guide's runbooks (one
Temporal workflow each, ``workflows/runbooks/``), follow them, and answer the destructive steps that
wait for an operator.

``list`` and ``show`` read the ``runbook_runs`` and ``runbook_steps`` tables the workflows keep
(``show`` asks the workflow itself when the database has no row, e.g. while a Restore runs without
it); ``start``, ``confirm`` and ``skip`` go through :mod:`shipway.runbook_control`.

Exit codes: 0 done (a run that waits for a decision counts as done for ``start``), 1 refused or
failed, 2 usage (an unknown runbook, a parameter that is not ``key=value``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import typer

from shipway.cli.common import exit_now, run_async

runbook_app = typer.Typer(help="Runbooks: start, follow, confirm or skip their steps, read their reports.",
                          no_args_is_help=True)

USAGE = 2
SUMMARY_CHARS = 160  # a step's findings summarised on one line
# report keys shown by show() on their own lines; any other key is printed as JSON
_REPORT_SHOWN = ("summary", "findings", "actions", "failed", "durations_s", "total_s")


def _when(value: datetime | str | None) -> str:
    """A stored (datetime) or queried (ISO-8601 text) UTC time as ``YYYY-MM-DD HH:MM:SS``; ``-`` when unset."""
    if value is None:
        return "-"
    ts = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{ts:%Y-%m-%d %H:%M:%S}"


def _seconds(start: datetime | str | None, end: datetime | str | None) -> str:
    if start is None or end is None:
        return ""
    a, b = (datetime.fromisoformat(v) if isinstance(v, str) else v for v in (start, end))
    return f"{(b - a).total_seconds():.1f} s"


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _brief(value: Any) -> str:
    """A finding's value in a few characters: a scalar or a short list/object of scalars as JSON,
    else its size (``[12 items]``, ``{3 keys}``)."""
    if isinstance(value, (list, dict)):
        items = value.values() if isinstance(value, dict) else value
        if len(value) <= 5 and all(_scalar(v) for v in items):
            return json.dumps(value, default=str)
        n = len(value)
        return f"[{n} item{'s' * (n != 1)}]" if isinstance(value, list) else f"{{{n} key{'s' * (n != 1)}}}"
    return str(value) if isinstance(value, (int, float, bool)) or value is None else json.dumps(value, default=str)


def summarise(values: dict[str, Any] | None, width: int = SUMMARY_CHARS) -> str:
    """A JSON object on one line as ``key=value`` pairs (each value by :func:`_brief`), the shortest
    pairs first (the counts an operator reads first; stored findings come back in JSONB's key order
    anyway), cut to ``width`` characters."""
    pairs = sorted((f"{key}={_brief(value)}" for key, value in (values or {}).items()), key=len)
    line = " ".join(pairs)
    return line if len(line) <= width else line[:width - 3] + "..."


def _step_line(step) -> str:
    """One step (a ``runbook_steps`` row or a queried :class:`~workflows.runbook_types.RunbookStepState`)."""
    who = f"  decided by {step.decided_by}" + (f": {step.reason}" if step.reason else "") if step.decided_by else ""
    took = _seconds(step.started_at, step.finished_at)
    return f"  {step.seq:>2}. {step.name:<44} {step.kind:<11} {step.status:<21} {took:>8}{who}"


def _step_detail(step) -> list[str]:
    lines = []
    if step.findings:
        lines.append(f"        findings: {summarise(step.findings)}")
    if step.proposal:
        lines.append(f"        proposal: {step.proposal}")
    if step.result:
        lines.append(f"        result: {summarise(step.result)}")
    if step.error:
        lines.append(f"        error: {step.error}")
    return lines


def _waiting_hint(run_id: str, step) -> str:
    return (f"step {step.name!r} waits for a decision ({step.status}); answer with:\n"
            f"  shipway runbook confirm {run_id} --by NAME --reason WHY\n"
            f"  shipway runbook skip {run_id} --by NAME --reason WHY")


@runbook_app.command("list")
def list_runs(status: str = typer.Option(None, "--status", help="Only runs in this status: running, waiting, completed, failed."),
              runbook: str = typer.Option(None, "--runbook", help="Only runs of this runbook."),
              limit: int = typer.Option(20, "--limit", min=1, help="Most runs shown, newest first.")) -> None:
    """The newest runbook runs: id, runbook, status, trigger, start time (UTC) and summary."""
    from sqlmodel import Session

    from shipway import queries
    from shipway.db.engine import sync_engine
    from shipway.runbook_control import UnknownRunbook, parse_runbook
    from workflows.statuses import RunbookStatus

    if status is not None and status not in set(RunbookStatus):
        typer.echo(f"unknown status {status!r}; one of {', '.join(RunbookStatus)}", err=True)
        exit_now(USAGE)
    try:
        name = parse_runbook(runbook).value if runbook else None
    except UnknownRunbook as exc:
        typer.echo(str(exc), err=True)
        exit_now(USAGE)
    with Session(sync_engine()) as s:
        runs = queries.runbook_runs(s, status=status, limit=limit, runbook=name)
    if not runs:
        typer.echo("no runbook runs" + (f" with status {status}" if status else ""))
        exit_now(0)
    width = max(len(r.id) for r in runs)
    typer.echo(f"{'ID':<{width}}  {'RUNBOOK':<17} {'STATUS':<9} {'TRIGGER':<15} {'STARTED (UTC)':<19}  SUMMARY")
    for r in runs:
        typer.echo(f"{r.id:<{width}}  {r.runbook:<17} {r.status:<9} {r.trigger:<15} {_when(r.started_at):<19}  {r.summary}")
    exit_now(0)


async def _follow(client, run_id: str) -> int:
    """Print each step as it changes until the run ends (0 completed, 1 failed) or waits for a decision (0)."""
    import asyncio

    from temporalio.client import WorkflowFailureError, WorkflowQueryFailedError
    from temporalio.service import RPCError

    from shipway.runbook_control import ENDED, progress
    from workflows.runbook_types import RunbookState

    result = asyncio.ensure_future(client.get_workflow_handle(run_id, result_type=RunbookState).result())
    shown: dict[int, str] = {}
    told_no_answer = False
    while True:
        if result.done():
            try:
                state = result.result()
            except WorkflowFailureError as exc:
                typer.echo(f"the runbook workflow failed: {exc.cause or exc}", err=True)
                return 1
        else:
            try:
                state = await progress(client, run_id)
            except (RPCError, WorkflowQueryFailedError) as exc:
                if not told_no_answer:
                    typer.echo(f"  (no answer from the workflow yet: {exc}; is `shipway worker` running?)", err=True)
                    told_no_answer = True
                state = None
        for step in state.steps if state else []:
            if shown.get(step.seq) != step.status:
                shown[step.seq] = step.status
                typer.echo(_step_line(step))
                if step.status not in ("running", "confirmed"):
                    for line in _step_detail(step):
                        typer.echo(line)
        if state is not None and state.status in ENDED:
            typer.echo(f"{state.status}: {state.summary}")
            typer.echo(f"  shipway runbook show {run_id}   # the report")
            return 1 if state.status == "failed" else 0
        waiting = state.awaiting() if state else None
        if waiting is not None:
            typer.echo(_waiting_hint(run_id, waiting))
            return 0
        await asyncio.wait([result], timeout=0.5)


@runbook_app.command("start")
def start(name: str = typer.Argument(..., help="high-error-rate, connection-pool, slow-search, failed-deployment, "
                                                "webhook-failures, backup, restore or restore-drill."),
          param: list[str] = typer.Option(None, "--param", "-p", help="key=value, repeatable; a value is JSON when it "
                                          "parses as JSON (numbers, booleans), else text."),
          reason: str = typer.Option("", "--reason", help="Why it is started (stored with the run, audited)."),
          by: str = typer.Option(None, "--by", help="Who starts it (default: SHIPWAY_OPERATOR)."),
          wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the run until it ends or waits for a "
                                    "decision (the default), or return once it is started.")) -> None:
    """Start runbook NAME: prints the run's id and its Temporal UI link, then (without --no-wait)
    shows each step as it changes until the run ends or a step waits for `confirm` / `skip`."""
    from shipway.runbook_control import UnknownRunbook, parse_params, parse_runbook

    try:
        runbook = parse_runbook(name)
        params = parse_params(param or [])
    except (UnknownRunbook, ValueError) as exc:
        typer.echo(str(exc), err=True)
        exit_now(USAGE)

    async def main() -> int:
        from temporalio.service import RPCError

        from shipway import runbook_control
        from shipway.settings import get_settings
        from shipway.temporal import connect

        settings = get_settings()
        try:
            client = await connect()
            started = await runbook_control.start(client, settings, runbook, params, by or settings.operator, reason)
        except (RPCError, RuntimeError) as exc:  # no Temporal configured or reachable
            typer.echo(f"{runbook} not started: {exc}", err=True)
            return 1
        typer.echo(f"started {runbook} {started.workflow_id}" if started.started
                   else f"not started: {started.detail}: {started.workflow_id}")
        typer.echo(f"  {settings.workflow_url(started.workflow_id)}")
        if not started.started:
            return 1
        if not wait:
            return 0
        return await _follow(client, started.workflow_id)

    exit_now(run_async(main()))


def _print_run(run, steps: list, source: str) -> None:
    from shipway.runbook_control import ENDED, WAITING_STEP
    from shipway.settings import get_settings

    took = _seconds(run.started_at, run.finished_at)
    typer.echo(f"{run.id}  {run.runbook}  {run.status}  ({source})")
    typer.echo(f"  trigger {run.trigger}, started by {run.started_by} at {_when(run.started_at)} UTC"
               + (f", finished {_when(run.finished_at)} UTC ({took})" if run.finished_at else ""))
    if run.reason:
        typer.echo(f"  reason: {run.reason}")
    if run.params:
        typer.echo(f"  params: {json.dumps(run.params)}")
    typer.echo(f"  workflow: {get_settings().workflow_url(run.id)}")
    typer.echo("steps:" if steps else "steps: none yet")
    for step in steps:
        typer.echo(_step_line(step))
        for line in _step_detail(step):
            typer.echo(line)
    waiting = next((s for s in steps if s.status in WAITING_STEP), None)
    if waiting is not None and run.status not in ENDED:
        typer.echo(_waiting_hint(run.id, waiting))
    if run.report:
        _print_report(run.report)


def _print_report(report: dict[str, Any]) -> None:
    typer.echo("report:")
    typer.echo(f"  summary: {report.get('summary', '')}")
    for a in report.get("actions", []):
        who = f", decided by {a['decided_by']}" + (f" ({a['reason']})" if a.get("reason") else "") if a.get("decided_by") else ""
        typer.echo(f"  action {a['step']!r}: {a['status']}{who}" + (f"; result: {summarise(a['result'])}" if a.get("result") else "")
                   + (f"; error: {a['error']}" if a.get("error") else ""))
    for f in report.get("failed", []):
        typer.echo(f"  failed {f['step']!r}: {f['error']}")
    durations = ", ".join(f"{k} {v} s" for k, v in (report.get("durations_s") or {}).items() if v is not None)
    typer.echo(f"  durations: {durations}; total {report.get('total_s')} s")
    extra = {k: v for k, v in report.items() if k not in _REPORT_SHOWN}
    if extra:
        typer.echo(f"  {json.dumps(extra, indent=2, default=str)}".replace("\n", "\n  "))


@runbook_app.command("show")
def show(run_id: str = typer.Argument(..., help="The run's id (its workflow id, runbook:NAME:KEY).")) -> None:
    """One run: its steps with status, findings (summarised), proposal and who decided; the step
    waiting for a decision; the report once it ended; its Temporal UI link."""
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session

    from shipway import queries
    from shipway.db.engine import sync_engine

    try:
        with Session(sync_engine()) as s:
            found = queries.runbook_run(s, run_id)
        if found is not None:
            _print_run(found.run, found.steps, "from the database")
            exit_now(0)
        why = "the database has no such run"
    except OperationalError as exc:  # a Restore runs while the database is away: the workflow still knows
        why = f"the database is unreachable ({exc.orig})"

    async def ask():
        from shipway.runbook_control import progress
        from shipway.temporal import connect

        return await progress(await connect(), run_id)

    try:
        state = run_async(ask())
    except Exception as exc:  # noqa: BLE001 - unknown workflow, Temporal unreachable: say both and fail
        typer.echo(f"no runbook run {run_id}: {why}, and its workflow cannot be queried: {exc}", err=True)
        exit_now(1)
    if state is None:
        typer.echo(f"{run_id}: {why}; its workflow has not started a step yet")
        exit_now(0)
    _print_run(state, state.steps, f"from the workflow: {why}")
    exit_now(0)


def _decide(signal: str, run_id: str, by: str, reason: str, step: str) -> None:
    from temporalio.service import RPCError

    from shipway import runbook_control
    from shipway.temporal import connect
    from workflows.runbook_types import RunbookDecision

    async def main() -> int:
        try:
            decided = await runbook_control.decide(await connect(), run_id, signal,
                                                   RunbookDecision(by=by, reason=reason, step=step or ""))
        except runbook_control.DecisionRefused as exc:
            typer.echo(f"{signal} refused: {exc.reason}", err=True)
            return 1
        except (LookupError, RPCError, RuntimeError) as exc:
            typer.echo(f"{signal} not sent: {exc}", err=True)
            return 1
        if decided.decided_by is None:
            typer.echo(f"{signal} sent for step {decided.name!r} of {run_id}, but the workflow has not recorded it yet "
                       f"(step is {decided.status}); check with `shipway runbook show {run_id}`", err=True)
            return 1
        typer.echo(f"step {decided.name!r} of {run_id}: {signal} by {decided.decided_by} recorded; the step is {decided.status}")
        return 0

    exit_now(run_async(main()))


_BY = typer.Option(..., "--by", help="Who decides (recorded with the step and in the audit log).")
_REASON = typer.Option(..., "--reason", help="Why (recorded with the step and in the audit log).")
_STEP = typer.Option(None, "--step", help="The step's name (default: the step waiting now); refused unless that step waits.")


@runbook_app.command("confirm")
def confirm(run_id: str, by: str = _BY, reason: str = _REASON, step: str = _STEP) -> None:
    """Run the destructive step that waits for a decision (refused when none waits)."""
    _decide("confirm", run_id, by, reason, step)


@runbook_app.command("skip")
def skip(run_id: str, by: str = _BY, reason: str = _REASON, step: str = _STEP) -> None:
    """Leave the step that waits for a decision undone (refused when none waits)."""
    _decide("skip", run_id, by, reason, step)


def register(app: typer.Typer) -> None:
    """Add ``shipway runbook ...``."""
    app.add_typer(runbook_app, name="runbook")
