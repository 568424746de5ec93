"""``CostRollupWorkflow`` (task queue ``shipway-control``): one refresh of the cost rollups and the
daily budgets, started every ``settings.cost_rollup_every_s`` by the Temporal Schedule ``cost-rollup``
(and on demand: ``shipway costs rollup``). The days come from the workflow's clock, so a replay
recomputes nothing differently; the activity does the work and is idempotent (upserts, and an alert
fires once per agent, day and threshold)."""

from __future__ import annotations

from datetime import timedelta, timezone

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows.types import COST_ROLLUP_WORKFLOW, ROLLUP_COSTS, CostRollupInput, CostRollupRequest, CostRollupResult


@workflow.defn(name=COST_ROLLUP_WORKFLOW)
class CostRollupWorkflow:
    """Recompute the rollups of the last ``days`` UTC days (today included) and evaluate today's budgets."""

    @workflow.run
    async def run(self, inp: CostRollupRequest) -> CostRollupResult:
        if inp.days < 1:
            raise ApplicationError(f"days must be at least 1, got {inp.days}", type="InvalidInput", non_retryable=True)
        today = workflow.now().astimezone(timezone.utc).date()
        since = today - timedelta(days=inp.days - 1)
        return await workflow.execute_activity(
            ROLLUP_COSTS, CostRollupInput(since=since.isoformat(), until=today.isoformat(), budget_day=today.isoformat()),
            result_type=CostRollupResult, start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_attempts=5))
