"""``AgentRunWorkflow`` (id ``run:{uuid}``, task queue ``shipway-agents``): one durable agent run.

Guard the input (PII policy, jailbreak / injection / topic rails: a blocked run ends ``blocked``
before any node runs); claim the conversation thread and record the run; execute the graph in an
activity; when the graph hits ``interrupt()``, wait for a human's ``resume`` signal or
``resume_run`` update (until a deadline), audit and guard the answer, and execute again with
``Command(resume=...)``; verify the output (PII leaks, the agent's own compliance checks: a failed
check ends ``withheld``, without the output); record status, latency, tokens and cost on the run.

With a per-run budget (``max_cost_usd``, under the ``run-budget`` patch) each graph step gets what is
left of it; a step that reaches it stops at a node boundary and the run ends ``budget_exceeded`` with
the state so far as output, verified like any output (a withheld one is not released). The run's
tokens and cost are the totals the graph activity recorded in ``llm_usage``, failed steps included.

A graph checkpointed at exit (``local_graph_timeout_s`` set; runs started before it lack the field,
so their histories replay unchanged) runs each step as a local activity first: in the worker that
runs the workflow task, with no task-queue round trip through the server. One that fails (any
error) or outlasts the timeout is run again as the regular, heartbeating activity with its retries;
a worker that dies mid-step lets the workflow task time out, and the next worker runs the step again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

from workflows.statuses import GraphStepStatus, RunStatus
from workflows.types import (
    DELIVER_RUN_WEBHOOK,
    END_RUN_STREAM,
    WORKFLOW_FAILURE_TYPES,
    GUARD_INPUT,
    QUERY_RUN_STATE,
    RECORD_AUDIT,
    RECORD_RUN,
    RUN_GRAPH,
    RUN_USAGE_DETAIL,
    RUN_WORKFLOW,
    SIGNAL_RESUME_RUN,
    START_RUN,
    UPDATE_RESUME_RUN,
    UPDATE_RUN_ACCEPTED,
    UPDATE_RUN_SETTLED,
    VERIFY_OUTPUT,
    AuditRecord,
    AuditResult,
    GraphStepInput,
    GraphStepResult,
    GuardInput,
    GuardVerdict,
    OutputCheck,
    OutputVerdict,
    ResumeAck,
    ResumeRequest,
    RunInput,
    RunRecord,
    RunRecordResult,
    RunResult,
    RunStart,
    RunStartResult,
    RunStreamEnd,
    RunStreamEnded,
    RunWebhook,
    RunWebhookResult,
)

_LOCAL = dict(start_to_close_timeout=timedelta(seconds=30))
# Guards are local activities too; the first call of a worker loads the rails' model.
_GUARD = dict(start_to_close_timeout=timedelta(seconds=60))
_GUARDS_PATCH = "run-guards-v1"
_BUDGET_PATCH = "run-budget"
# Failures of the graph activity that another attempt cannot fix.
_NOT_RETRIED = ["InvalidInput", "UnknownAgentVersion", "ArtifactIntegrity", "UnknownArtifact"]


def resume_problem(raw: Any) -> str | None:
    """Why a resume payload is unusable (``None`` when it is a :class:`ResumeRequest`-shaped mapping
    with a non-empty JSON object ``value`` and a text ``actor``)."""
    if not isinstance(raw, dict):
        return f"resume must be a JSON object with 'value' and 'actor', got {type(raw).__name__}"
    if not isinstance(raw.get("value"), dict) or not raw["value"]:
        return "resume value must be a non-empty JSON object"
    if not isinstance(raw.get("actor", "operator"), str) or not raw.get("actor", "operator").strip():
        return "resume actor must be a non-empty name"
    return None


@workflow.defn(name=RUN_WORKFLOW, failure_exception_types=WORKFLOW_FAILURE_TYPES)
class AgentRunWorkflow:
    """Durable agent run with human-in-the-loop. Query ``state``; signal ``resume`` or update
    ``resume_run`` with a :class:`ResumeRequest`; updates ``wait_accepted`` / ``wait_settled``
    answer once the run has claimed its thread / settled (interrupted, finished or refused)."""

    def __init__(self) -> None:
        self._result: RunResult | None = None
        self._accepted: RunStartResult | None = None
        self._resume: ResumeRequest | None = None
        self._refused: list[tuple[Any, str]] = []  # malformed resume signals, audited by the main loop

    @workflow.run
    async def run(self, inp: RunInput) -> RunResult:
        try:
            result = await self._run(inp)
        except ApplicationError:  # the run failed; its row and result say how
            await self._webhook(self._result)
            raise
        except asyncio.CancelledError:
            # cancelled on request (the Platform API's cancel): the row says so and the thread is freed
            if self._accepted is not None and self._accepted.accepted:
                await self._audit("shipway", "run.cancelled", {})
                await self._record(RunStatus.CANCELLED, [0, 0, 0.0], timedelta(0), error="cancelled on request",
                                   interrupt=self._result.interrupt if self._result else None)
            self._result = RunResult(run_id=inp.run_id, status=RunStatus.CANCELLED, error="cancelled on request")
            await self._end_stream(self._result)
            await workflow.wait_condition(workflow.all_handlers_finished)
            await self._webhook(self._result)
            raise
        await self._webhook(result)
        return result

    async def _run(self, inp: RunInput) -> RunResult:
        self._inp = inp
        self._subject = f"run:{inp.run_id}"
        self._result = RunResult(run_id=inp.run_id, status=RunStatus.RUNNING)
        # runs started before the guards existed replay without them
        guarded = workflow.patched(_GUARDS_PATCH)
        # runs started before run budgets: no budget, and tokens and cost added up per step
        self._budgeted = workflow.patched(_BUDGET_PATCH)
        # runs started before local graph steps lack the field: every step a regular activity, as recorded
        self._local_first = inp.local_graph_timeout_s is not None
        resuming = inp.resume is not None  # a Platform run answering its thread's pending interrupt
        verdict = await self._guard("resume:1" if resuming else "input", _as_object(inp.resume) if resuming else inp.input) \
            if guarded else None
        run_input = verdict.value if verdict is not None and not resuming else inp.input
        self._accepted = await self._start(run_input)
        if not self._accepted.accepted:
            return await self._settle(RunResult(run_id=inp.run_id, status=RunStatus.REFUSED, error=self._accepted.reason))

        started = workflow.now()
        waited = timedelta(0)
        usage = [0, 0, 0.0]  # tokens in, tokens out, cost USD over all graph steps
        if verdict is not None and verdict.blocked:
            message = f"{verdict.reason_code}: {verdict.detail}"
            await self._audit("shipway", "run.blocked", {"rail": verdict.rail, "reason_code": verdict.reason_code,
                                                         "detail": verdict.detail})
            await self._record(RunStatus.BLOCKED, usage, waited, error=message, latency=workflow.now() - started)
            return await self._settle(RunResult(run_id=inp.run_id, status=RunStatus.BLOCKED, error=message))
        if resuming:
            step = self._step(usage, resume=_from_object(verdict.value, inp.resume) if verdict is not None else inp.resume)
            await self._audit(inp.started_by or "caller", "run.resumed", {"value": step.resume, "platform_run": True})
        else:
            step = self._step(usage, input=run_input)
        answers = 1 if resuming else 0
        while True:
            try:
                res = await self._run_step(step)
            except ActivityError as err:
                if isinstance(err.cause, CancelledError):  # the run was cancelled while its step ran
                    raise asyncio.CancelledError() from err
                message = str(err.cause) if err.cause else str(err)
                if self._budgeted and (spent := _run_usage(err.cause)) is not None:
                    usage = spent  # the calls of the failed step count too
                if isinstance(err.cause, ApplicationError) and err.cause.type == "ArtifactIntegrity":
                    await self._audit("shipway", "artifact.integrity_failed",
                                      {"agent": inp.agent_name, "version": inp.version, "error": message})
                await self._record(RunStatus.FAILED, usage, waited, error=message, latency=workflow.now() - started - waited)
                await self._settle(RunResult(run_id=inp.run_id, status=RunStatus.FAILED, error=message))
                raise ApplicationError(message, type="RunFailed", non_retryable=True) from err
            if self._budgeted and res.run_cost_usd is not None:
                usage = [res.run_tokens_in or 0, res.run_tokens_out or 0, res.run_cost_usd]
            else:
                usage = [usage[0] + res.tokens_in, usage[1] + res.tokens_out, usage[2] + res.cost_usd]
            if res.status == GraphStepStatus.COMPLETED:
                break
            if res.status == GraphStepStatus.BUDGET_EXCEEDED:
                return await self._budget_exceeded(res.output, res.nodes, usage, waited, started)
            if self._spent(usage):
                # an interrupt reached with the budget spent (a worker without budget checks ran the
                # step): no human is asked for an answer the run could not use
                return await self._budget_exceeded(None, res.nodes, usage, waited, started)
            interrupt = res.interrupt
            if inp.ends_at_interrupt:  # a Platform run ends here; a new run on the thread answers the interrupt
                await self._record(RunStatus.INTERRUPTED, usage, waited, interrupt=interrupt, release_thread=True,
                                   latency=workflow.now() - started)
                return await self._settle(RunResult(run_id=inp.run_id, status=RunStatus.INTERRUPTED, interrupt=interrupt))
            deadline = workflow.now() + timedelta(seconds=inp.resume_timeout_s)
            value = None
            while value is None:
                await self._record(RunStatus.INTERRUPTED, usage, waited, interrupt=interrupt)
                self._result = RunResult(run_id=inp.run_id, status=RunStatus.INTERRUPTED, interrupt=interrupt)
                wait_start = workflow.now()
                answer = await self._await_answer(deadline)
                waited += workflow.now() - wait_start
                if answer is None:
                    message = f"no resume within {inp.resume_timeout_s:.0f} s"
                    await self._record(RunStatus.FAILED, usage, waited, interrupt=interrupt, error=message)
                    await self._settle(RunResult(run_id=inp.run_id, status=RunStatus.FAILED, interrupt=interrupt, error=message))
                    raise ApplicationError(message, type="ResumeTimeout", non_retryable=True)
                if not guarded:
                    await self._audit(answer.actor, "run.resumed", {"value": answer.value, "interrupt_kind": (interrupt or {}).get("kind")})
                    value = answer.value
                    continue
                answers += 1
                checked = await self._guard(f"resume:{answers}", answer.value)
                if checked.blocked:
                    # an answer that breaks the policy is neither taken nor audited verbatim; the run asks again
                    await self._audit(answer.actor, "run.resume_blocked", {"rail": checked.rail, "reason_code": checked.reason_code,
                                                                          "detail": checked.detail})
                    interrupt = {**(interrupt or {}), "error": f"answer blocked ({checked.reason_code}): {checked.detail}"}
                    continue
                await self._audit(answer.actor, "run.resumed", {"value": checked.value, "interrupt_kind": (interrupt or {}).get("kind")})
                value = checked.value
            await self._record(RunStatus.RUNNING, usage, waited)
            self._result = RunResult(run_id=inp.run_id, status=RunStatus.RUNNING)
            step = self._step(usage, resume=value)
        output = res.output
        if guarded:
            checked_output = await workflow.execute_local_activity(VERIFY_OUTPUT, OutputCheck(
                run_id=inp.run_id, agent_name=inp.agent_name, version=inp.version, output=res.output or {},
                run_input=inp.input), result_type=OutputVerdict, **_GUARD)
            if checked_output.withheld:
                message = f"{checked_output.reason_code}: {checked_output.detail}"
                await self._audit("shipway", "run.withheld", {"reason_code": checked_output.reason_code,
                                                              "detail": checked_output.detail})
                await self._record(RunStatus.WITHHELD, usage, waited, error=message, latency=workflow.now() - started - waited)
                return await self._settle(RunResult(run_id=inp.run_id, status=RunStatus.WITHHELD, error=message))
            output = checked_output.output
        await self._record(RunStatus.SUCCEEDED, usage, waited, output=output, latency=workflow.now() - started - waited)
        return await self._settle(RunResult(run_id=inp.run_id, status=RunStatus.SUCCEEDED, output=output))

    async def _start(self, run_input: dict) -> RunStartResult:
        """Claim the thread and record the run; a queued run (``wait_for_thread``) whose thread another
        run holds tries again, waiting 0.2 s doubling to 5 s between tries, until it is free."""
        inp, delay = self._inp, 0.2
        while True:
            accepted = await workflow.execute_local_activity(START_RUN, RunStart(
                run_id=inp.run_id, agent_name=inp.agent_name, version=inp.version, thread_id=inp.thread_id,
                tenant=inp.tenant, input=run_input, workflow_id=workflow.info().workflow_id, started_by=inp.started_by,
                metadata=inp.metadata), result_type=RunStartResult, **_LOCAL)
            if accepted.accepted or not (accepted.busy and inp.wait_for_thread):
                return accepted
            await workflow.sleep(timedelta(seconds=delay))
            delay = min(delay * 2, 5.0)

    async def _run_step(self, step: GraphStepInput) -> GraphStepResult:
        """One graph step: as a local activity first when the run allows it, else (or when that fails
        or times out) as the regular heartbeating activity. A local step that failed is run again as
        the regular one even when its error is final, so every failure reaches the run the one way
        (an ``ActivityError``, after the regular activity's retries); a graph checkpointed at exit
        has no effects outside its thread, so running it again costs time only.

        Raises:
            ActivityError: the step failed for good (a non-retryable error, or the retries ran out).
        """
        if self._local_first:
            try:
                return await workflow.execute_local_activity(
                    RUN_GRAPH, step, result_type=GraphStepResult,
                    start_to_close_timeout=timedelta(seconds=self._inp.local_graph_timeout_s),
                    retry_policy=RetryPolicy(maximum_attempts=1))
            except FailureError as err:
                if isinstance(err, CancelledError):
                    raise
                workflow.logger.info("graph step of run %s goes to a regular activity: %s", self._inp.run_id, err)
        return await workflow.execute_activity(
            RUN_GRAPH, step, result_type=GraphStepResult,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=self._inp.heartbeat_timeout_s),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5,
                                     non_retryable_error_types=_NOT_RETRIED),
        )

    def _step(self, usage: list, *, input: dict | None = None, resume: dict | None = None) -> GraphStepInput:
        """The next graph step: the run's ``input`` or a ``resume`` answer, with what is left of the budget."""
        inp = self._inp
        budget = inp.max_cost_usd - usage[2] if self._budgeted and inp.max_cost_usd is not None else None
        return GraphStepInput(run_id=inp.run_id, agent_name=inp.agent_name, version=inp.version, thread_id=inp.thread_id,
                              input=input, resume=resume, context=inp.context, configurable=inp.configurable,
                              tenant=inp.tenant, workflow_id=workflow.info().workflow_id, budget_usd=budget,
                              spent_usd=usage[2], stream_modes=inp.stream_modes, stream_subgraphs=inp.stream_subgraphs)

    def _spent(self, usage: list) -> bool:
        """Whether the run's cost has reached its budget."""
        return self._budgeted and self._inp.max_cost_usd is not None and usage[2] >= self._inp.max_cost_usd

    async def _budget_exceeded(self, output: dict | None, nodes: list[str], usage: list, waited: timedelta,
                               started: datetime) -> RunResult:
        """End the run ``budget_exceeded``: the state so far (``output``) is verified like a final output
        and released only if it passes; the error names the budget, the cost reached and the last node."""
        inp = self._inp
        message = (f"run budget reached: {usage[2]:.6f} USD spent of max_cost_usd {inp.max_cost_usd:g} USD"
                   + (f", stopped after node {nodes[-1]!r}" if nodes else ""))
        withheld = None
        if output is not None:
            checked = await workflow.execute_local_activity(VERIFY_OUTPUT, OutputCheck(
                run_id=inp.run_id, agent_name=inp.agent_name, version=inp.version, output=output, run_input=inp.input),
                result_type=OutputVerdict, **_GUARD)
            if checked.withheld:
                withheld = f"{checked.reason_code}: {checked.detail}"
                message += f"; output withheld ({withheld})"
            output = None if checked.withheld else checked.output
        await self._audit("shipway", "run.budget_exceeded", {"max_cost_usd": inp.max_cost_usd, "cost_usd": usage[2],
                                                            "nodes": nodes, "output_withheld": withheld})
        await self._record(RunStatus.BUDGET_EXCEEDED, usage, waited, output=output, error=message,
                           latency=workflow.now() - started - waited)
        return await self._settle(RunResult(run_id=inp.run_id, status=RunStatus.BUDGET_EXCEEDED, output=output, error=message))

    async def _guard(self, stage: str, value: dict) -> GuardVerdict:
        return await workflow.execute_local_activity(GUARD_INPUT, GuardInput(
            run_id=self._inp.run_id, agent_name=self._inp.agent_name, version=self._inp.version, stage=stage, value=value),
            result_type=GuardVerdict, **_GUARD)

    async def _await_answer(self, deadline) -> ResumeRequest | None:
        """The next valid answer, auditing malformed resume signals meanwhile; None at ``deadline``."""
        while True:
            while self._refused:
                raw, why = self._refused.pop(0)
                actor = raw.get("actor") if isinstance(raw, dict) and isinstance(raw.get("actor"), str) else ""
                await self._audit(actor or "unknown", "run.resume_refused", {"why": why, "payload": raw})
            if self._resume is not None:
                answer, self._resume = self._resume, None
                return answer
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                return None
            try:
                await workflow.wait_condition(lambda: self._resume is not None or bool(self._refused), timeout=timedelta(seconds=remaining))
            except TimeoutError:
                return None

    async def _settle(self, result: RunResult) -> RunResult:
        """Publish the final result, close a streamed run's events, and let waiting update handlers
        answer before the run closes."""
        self._result = result
        await self._end_stream(result)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _webhook(self, result: RunResult | None) -> None:
        """POST the ended run to its ``webhook`` (the caller's waits already answered): retried by the
        activity's policy; a delivery that fails for good is logged, the run keeps its outcome."""
        inp = self._inp
        if not inp.webhook or result is None or result.status == RunStatus.REFUSED:
            return
        status = {RunStatus.SUCCEEDED: "success", RunStatus.INTERRUPTED: "success",
                  RunStatus.CANCELLED: "interrupted"}.get(result.status, "error")
        try:
            await workflow.execute_activity(DELIVER_RUN_WEBHOOK, RunWebhook(
                url=inp.webhook, run_id=inp.run_id, thread_id=inp.thread_id, tenant=inp.tenant, agent_name=inp.agent_name,
                version=inp.version, status=status, webhook_id=inp.run_id, error=result.error if status == "error" else None,
                metadata=inp.metadata, created_at=workflow.info().start_time.isoformat(), ended_at=workflow.now().isoformat()),
                result_type=RunWebhookResult, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2,
                                         maximum_interval=timedelta(seconds=60), maximum_attempts=5))
        except ActivityError as err:
            workflow.logger.warning("webhook of run %s not delivered: %s", inp.run_id, err.cause or err)

    async def _end_stream(self, result: RunResult) -> None:
        """For a streamed run (``stream_modes``): its ``error`` event when it ended without its
        output, then ``end``, so that every follower stops."""
        if self._inp.stream_modes is None:
            return
        error = None
        if result.status not in (RunStatus.SUCCEEDED, RunStatus.INTERRUPTED):
            kind, _, message = (result.error or str(result.status)).partition(": ")
            error = {"error": kind if message and kind.isidentifier() else str(result.status),
                     "message": message if message and kind.isidentifier() else (result.error or str(result.status))}
        await workflow.execute_local_activity(END_RUN_STREAM, RunStreamEnd(run_id=self._inp.run_id, tenant=self._inp.tenant,
                                                                           error=error), result_type=RunStreamEnded, **_LOCAL)

    async def _record(self, status: RunStatus, usage: list, waited: timedelta, *, output: dict | None = None,
                      interrupt: dict | None = None, error: str | None = None, latency: timedelta | None = None,
                      release_thread: bool = False) -> None:
        # a local activity: one short UPDATE in the same workflow task (no extra server round trip)
        await workflow.execute_local_activity(RECORD_RUN, RunRecord(
            run_id=self._inp.run_id, status=status, output=output, interrupt=interrupt, error=error,
            latency_ms=_ms(latency) if latency is not None else None, wait_ms=_ms(waited),
            tokens_in=usage[0], tokens_out=usage[1], cost_usd=usage[2], release_thread=release_thread),
            result_type=RunRecordResult, **_LOCAL)

    async def _audit(self, actor: str, action: str, detail: dict) -> None:
        await workflow.execute_local_activity(RECORD_AUDIT, AuditRecord(actor, action, self._subject, detail),
                                              result_type=AuditResult, **_LOCAL)

    def _waiting(self) -> bool:
        return self._result is not None and self._result.status == RunStatus.INTERRUPTED and self._resume is None

    @workflow.query(name=QUERY_RUN_STATE)
    def state(self) -> RunResult:
        """Current status, output or pending interrupt request."""
        return self._result

    @workflow.update(name=UPDATE_RUN_ACCEPTED)
    async def wait_accepted(self) -> RunStartResult:
        """Return once the run has claimed its thread (``accepted``) or was refused (with the reason)."""
        await workflow.wait_condition(lambda: self._accepted is not None)
        return self._accepted

    @workflow.update(name=UPDATE_RUN_SETTLED)
    async def wait_settled(self) -> RunResult:
        """Return once the run is interrupted, succeeded, failed or refused (for callers that wait)."""
        await workflow.wait_condition(lambda: self._result is not None and self._result.status.settled)
        return self._result

    @workflow.signal(name=SIGNAL_RESUME_RUN)
    def resume(self, raw: Any) -> None:
        """Answer the pending interrupt with a :class:`ResumeRequest` (JSON). Ignored when the run is
        not waiting; a malformed payload is refused and audited."""
        if not self._waiting():
            return
        problem = resume_problem(raw)
        if problem:
            self._refused.append((raw, problem))
            return
        self._resume = ResumeRequest(value=raw["value"], actor=raw.get("actor", "operator"))

    @workflow.update(name=UPDATE_RESUME_RUN)
    async def resume_run(self, req: ResumeRequest) -> ResumeAck:
        """Answer the pending interrupt; refused (the update fails) when the run is not waiting."""
        self._resume = req
        return ResumeAck(accepted=True, run_id=self._inp.run_id)

    @resume_run.validator
    def _validate_resume(self, req: ResumeRequest) -> None:
        if not self._waiting():
            raise ValueError(f"run is {self._result.status if self._result else 'starting'}, not waiting for input")
        problem = resume_problem({"value": req.value, "actor": req.actor})
        if problem:
            raise ValueError(problem)


def _as_object(value: Any) -> dict:
    """A resume value as the guards take it: a JSON object as it is, anything else under ``value``."""
    return value if isinstance(value, dict) else {"value": value}


def _from_object(checked: dict, original: Any) -> Any:
    """The guarded form of ``original`` back from :func:`_as_object`'s shape."""
    return checked if isinstance(original, dict) else checked.get("value")


def _ms(delta: timedelta) -> float:
    return round(delta.total_seconds() * 1000.0, 3)


def _run_usage(failure: BaseException | None) -> list | None:
    """The run's LLM totals ``[tokens in, tokens out, cost USD]`` a failed graph step carries in its
    ApplicationError details, or None (a failure from before the step ran, or from an older worker)."""
    if not isinstance(failure, ApplicationError):
        return None
    for detail in failure.details:
        if isinstance(detail, dict) and isinstance(detail.get(RUN_USAGE_DETAIL), dict):
            spent = detail[RUN_USAGE_DETAIL]
            return [int(spent["tokens_in"]), int(spent["tokens_out"]), float(spent["cost_usd"])]
    return None
