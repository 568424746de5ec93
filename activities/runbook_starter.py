"""Starting runbooks: for an operator (CLI, console), a workflow (Failed Deployment after a canary
rollback) and the trigger schedule (High Error Rate on an error-rate breach, Webhook Failures on new
dead letters). At most one run per runbook and key is open at a time: a start for a key whose run is
still open reports that run instead of starting a second one. An automatic start runs at most once
per key, ever: its key names the subject and the period (an agent and the error-rate window it
breached in, a rolled-back version), so a breach that lasts starts one run per window, not one a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from shipway.db.engine import Database
from shipway.settings import CONTROL_TASK_QUEUE, Settings
from workflows.diagnostics_types import ErrorRateCheck
from workflows.runbook_types import (
    CHECK_RUNBOOK_TRIGGERS,
    RUNBOOK_WORKFLOWS,
    START_RUNBOOK,
    CheckRunbookTriggers,
    RunbookInput,
    RunbookToStart,
    RunbookTriggers,
    StartedRunbook,
    StartRunbook,
    runbook_workflow_id,
)
from workflows.statuses import Runbook, RunbookTrigger, WebhookOutcome

_NEW_DEAD_LETTERS = text("SELECT count(*) FROM webhook_deliveries WHERE outcome = :outcome AND received_at >= now() - :since")


# New dead letters start Webhook Failures at most once an hour.
DEAD_LETTER_PERIOD_S = 3600.0


def _period(seconds: float) -> str:
    """The UTC start of the current period of ``seconds`` (periods counted from the epoch), as a key part."""
    now = datetime.now(UTC).timestamp()
    return datetime.fromtimestamp(now - now % seconds, UTC).strftime("%Y%m%dT%H%M%S")


# The runbooks that back up or restore the catalog database: through pg_basebackup or through RDS.
RECOVERY_RUNBOOKS = frozenset({Runbook.BACKUP, Runbook.RESTORE, Runbook.RESTORE_DRILL})


def recovery_target(settings: Settings) -> str:
    """``rds`` when ``rds_instance_id`` is set, else ``postgres``: the ``target`` param of the recovery runbooks."""
    return "rds" if settings.rds_instance_id else "postgres"


def runbook_input(settings: Settings, **fields) -> RunbookInput:
    """A :class:`RunbookInput` with the confirmation timeout and escalation time from ``settings``."""
    return RunbookInput(confirm_timeout_s=settings.runbook_confirm_timeout_s,
                        escalate_after_s=settings.runbook_escalate_after_s, **fields)


async def start_runbook(client: Client, runbook: Runbook | str, key: str, inp: RunbookInput, once: bool = False) -> StartedRunbook:
    """Start ``runbook`` under id ``runbook:{runbook}:{key}`` on ``shipway-control``; ``once``: not
    even when a run with that id has ended.

    Returns:
        ``started=False`` when a run with that id is still open (or, with ``once``, ever ran).

    Raises:
        ValueError: an unknown runbook name.
    """
    runbook = Runbook(runbook)
    workflow_id = runbook_workflow_id(runbook, key)
    try:
        await client.start_workflow(RUNBOOK_WORKFLOWS[runbook], inp, id=workflow_id, task_queue=CONTROL_TASK_QUEUE,
                                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE if once
                                    else WorkflowIDReusePolicy.ALLOW_DUPLICATE)
    except WorkflowAlreadyStartedError:
        return StartedRunbook(workflow_id, started=False,
                              detail="a run with this id already ran" if once else "a run with this id is still open")
    return StartedRunbook(workflow_id, started=True)


class RunbookStarterActivities:
    """Owns the Temporal client runbooks are started with and the database triggers read."""

    def __init__(self, client: Client, db: Database, settings: Settings) -> None:
        self.client, self.db, self.settings = client, db, settings

    @activity.defn(name=START_RUNBOOK)
    async def start_runbook(self, inp: StartRunbook) -> StartedRunbook:
        """Start a runbook (an automatic start does nothing when ``runbook_auto_start`` is off)."""
        if inp.automatic and not self.settings.runbook_auto_start:
            return StartedRunbook(runbook_workflow_id(inp.runbook, inp.key), started=False,
                                  detail="automatic runbook starts are off (SHIPWAY_RUNBOOK_AUTO_START)")
        run_input = inp.input
        if run_input.confirm_timeout_s is None:
            run_input.confirm_timeout_s = self.settings.runbook_confirm_timeout_s
        if run_input.escalate_after_s is None:
            run_input.escalate_after_s = self.settings.runbook_escalate_after_s
        return await start_runbook(self.client, inp.runbook, inp.key, run_input, once=inp.automatic)

    @activity.defn(name=CHECK_RUNBOOK_TRIGGERS)
    async def check_runbook_triggers(self, inp: CheckRunbookTriggers) -> RunbookTriggers:
        """What should start now: High Error Rate for each agent whose error rate over
        ``error_rate_window_s`` is above ``error_rate_trigger`` with at least ``error_rate_min_runs``
        runs; Webhook Failures when dead letters arrived since the last check (two trigger intervals
        back, so a slow check misses none). Nothing when ``runbook_auto_start`` is off."""
        cfg = self.settings
        if not cfg.runbook_auto_start:
            return RunbookTriggers()
        from activities.run_health import RunHealthActivities

        rates = await RunHealthActivities(self.db).error_rates(ErrorRateCheck(window_s=cfg.error_rate_window_s))
        by_agent: dict[str, tuple[int, int]] = {}
        for row in rates.rows:
            runs, errors = by_agent.get(row.agent_name, (0, 0))
            by_agent[row.agent_name] = (runs + row.runs, errors + row.errors)
        window = _period(cfg.error_rate_window_s)
        start = [
            RunbookToStart(Runbook.HIGH_ERROR_RATE, key=f"{agent}:{window}", trigger=RunbookTrigger.ERROR_RATE,
                           reason=f"{errors} of {runs} runs failed in the last {cfg.error_rate_window_s:.0f} s "
                                  f"({errors / runs:.1%} > {cfg.error_rate_trigger:.1%})",
                           params={"agent": agent, "window_s": cfg.error_rate_window_s})
            for agent, (runs, errors) in sorted(by_agent.items())
            if runs >= cfg.error_rate_min_runs and errors / runs > cfg.error_rate_trigger
        ]
        async with self.db.session() as s:
            new = (await s.exec(_NEW_DEAD_LETTERS.bindparams(
                outcome=WebhookOutcome.DEAD_LETTER, since=timedelta(seconds=2 * cfg.runbook_triggers_every_s)))).scalar_one()
        if new:
            start.append(RunbookToStart(Runbook.WEBHOOK_FAILURES, key=f"dead-letters:{_period(DEAD_LETTER_PERIOD_S)}",
                                        trigger=RunbookTrigger.DEAD_LETTERS,
                                        reason=f"{new} new dead letter(s) in the last {2 * cfg.runbook_triggers_every_s:.0f} s"))
        return RunbookTriggers(start)
