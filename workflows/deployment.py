"""``DeploymentWorkflow`` (id ``deploy:{name}:v{n}``): roll a version out step by step, bake,
analyse real runs, roll back on breach; on success make it the live version and tell the version
it replaces that it is superseded.

Each analysis judges error rate, p99 latency, guardrail-violation rate and cost per run of the
canary against the stable version (:mod:`activities.canary_verdict`). Under the ``canary-evidence``
patch a step never passes on too little evidence: an ``inconclusive`` analysis bakes the step again
(the window keeps growing from the step's start), at most ``max_inconclusive`` times, then rolls
back; bake times are scaled by ``bake_scale``; operators' signals are audit events.

Signals ``promote`` (skip the rest of the bake), ``pause``, ``resume``, ``abort``, each optionally
``{"actor": "<who>"}``; query ``progress``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

from workflows.runbook_types import START_RUNBOOK, RunbookInput, StartedRunbook, StartRunbook
from workflows.statuses import CanaryVerdict, DeploymentState, Runbook, RunbookTrigger
from workflows.strategies import steps_for
from workflows.types import (
    WORKFLOW_FAILURE_TYPES,
    ANALYZE_CANARY,
    DEPLOYMENT_WORKFLOW,
    GET_LIVE_VERSION,
    PATCH_CANARY_EVIDENCE,
    PATCH_FAILED_DEPLOYMENT_RUNBOOK,
    PREPARE_VERSION,
    QUERY_PROGRESS,
    RECORD_AUDIT,
    RECORD_DEPLOYMENT,
    RETIRE_VERSION,
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
    CanaryThresholds,
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
    VersionOnTarget,
    VersionOnTargetResult,
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
        self._v2 = False  # the canary-evidence patch
        self._analyses = 0

    @workflow.run
    async def run(self, inp: DeploymentInput) -> DeploymentProgress:
        self._inp = inp
        self._v2 = workflow.patched(PATCH_CANARY_EVIDENCE)
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
        await self._on_target(PREPARE_VERSION, inp.version)
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
            await self._bake(step.bake_s)
            if self._aborted:
                return await self._rollback(stable, "aborted by operator", DeploymentState.ABORTED)
            if step.weight_pct < 100 and stable is not None:
                analysis = await self._analyse(stable, i, step.weight_pct, window_start)
                extensions = 0
                while self._v2 and analysis.verdict == CanaryVerdict.INCONCLUSIVE and not self._promoted and not self._aborted:
                    if extensions >= self._thresholds().max_inconclusive:
                        why = (f"INCONCLUSIVE after {extensions + 1} analyses: too few runs to judge "
                               f"({analysis.canary.finished} finished, {self._thresholds().min_runs} needed); failing safe")
                        return await self._rollback(stable, why, DeploymentState.ROLLED_BACK)
                    extensions += 1
                    await self._audit("deployment.inconclusive", {"step": i, "extension": extensions,
                                                                  "canary_runs": analysis.canary.runs})
                    await self._bake(step.bake_s or 60.0)
                    analysis = await self._analyse(stable, i, step.weight_pct, window_start)
                if self._aborted:
                    return await self._rollback(stable, "aborted by operator", DeploymentState.ABORTED)
                if analysis.breach:
                    return await self._rollback(stable, "; ".join(analysis.reasons), DeploymentState.ROLLED_BACK)
        await workflow.execute_activity(SET_TRAFFIC, TrafficUpdate(inp.name, {str(inp.version): 100.0}, inp.target),
                                        result_type=TrafficResult, **_SHORT)
        replaced = await workflow.execute_activity(SET_LIVE_VERSION, SetLiveVersionInput(inp.name, inp.version),
                                                   result_type=SetLiveVersionResult, **_SHORT)
        if replaced.previous is not None:
            await self._tell_superseded(replaced.previous)
            await self._on_target(RETIRE_VERSION, replaced.previous)
        self._progress.weight_pct, self._progress.step_index = 100.0, len(steps)
        await self._set_state(DeploymentState.SUCCEEDED)
        await self._audit("deployment.succeeded", {"replaced": replaced.previous})
        return await self._finish()

    async def _on_target(self, activity: str, version: int) -> None:
        """Prepare or retire a version on an ``aws`` target (its ECS service and target group);
        nothing on ``local``, whose workers serve every version."""
        if self._v2 and self._inp.target == "aws":
            await workflow.execute_activity(activity, VersionOnTarget(self._inp.name, version, self._inp.target),
                                            result_type=VersionOnTargetResult, start_to_close_timeout=timedelta(minutes=5),
                                            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1),
                                                                     non_retryable_error_types=["TargetNotConfigured"]))

    def _thresholds(self) -> CanaryThresholds:
        return self._inp.thresholds or CanaryThresholds()

    async def _bake(self, bake_s: float) -> None:
        """Wait ``bake_s`` (scaled by ``bake_scale`` under the patch) unless promoted or aborted first."""
        seconds = bake_s * self._inp.bake_scale if self._v2 else bake_s
        if seconds > 0 and not self._promoted:
            try:
                await workflow.wait_condition(lambda: self._promoted or self._aborted, timeout=timedelta(seconds=seconds))
            except TimeoutError:
                pass

    async def _analyse(self, stable: int, step_index: int, weight_pct: float, since) -> CanaryAnalysis:
        self._analyses += 1
        inp = CanaryAnalysisInput(name=self._inp.name, version=self._inp.version, baseline=stable, since_iso=since.isoformat())
        if self._v2:
            inp.thresholds, inp.step_index, inp.weight_pct = self._thresholds(), step_index, weight_pct
            inp.analysis_index, inp.workflow_id = self._analyses, self._wf_id
        analysis = await workflow.execute_activity(ANALYZE_CANARY, inp, result_type=CanaryAnalysis, **_SHORT)
        self._progress.analyses.append(analysis)
        return analysis

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
        await workflow.execute_activity(SET_TRAFFIC, TrafficUpdate(self._inp.name, weights, self._inp.target), result_type=TrafficResult, **_SHORT)
        self._progress.weight_pct = weights[str(self._inp.version)]
        await self._record()
        await self._audit("deployment.weights", {"weights": weights})

    async def _rollback(self, stable: int | None, why: str, state: DeploymentState) -> DeploymentProgress:
        # with no stable version to return to, the agent serves no traffic
        weights = {str(stable): 100.0} if stable is not None else {}
        await workflow.execute_activity(SET_TRAFFIC, TrafficUpdate(self._inp.name, weights, self._inp.target), result_type=TrafficResult, **_SHORT)
        self._progress.detail, self._progress.weight_pct = why, 0.0
        if stable is not None:
            await self._on_target(RETIRE_VERSION, self._inp.version)
        await self._set_state(state)
        await self._audit(f"deployment.{state}", {"why": why})
        if state == DeploymentState.ROLLED_BACK and workflow.patched(PATCH_FAILED_DEPLOYMENT_RUNBOOK):
            await workflow.execute_activity(START_RUNBOOK, StartRunbook(
                runbook=Runbook.FAILED_DEPLOYMENT, key=f"{self._inp.name}:v{self._inp.version}", automatic=True,
                input=RunbookInput(params={"agent": self._inp.name, "version": self._inp.version, "why": why},
                                   trigger=RunbookTrigger.CANARY_ROLLBACK, started_by="shipway.deployment", reason=why)),
                result_type=StartedRunbook, **_SHORT)
        return await self._finish()

    async def _finish(self) -> DeploymentProgress:
        """Let signal handlers still auditing finish before the workflow closes."""
        await workflow.wait_condition(workflow.all_handlers_finished)
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

    async def _audit_signal(self, signal: str, by: Any) -> None:
        """An operator's signal as an audit event (under the patch), naming who sent it when the
        payload says (``{"actor": "<who>"}``)."""
        if self._v2:
            actor = by.get("actor") if isinstance(by, dict) and isinstance(by.get("actor"), str) else "unknown"
            await workflow.execute_activity(RECORD_AUDIT, AuditRecord(actor, f"deployment.signal.{signal}",
                                                                      f"agent:{self._inp.name}:v{self._inp.version}",
                                                                      {"state": self._progress.state if self._progress else None}),
                                            result_type=AuditResult, **_SHORT)

    @workflow.signal(name=SIGNAL_PROMOTE)
    async def promote(self, by: Any = None) -> None:
        """Go to 100 %: skip every remaining bake, and the re-analysis of an inconclusive step (a
        breach still rolls back)."""
        self._promoted = True
        await self._audit_signal("promote", by)

    @workflow.signal(name=SIGNAL_PAUSE)
    async def pause(self, by: Any = None) -> None:
        """Hold before the next step."""
        self._paused = True
        await self._audit_signal("pause", by)

    @workflow.signal(name=SIGNAL_RESUME_DEPLOY)
    async def resume(self, by: Any = None) -> None:
        """Continue after a pause."""
        self._paused = False
        await self._audit_signal("resume", by)

    @workflow.signal(name=SIGNAL_ABORT)
    async def abort(self, by: Any = None) -> None:
        """Roll back to the stable version."""
        self._aborted = True
        await self._audit_signal("abort", by)
