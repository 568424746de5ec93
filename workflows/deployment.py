"""``DeploymentWorkflow`` (id ``deploy:{name}:v{n}``): roll a version out step by step, bake,
analyse real runs, roll back on breach; on success make it the live version and tell the version
it replaces that it is superseded.

Signals ``promote`` (skip the rest of the bake), ``pause``, ``resume``, ``abort``; query ``progress``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

from workflows.statuses import DeploymentState
from workflows.strategies import steps_for
from workflows.types import (
    WORKFLOW_FAILURE_TYPES,
    ANALYZE_CANARY,
    DEPLOYMENT_WORKFLOW,
    GET_LIVE_VERSION,
    QUERY_PROGRESS,
    RECORD_AUDIT,
    RECORD_DEPLOYMENT,
    SET_LIVE_VERSION,
    SET_TRAFFIC,
    SIGNAL_ABORT,
    SIGNAL_PAUSE,
    SIGNAL_PROMOTE,
    SIGNAL_RESUME_DEPLOY,
    SIGNAL_SUPERSEDED,
    AuditRecord,
    AuditResult,
    CanaryAnalysis,
    CanaryAnalysisInput,
    DeploymentInput,
    DeploymentProgress,
    DeploymentRecord,
    DeploymentRecordResult,
    LiveVersionInput,
    LiveVersionResult,
    SetLiveVersionInput,
    SetLiveVersionResult,
    SupersededNotice,
    TrafficResult,
    TrafficUpdate,
    lifecycle_workflow_id,
)

_SHORT = dict(start_to_close_timeout=timedelta(seconds=60), retry_policy=RetryPolicy(maximum_attempts=10))


@workflow.defn(name=DEPLOYMENT_WORKFLOW, failure_exception_types=WORKFLOW_FAILURE_TYPES)
class DeploymentWorkflow:
    """Rollout of ``version`` on the ``local`` target (gateway traffic weights)."""

    def __init__(self) -> None:
        self._progress: DeploymentProgress | None = None
        self._paused = False
        self._aborted = False
        self._promoted = False

    @workflow.run
    async def run(self, inp: DeploymentInput) -> DeploymentProgress:
        self._inp = inp
        self._wf_id = workflow.info().workflow_id
        self._progress = DeploymentProgress(name=inp.name, version=inp.version, strategy=inp.strategy,
                                            state=DeploymentState.IN_PROGRESS)
        try:
            steps = steps_for(inp.strategy, inp.steps)
        except ValueError as err:
            self._progress.state, self._progress.detail = DeploymentState.FAILED, str(err)
            raise ApplicationError(str(err), type="InvalidDeployment", non_retryable=True) from err
        self._progress.steps_total = len(steps)
        live = await workflow.execute_activity(GET_LIVE_VERSION, LiveVersionInput(inp.name), result_type=LiveVersionResult, **_SHORT)
        stable = live.version if live.version != inp.version else None
        await self._record()
        await self._audit("deployment.started", {"strategy": inp.strategy, "stable": stable})
        for i, step in enumerate(steps):
            self._progress.step_index = i
            if self._paused:
                await self._set_state(DeploymentState.PAUSED)
                await workflow.wait_condition(lambda: not self._paused or self._aborted)
                if not self._aborted:
                    await self._set_state(DeploymentState.IN_PROGRESS)
            if self._aborted:
                return await self._rollback(stable, "aborted by operator", DeploymentState.ABORTED)
            await self._set_weights(stable, step.weight_pct)
            window_start = workflow.now()
            if step.bake_s > 0 and not self._promoted:
                try:
                    await workflow.wait_condition(lambda: self._promoted or self._aborted, timeout=timedelta(seconds=step.bake_s))
                except TimeoutError:
                    pass
            if self._aborted:
                return await self._rollback(stable, "aborted by operator", DeploymentState.ABORTED)
            if step.weight_pct < 100 and stable is not None:
                analysis = await workflow.execute_activity(ANALYZE_CANARY, CanaryAnalysisInput(
                    name=inp.name, version=inp.version, baseline=stable, since_iso=window_start.isoformat()),
                    result_type=CanaryAnalysis, **_SHORT)
                self._progress.analyses.append(analysis)
                if analysis.breach:
                    return await self._rollback(stable, "; ".join(analysis.reasons), DeploymentState.ROLLED_BACK)
        await workflow.execute_activity(SET_TRAFFIC, TrafficUpdate(inp.name, {str(inp.version): 100.0}),
                                        result_type=TrafficResult, **_SHORT)
        replaced = await workflow.execute_activity(SET_LIVE_VERSION, SetLiveVersionInput(inp.name, inp.version),
                                                   result_type=SetLiveVersionResult, **_SHORT)
        if replaced.previous is not None:
            await self._tell_superseded(replaced.previous)
        self._progress.weight_pct, self._progress.step_index = 100.0, len(steps)
        await self._set_state(DeploymentState.SUCCEEDED)
        await self._audit("deployment.succeeded", {"replaced": replaced.previous})
        return self._progress

    async def _tell_superseded(self, previous: int) -> None:
        """Signal the replaced version's lifecycle; one that has already closed is only audited."""
        handle = workflow.get_external_workflow_handle(lifecycle_workflow_id(self._inp.name, previous))
        try:
            await handle.signal(SIGNAL_SUPERSEDED, SupersededNotice(by_version=self._inp.version))
        except FailureError as err:
            await self._audit("deployment.supersede_not_delivered", {"version": previous, "error": str(err)})

    async def _set_weights(self, stable: int | None, pct: float) -> None:
        weights = {str(self._inp.version): float(pct)}
        if stable is not None and pct < 100:
            weights[str(stable)] = 100.0 - pct
        elif stable is None:
            weights = {str(self._inp.version): 100.0}
        await workflow.execute_activity(SET_TRAFFIC, TrafficUpdate(self._inp.name, weights), result_type=TrafficResult, **_SHORT)
        self._progress.weight_pct = weights[str(self._inp.version)]
        await self._record()
        await self._audit("deployment.weights", {"weights": weights})

    async def _rollback(self, stable: int | None, why: str, state: DeploymentState) -> DeploymentProgress:
        # with no stable version to return to, the agent serves no traffic
        weights = {str(stable): 100.0} if stable is not None else {}
        await workflow.execute_activity(SET_TRAFFIC, TrafficUpdate(self._inp.name, weights), result_type=TrafficResult, **_SHORT)
        self._progress.detail, self._progress.weight_pct = why, 0.0
        await self._set_state(state)
        await self._audit(f"deployment.{state}", {"why": why})
        return self._progress

    async def _set_state(self, state: DeploymentState) -> None:
        self._progress.state = state
        await self._record()

    async def _record(self) -> None:
        p = self._progress
        await workflow.execute_activity(RECORD_DEPLOYMENT, DeploymentRecord(
            name=p.name, version=p.version, strategy=p.strategy, target=self._inp.target, workflow_id=self._wf_id,
            state=p.state, weight_pct=p.weight_pct, detail=p.detail), result_type=DeploymentRecordResult, **_SHORT)

    async def _audit(self, action: str, detail: dict) -> None:
        await workflow.execute_activity(RECORD_AUDIT, AuditRecord(self._inp.actor, action, f"agent:{self._inp.name}:v{self._inp.version}",
                                                                  detail), result_type=AuditResult, **_SHORT)

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
        """Hold before the next step."""
        self._paused = True

    @workflow.signal(name=SIGNAL_RESUME_DEPLOY)
    def resume(self) -> None:
        """Continue after a pause."""
        self._paused = False

    @workflow.signal(name=SIGNAL_ABORT)
    def abort(self) -> None:
        """Roll back to the stable version."""
        self._aborted = True
