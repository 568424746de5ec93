"""``RunbookTriggersWorkflow``: started every ``SHIPWAY_RUNBOOK_TRIGGERS_EVERY_S`` by the
``runbook-triggers`` schedule; asks what should start (an error-rate breach, new dead letters) and
starts those runbooks (one open run per runbook and subject)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.runbook_types import (
    CHECK_RUNBOOK_TRIGGERS,
    RUNBOOK_TRIGGERS_WORKFLOW,
    START_RUNBOOK,
    CheckRunbookTriggers,
    RunbookInput,
    RunbookTriggers,
    StartedRunbook,
    StartRunbook,
)
from workflows.types import WORKFLOW_FAILURE_TYPES

_SHORT = dict(start_to_close_timeout=timedelta(seconds=60), retry_policy=RetryPolicy(maximum_attempts=3))


@workflow.defn(name=RUNBOOK_TRIGGERS_WORKFLOW, failure_exception_types=WORKFLOW_FAILURE_TYPES)
class RunbookTriggersWorkflow:
    """One check of the runbook triggers; returns the runbooks it started or found open."""

    @workflow.run
    async def run(self, inp: CheckRunbookTriggers) -> list[StartedRunbook]:
        due = await workflow.execute_activity(CHECK_RUNBOOK_TRIGGERS, inp, result_type=RunbookTriggers, **_SHORT)
        started = []
        for t in due.start:
            started.append(await workflow.execute_activity(START_RUNBOOK, StartRunbook(
                runbook=t.runbook, key=t.key, automatic=True,
                input=RunbookInput(params=t.params, trigger=t.trigger, started_by="shipway.triggers", reason=t.reason)),
                result_type=StartedRunbook, **_SHORT))
        return started
