"""``AgentRunWorkflow`` (id ``run:{uuid}``, task queue ``shipway-agents``): one durable agent run.

Execute the graph in an activity; when the graph hits ``interrupt()``, wait for a human's
``resume`` signal or ``resume_run`` update (until a deadline), then execute again with
``Command(resume=...)``; record status, latency, tokens and cost on the run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.types import (
    QUERY_RUN_STATE,
    SIGNAL_RESUME_RUN,
    UPDATE_RESUME_RUN,
    UPDATE_WAIT_SETTLED,
    GraphStepInput,
    GraphStepResult,
    ResumeRequest,
    RunInput,
    RunRecord,
    RunResult,
)

_RECORD_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name="AgentRunWorkflow")
class AgentRunWorkflow:
    """Durable agent run with human-in-the-loop. Query ``state``; signal ``resume`` / update ``resume_run``."""

    def __init__(self) -> None:
        self._result: RunResult | None = None
        self._resume: ResumeRequest | None = None

    @workflow.run
    async def run(self, inp: RunInput) -> RunResult:
        self._result = RunResult(run_id=inp.run_id, status="running")
        started = workflow.now()
        waited = timedelta(0)
        tokens_in = tokens_out = 0
        cost = 0.0
        step = GraphStepInput(run_id=inp.run_id, agent_name=inp.agent_name, version=inp.version,
                              thread_id=inp.thread_id, input=inp.input)
        while True:
            try:
                res: GraphStepResult = await workflow.execute_activity(
                    "run_graph", step, result_type=GraphStepResult,
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_s),
                    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5,
                                             non_retryable_error_types=["InvalidInput", "UnknownAgentVersion"]),
                )
            except ActivityError as err:
                message = str(err.cause) if err.cause else str(err)
                await self._record(RunRecord(run_id=inp.run_id, status="failed", error=message,
                                             latency_ms=self._ms(workflow.now() - started - waited), wait_ms=self._ms(waited),
                                             tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost))
                await self._settle(RunResult(run_id=inp.run_id, status="failed", error=message))
                raise ApplicationError(message, type="RunFailed", non_retryable=True) from err
            tokens_in += res.tokens_in
            tokens_out += res.tokens_out
            cost += res.cost_usd
            if res.status == "completed":
                break
            await self._record(RunRecord(run_id=inp.run_id, status="interrupted", interrupt=res.interrupt,
                                         wait_ms=self._ms(waited), tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost))
            self._result = RunResult(run_id=inp.run_id, status="interrupted", interrupt=res.interrupt)
            wait_start = workflow.now()
            try:
                await workflow.wait_condition(lambda: self._resume is not None, timeout=timedelta(seconds=inp.resume_timeout_s))
            except TimeoutError:
                message = f"no resume within {inp.resume_timeout_s:.0f} s"
                await self._record(RunRecord(run_id=inp.run_id, status="failed", interrupt=res.interrupt, error=message,
                                             wait_ms=self._ms(workflow.now() - wait_start + waited)))
                await self._settle(RunResult(run_id=inp.run_id, status="failed", interrupt=res.interrupt, error=message))
                raise ApplicationError(message, type="ResumeTimeout", non_retryable=True)
            waited += workflow.now() - wait_start
            step = GraphStepInput(run_id=inp.run_id, agent_name=inp.agent_name, version=inp.version,
                                  thread_id=inp.thread_id, resume=self._resume.value)
            self._resume = None
            self._result = RunResult(run_id=inp.run_id, status="running")
        await self._record(RunRecord(run_id=inp.run_id, status="succeeded", output=res.output,
                                     latency_ms=self._ms(workflow.now() - started - waited), wait_ms=self._ms(waited),
                                     tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost))
        await self._settle(RunResult(run_id=inp.run_id, status="succeeded", output=res.output))
        return self._result

    async def _settle(self, result: RunResult) -> None:
        """Publish the final result and let waiting update handlers answer before the run closes."""
        self._result = result
        await workflow.wait_condition(workflow.all_handlers_finished)

    @staticmethod
    def _ms(delta: timedelta) -> float:
        return round(delta.total_seconds() * 1000.0, 3)

    async def _record(self, rec: RunRecord) -> None:
        # a local activity: one short UPDATE, done in the same workflow task (no extra server round trip)
        await workflow.execute_local_activity("record_run", rec, start_to_close_timeout=_RECORD_TIMEOUT)

    @workflow.query(name=QUERY_RUN_STATE)
    def state(self) -> RunResult:
        """Current status, output or pending interrupt payload."""
        return self._result

    @workflow.update(name=UPDATE_WAIT_SETTLED)
    async def wait_settled(self) -> RunResult:
        """Return once the run is interrupted, succeeded or failed (for callers that wait)."""
        await workflow.wait_condition(lambda: self._result is not None and self._result.status != "running")
        return self._result

    @workflow.signal(name=SIGNAL_RESUME_RUN)
    def resume(self, req: ResumeRequest) -> None:
        """Answer the pending interrupt (ignored when the run is not waiting)."""
        if self._result and self._result.status == "interrupted" and self._resume is None:
            self._resume = req

    @workflow.update(name=UPDATE_RESUME_RUN)
    async def resume_run(self, req: ResumeRequest) -> dict:
        """Answer the pending interrupt; returns ``{"accepted": True, "run_id"}``."""
        self._resume = req
        return {"accepted": True, "run_id": self._result.run_id}

    @resume_run.validator
    def _validate_resume(self, req: ResumeRequest) -> None:
        if not self._result or self._result.status != "interrupted" or self._resume is not None:
            raise ValueError(f"run is {self._result.status if self._result else 'starting'}, not waiting for input")
        if not isinstance(req.value, dict) or not req.value:
            raise ValueError("resume value must be a non-empty JSON object")
