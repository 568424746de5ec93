"""Shipway's Temporal Schedules, created when a control worker starts (idempotent): the daily
verification of the audit chain (``AuditVerificationWorkflow``), the checkpoint retention
(``CheckpointRetentionWorkflow``, every ``SHIPWAY_RETENTION_EVERY_S``) and the cost rollup with the
daily budget checks (``CostRollupWorkflow``, every ``SHIPWAY_COST_ROLLUP_EVERY_S``)."""

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

from shipway.settings import CONTROL_TASK_QUEUE, Settings, get_settings
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
    """Shipway's schedules as ``(schedule id, workflow type, workflow input, workflow id, interval)``."""
    return [
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
