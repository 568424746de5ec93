"""Contracts of the runbook workflows (``workflows/runbooks/``): their names, signals and query, the
input every runbook takes, the operator's decision, the state a run reports, and the activities that
save that state, start runbooks and find what should start them. The diagnostic, remediation and
backup activities a runbook calls have their contracts in :mod:`workflows.diagnostics_types`,
:mod:`workflows.backup_types` and :mod:`workflows.rds_types`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflows.statuses import Runbook, RunbookStatus, RunbookStepStatus, RunbookTrigger

# One workflow type per runbook; ``runbook_workflow_id`` names each run.
RUNBOOK_WORKFLOWS: dict[Runbook, str] = {
    Runbook.HIGH_ERROR_RATE: "HighErrorRateRunbook",
    Runbook.CONNECTION_POOL: "ConnectionPoolRunbook",
    Runbook.SLOW_SEARCH: "SlowSearchRunbook",
    Runbook.FAILED_DEPLOYMENT: "FailedDeploymentRunbook",
    Runbook.WEBHOOK_FAILURES: "WebhookFailuresRunbook",
    Runbook.BACKUP: "BackupRunbook",
    Runbook.RESTORE: "RestoreRunbook",
    Runbook.RESTORE_DRILL: "RestoreDrillRunbook",
}
RUNBOOK_TRIGGERS_WORKFLOW = "RunbookTriggersWorkflow"
# Temporal Schedules of this issue (on shipway-control)
RUNBOOK_TRIGGERS_SCHEDULE = "runbook-triggers"
BACKUP_SCHEDULE = "backup"
RESTORE_DRILL_SCHEDULE = "restore-drill"

SIGNAL_CONFIRM = "confirm"
SIGNAL_SKIP = "skip"
QUERY_RUNBOOK = "progress"

# -- activities
SAVE_RUNBOOK_STATE = "save_runbook_state"
START_RUNBOOK = "start_runbook"
CHECK_RUNBOOK_TRIGGERS = "check_runbook_triggers"
RECONCILE_RUNS = "reconcile_runs"

# Used when a runbook's input leaves them unset (the CLI, console and triggers fill them from settings).
DEFAULT_CONFIRM_TIMEOUT_S = 4 * 3600.0
DEFAULT_ESCALATE_AFTER_S = 900.0


def runbook_workflow_id(runbook: Runbook | str, key: str) -> str:
    """Workflow id of a runbook run: ``runbook:{name}:{key}`` (key: a subject such as an agent name,
    or a unique suffix)."""
    return f"runbook:{Runbook(runbook).value}:{key}"


@dataclass
class RunbookInput:
    """What every runbook workflow takes. ``params`` are the runbook's own (documented on each
    workflow: e.g. ``agent``, ``window_s``, ``target_time``); ``trigger`` and ``started_by`` say who or
    what started it and ``reason`` why. A destructive step waits ``confirm_timeout_s`` for ``confirm``
    or ``skip`` and is escalated after ``escalate_after_s`` (seconds; None = the defaults above)."""

    params: dict[str, Any] = field(default_factory=dict)
    trigger: RunbookTrigger = RunbookTrigger.OPERATOR
    started_by: str = "operator"
    reason: str = ""
    confirm_timeout_s: float | None = None
    escalate_after_s: float | None = None


@dataclass
class RunbookDecision:
    """Payload of ``confirm`` and ``skip``: ``by`` (who; required) answers step ``step`` (its name;
    empty = the step waiting now) with ``reason`` (why)."""

    by: str
    reason: str = ""
    step: str = ""


@dataclass
class RunbookStepState:
    """One step of a runbook run: ``kind`` is ``diagnostic``, ``action`` (changes nothing an operator
    must approve: e.g. a backup, a restore into a new directory) or ``remediation`` (waits for
    ``confirm``); ``findings`` what it found (JSON); ``proposal`` what a remediation would change;
    ``decided_by`` and ``reason`` who answered; ``result`` what it changed. Times ISO-8601 UTC."""

    seq: int
    name: str
    kind: str
    status: RunbookStepStatus
    started_at: str
    findings: dict[str, Any] = field(default_factory=dict)
    proposal: str = ""
    decided_by: str | None = None
    reason: str | None = None
    result: dict[str, Any] | None = None
    finished_at: str | None = None
    error: str | None = None


@dataclass
class RunbookState:
    """A runbook run as the ``progress`` query returns it and ``save_runbook_state`` stores it
    (``runbook_runs`` + ``runbook_steps``). ``report`` is set once it ended: findings by step, the
    actions taken with who confirmed them, durations in seconds."""

    id: str
    runbook: Runbook
    status: RunbookStatus
    trigger: RunbookTrigger
    started_by: str
    started_at: str
    reason: str = ""
    subject: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    steps: list[RunbookStepState] = field(default_factory=list)
    summary: str = ""
    report: dict[str, Any] | None = None
    finished_at: str | None = None

    def awaiting(self) -> RunbookStepState | None:
        """The step waiting for ``confirm`` or ``skip``, if any."""
        waiting = (RunbookStepStatus.AWAITING_CONFIRMATION, RunbookStepStatus.ESCALATED)
        return next((s for s in self.steps if s.status in waiting), None)


@dataclass
class SaveRunbookState:
    """Input of ``save_runbook_state``: the whole run so far (upserted: a retried or later save wins)."""

    state: RunbookState


@dataclass
class SavedRunbookState:
    """Steps stored."""

    steps: int


@dataclass
class StartRunbook:
    """Input of ``start_runbook``: start ``runbook`` with ``input`` under id
    ``runbook:{runbook}:{key}``, unless a run with that id is still open (then that one is reported).
    ``automatic``: started by a trigger, which the ``runbook_auto_start`` setting may switch off; an
    automatic start never runs twice under one key."""

    runbook: Runbook
    key: str
    input: RunbookInput = field(default_factory=RunbookInput)
    automatic: bool = False


@dataclass
class StartedRunbook:
    """The run's workflow id and whether this call started it (False: one was already open, or
    automatic starts are off: ``detail`` says which)."""

    workflow_id: str
    started: bool
    detail: str = ""


@dataclass
class CheckRunbookTriggers:
    """Input of ``check_runbook_triggers`` (thresholds come from settings)."""


@dataclass
class RunbookToStart:
    """A runbook a trigger asks for: which, under which key, with which params, and why."""

    runbook: Runbook
    key: str
    trigger: RunbookTrigger
    reason: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunbookTriggers:
    """Result of ``check_runbook_triggers``: what should start now (empty when auto-start is off)."""

    start: list[RunbookToStart] = field(default_factory=list)


@dataclass
class ReconcileRuns:
    """Input of ``reconcile_runs``: compare the agent runs Temporal accepted since ``since`` (ISO UTC)
    with the ``runs`` table of the (restored) database."""

    since: str


@dataclass
class ReconciledRuns:
    """Runs Temporal holds since ``since``: ``accepted`` in all; ``missing`` ids with no row in the
    database (accepted after the recovery point); of those, ``still_running`` will write their row when
    they end; ``lost`` ended without a row and are reported here, by id, with their status in Temporal."""

    accepted: int
    missing: list[str] = field(default_factory=list)
    still_running: list[str] = field(default_factory=list)
    lost: dict[str, str] = field(default_factory=dict)
