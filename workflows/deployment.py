"""``DeploymentWorkflow``: roll a version out step by step, bake, analyse real runs, roll back on breach.

Signals ``promote`` (skip the rest of the bake), ``pause``, ``resume``, ``abort``; query ``progress``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.strategies import steps_for
from workflows.types import (
    QUERY_PROGRESS,
    SIGNAL_ABORT,
    SIGNAL_PAUSE,
    SIGNAL_PROMOTE,
    SIGNAL_RESUME_DEPLOY,
    AuditRecord,
    CanaryAnalysisInput,
    DeploymentInput,
    DeploymentProgress,
    TrafficUpdate,
)

_SHORT = dict(start_to_close_timeout=timedelta(seconds=60), retry_policy=RetryPolicy(maximum_attempts=10))


@workflow.defn(name="DeploymentWorkflow")
class DeploymentWorkflow:
    """Rollout of ``version`` on the ``local`` target (gateway traffic weights)."""

    def __init__(self) -> None:
        self._progress: DeploymentProgress | None = None
        self._paused = False
        self._aborted = False
        self._promoted = False

    @workflow.run
    async def run(self, inp: DeploymentInput) -> DeploymentProgress:
        steps = steps_for(inp.strategy, inp.steps)
        wf_id = workflow.info().workflow_id
        self._progress = DeploymentProgress(name=inp.name, version=inp.version, strategy=inp.strategy,
                                            state="in_progress", steps_total=len(steps))
        stable = await workflow.execute_activity("live_version", inp.name, **_SHORT)
        if stable == inp.version:
            stable = None
        await self._record(inp, wf_id)
        await self._audit(inp, "deployment.started", {"strategy": inp.strategy, "stable": stable})
        for i, step in enumerate(steps):
            self._progress.step_index = i
            await workflow.wait_condition(lambda: not self._paused or self._aborted)
            if self._aborted:
                return await self._rollback(inp, wf_id, stable, "aborted by operator", state="aborted")
            await self._set_weights(inp, stable, step.weight_pct)
            window_start = workflow.now()
            if step.bake_s > 0 and not self._promoted:
                try:
                    await workflow.wait_condition(lambda: self._promoted or self._aborted, timeout=timedelta(seconds=step.bake_s))
                except TimeoutError:
                    pass
            if self._aborted:
                return await self._rollback(inp, wf_id, stable, "aborted by operator", state="aborted")
            if step.weight_pct < 100 and stable is not None:
                analysis = await workflow.execute_activity("analyze_canary", CanaryAnalysisInput(
                    name=inp.name, version=inp.version, baseline=stable, since_iso=window_start.isoformat()), **_SHORT)
                self._progress.analyses.append(analysis)
                if analysis["breach"]:
                    return await self._rollback(inp, wf_id, stable, "; ".join(analysis["reasons"]), state="rolled_back")
        await workflow.execute_activity("set_traffic", TrafficUpdate(inp.name, {str(inp.version): 100.0}, live_version=inp.version), **_SHORT)
        self._progress.state, self._progress.weight_pct, self._progress.step_index = "succeeded", 100.0, len(steps)
        await self._record(inp, wf_id)
        await self._audit(inp, "deployment.succeeded", {})
        return self._progress

    async def _set_weights(self, inp: DeploymentInput, stable: int | None, pct: float) -> None:
        weights = {str(inp.version): float(pct)}
        if stable is not None and pct < 100:
            weights[str(stable)] = 100.0 - pct
        elif stable is None:
            weights = {str(inp.version): 100.0}
        await workflow.execute_activity("set_traffic", TrafficUpdate(inp.name, weights), **_SHORT)
        self._progress.weight_pct = weights[str(inp.version)]
        await self._audit(inp, "deployment.weights", {"weights": weights})

    async def _rollback(self, inp: DeploymentInput, wf_id: str, stable: int | None, why: str, state: str) -> DeploymentProgress:
        # with no stable version to return to, the agent serves no traffic
        weights = {str(stable): 100.0} if stable is not None else {}
        await workflow.execute_activity("set_traffic", TrafficUpdate(inp.name, weights, live_version=stable), **_SHORT)
        self._progress.state, self._progress.detail, self._progress.weight_pct = state, why, 0.0
        await self._record(inp, wf_id)
        await self._audit(inp, f"deployment.{state}", {"why": why})
        return self._progress

    async def _record(self, inp: DeploymentInput, wf_id: str) -> None:
        await workflow.execute_activity("record_deployment", args=[inp.name, inp.version, inp.strategy, inp.target, wf_id,
                                                                  self._progress.state, {"weight_pct": self._progress.weight_pct,
                                                                                         "detail": self._progress.detail}], **_SHORT)

    async def _audit(self, inp: DeploymentInput, action: str, detail: dict) -> None:
        await workflow.execute_activity("record_audit", AuditRecord(inp.actor, action, f"agent:{inp.name}:v{inp.version}", detail), **_SHORT)

    @workflow.query(name=QUERY_PROGRESS)
    def progress(self) -> DeploymentProgress:
        """Step, weight (percent), state and canary analyses so far."""
        return self._progress

    @workflow.signal(name=SIGNAL_PROMOTE)
    def promote(self) -> None:
        """Skip the remaining bake time and go to 100 %."""
        self._promoted = True

    @workflow.signal(name=SIGNAL_PAUSE)
    def pause(self) -> None:
        """Hold at the current step."""
        self._paused = True

    @workflow.signal(name=SIGNAL_RESUME_DEPLOY)
    def resume(self) -> None:
        """Continue after a pause."""
        self._paused = False

    @workflow.signal(name=SIGNAL_ABORT)
    def abort(self) -> None:
        """Roll back to the stable version."""
        self._aborted = True
