"""``CheckpointRetentionWorkflow`` (task queue ``shipway-control``): one checkpoint-retention pass,
started every ``SHIPWAY_RETENTION_EVERY_S`` by the Temporal Schedule ``checkpoint-retention`` (and by
``shipway retention run``). It runs ``prune_checkpoints`` batch after batch, each one short transaction,
following the thread-id cursor the last batch returns, until a batch finds no thread left to prune;
after ``max_batches`` batches it continues as new with the cursor and the report so far, so its
history stays small. The ``progress`` query returns the report so far."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.types import (
    PRUNE_CHECKPOINTS,
    QUERY_RETENTION_PROGRESS,
    RETENTION_WORKFLOW,
    WORKFLOW_FAILURE_TYPES,
    PruneBatchInput,
    PruneBatchResult,
    RetentionInput,
    RetentionReport,
)

# A batch is bounded by its statement timeouts (activities/retention.py); heartbeats come between statements.
BATCH_TIMEOUT = timedelta(minutes=10)
BATCH_HEARTBEAT_TIMEOUT = timedelta(minutes=2)
# A lock or statement timeout is retried after a pause; a batch failing this often fails the pass, visibly.
BATCH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=5)


@workflow.defn(name=RETENTION_WORKFLOW, failure_exception_types=WORKFLOW_FAILURE_TYPES)
class CheckpointRetentionWorkflow:
    """Prune finished threads' checkpoints batch by batch; returns the :class:`RetentionReport`."""

    def __init__(self) -> None:
        self._report = RetentionReport()

    @workflow.run
    async def run(self, inp: RetentionInput) -> RetentionReport:
        self._report = inp.report or RetentionReport()
        as_of = inp.as_of or workflow.now().isoformat()
        cursor = inp.after_thread_id
        for _ in range(max(inp.max_batches, 1)):
            batch = await workflow.execute_activity(
                PRUNE_CHECKPOINTS,
                PruneBatchInput(as_of=as_of, after_thread_id=cursor, agent_name=inp.agent_name,
                                older_than_days=inp.older_than_days, batch_size=inp.batch_size),
                result_type=PruneBatchResult, start_to_close_timeout=BATCH_TIMEOUT,
                heartbeat_timeout=BATCH_HEARTBEAT_TIMEOUT, retry_policy=BATCH_RETRY)
            if batch.last_thread_id is None:
                return self._report
            self._report.add(batch)
            cursor = batch.last_thread_id
        workflow.continue_as_new(replace(inp, as_of=as_of, after_thread_id=cursor, report=self._report))

    @workflow.query(name=QUERY_RETENTION_PROGRESS)
    def progress(self) -> RetentionReport:
        """The report so far (batches, and by agent what they deleted)."""
        return self._report
