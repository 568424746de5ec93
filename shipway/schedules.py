"""Shipway's Temporal Schedules, created when a control worker starts (idempotent): the daily
verification of the audit chain (``AuditVerificationWorkflow``), the checkpoint retention
(``CheckpointRetentionWorkflow``, every ``SHIPWAY_RETENTION_EVERY_S``), the cost rollup with the
daily budget checks (``CostRollupWorkflow``, every ``SHIPWAY_COST_ROLLUP_EVERY_S``), the runbook
triggers (``RunbookTriggersWorkflow``, every ``SHIPWAY_RUNBOOK_TRIGGERS_EVERY_S``), and the Backup and
Restore drill runbooks (every ``SHIPWAY_BACKUP_EVERY_S`` and ``SHIPWAY_RESTORE_DRILL_EVERY_S``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
)

from activities.runbook_starter import recovery_target, runbook_input
from shipway.settings import CONTROL_TASK_QUEUE, Settings, get_settings
from workflows.runbook_types import (
    BACKUP_SCHEDULE,
    RESTORE_DRILL_SCHEDULE,
    RUNBOOK_TRIGGERS_SCHEDULE,
    RUNBOOK_TRIGGERS_WORKFLOW,
    RUNBOOK_WORKFLOWS,
    CheckRunbookTriggers,
    runbook_workflow_id,
)
from workflows.statuses import Runbook, RunbookTrigger
from workflows.types import (
    AUDIT_VERIFICATION_SCHEDULE,
    AUDIT_VERIFICATION_WORKFLOW,
    COST_ROLLUP_SCHEDULE,
    COST_ROLLUP_WORKFLOW,
    RETENTION_SCHEDULE,
    RETENTION_WORKFLOW,
    AuditChainCheck,
    CostRollupRequest,
    RetentionInput,
)

AUDIT_VERIFICATION_EVERY = timedelta(days=1)


def schedules(settings: Settings) -> list[tuple[str, str, Any, str, timedelta]]:
    """Shipway's schedules as ``(schedule id, workflow type, workflow input, workflow id, interval)``.
    The backup and restore-drill ones only with ``backup_schedules`` on; they back up with
    pg_basebackup, or through RDS when ``rds_instance_id`` is set."""
    target = recovery_target(settings)
    backups = [
        (BACKUP_SCHEDULE, RUNBOOK_WORKFLOWS[Runbook.BACKUP],
         runbook_input(settings, params={"target": target}, trigger=RunbookTrigger.SCHEDULE, started_by="shipway.schedule"),
         runbook_workflow_id(Runbook.BACKUP, "scheduled"), timedelta(seconds=settings.backup_every_s)),
        (RESTORE_DRILL_SCHEDULE, RUNBOOK_WORKFLOWS[Runbook.RESTORE_DRILL],
         runbook_input(settings, params={"target": target}, trigger=RunbookTrigger.SCHEDULE, started_by="shipway.schedule"),
         runbook_workflow_id(Runbook.RESTORE_DRILL, "scheduled"), timedelta(seconds=settings.restore_drill_every_s)),
    ] if settings.backup_schedules else []
    return backups + [
        (RUNBOOK_TRIGGERS_SCHEDULE, RUNBOOK_TRIGGERS_WORKFLOW, CheckRunbookTriggers(), "runbook-triggers",
         timedelta(seconds=settings.runbook_triggers_every_s)),
        (AUDIT_VERIFICATION_SCHEDULE, AUDIT_VERIFICATION_WORKFLOW, AuditChainCheck(), "audit-verification",
         AUDIT_VERIFICATION_EVERY),
        (RETENTION_SCHEDULE, RETENTION_WORKFLOW, RetentionInput(), "checkpoint-retention",
         timedelta(seconds=settings.retention_every_s)),
        (COST_ROLLUP_SCHEDULE, COST_ROLLUP_WORKFLOW, CostRollupRequest(), "cost-rollup",
         timedelta(seconds=settings.cost_rollup_every_s)),
    ]


async def ensure_schedules(client: Client, settings: Settings | None = None) -> list[str]:
    """Create each of Shipway's schedules that does not exist yet; returns the ids it created
    (an existing schedule is left as an operator may have paused or edited it)."""
    created = []
    for schedule_id, workflow_type, arg, workflow_id, every in schedules(settings or get_settings()):
        try:
            await client.create_schedule(schedule_id, Schedule(
                action=ScheduleActionStartWorkflow(workflow_type, arg, id=workflow_id, task_queue=CONTROL_TASK_QUEUE),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)])))
            created.append(schedule_id)
        except ScheduleAlreadyRunningError:
            pass
    return created
