"""Shipway's Temporal Schedules, created when a control worker starts (idempotent): today the daily
verification of the audit chain (``AuditVerificationWorkflow``)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
)

from shipway.settings import CONTROL_TASK_QUEUE
from workflows.types import AUDIT_VERIFICATION_SCHEDULE, AUDIT_VERIFICATION_WORKFLOW, AuditChainCheck

AUDIT_VERIFICATION_EVERY = timedelta(days=1)


async def ensure_schedules(client: Client) -> list[str]:
    """Create each of Shipway's schedules that does not exist yet; returns the ids it created
    (an existing schedule is left as an operator may have paused or edited it)."""
    created = []
    try:
        await client.create_schedule(AUDIT_VERIFICATION_SCHEDULE, Schedule(
            action=ScheduleActionStartWorkflow(AUDIT_VERIFICATION_WORKFLOW, AuditChainCheck(), id="audit-verification",
                                               task_queue=CONTROL_TASK_QUEUE),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=AUDIT_VERIFICATION_EVERY)])))
        created.append(AUDIT_VERIFICATION_SCHEDULE)
    except ScheduleAlreadyRunningError:
        pass
    return created
