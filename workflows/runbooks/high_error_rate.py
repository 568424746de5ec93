"""High error rate: error rates per agent and version from the runs table, and the recent deployments
with their canary analyses. Params: ``agent`` (default: every agent), ``window_s`` (default 900),
``threshold`` (error rate 0-1, default 0.02). Remediation (after ``confirm``), for the worst version
above the threshold: abort its rollout if one is in progress (the rollout rolls itself back), else
send all of the agent's traffic back to the version that served before it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.diagnostics_types import (
    ERROR_RATES,
    RECENT_DEPLOYMENTS,
    DeploymentInfo,
    DeploymentsCheck,
    DeploymentsReport,
    ErrorRateCheck,
    ErrorRateReport,
    ErrorRateRow,
)
from workflows.runbook_types import RUNBOOK_WORKFLOWS, RunbookInput, RunbookState
from workflows.runbooks.base import RunbookBase
from workflows.statuses import DeploymentState, Runbook
from workflows.types import SET_TRAFFIC, SIGNAL_ABORT, TrafficResult, TrafficUpdate

_SHORT = dict(start_to_close_timeout=timedelta(seconds=60), retry_policy=RetryPolicy(maximum_attempts=5))


def rollback_plan(worst: ErrorRateRow, deployments: list[DeploymentInfo]) -> tuple[str, DeploymentInfo | None, int | None]:
    """How to take traffic off ``worst``: ``("abort", deployment, None)`` while its rollout is in
    progress, ``("traffic", deployment, stable)`` when an earlier version served before it, else
    ``("none", deployment, None)``."""
    mine = next((d for d in deployments if d.agent_name == worst.agent_name and d.version == worst.version), None)
    if mine is not None and mine.state in (DeploymentState.IN_PROGRESS, DeploymentState.PAUSED):
        return "abort", mine, None
    stable = mine.stable_version if mine is not None else None
    if stable is None:
        stable = max((d.version for d in deployments if d.agent_name == worst.agent_name and d.version < worst.version
                      and d.state == DeploymentState.SUCCEEDED), default=None)
    return ("traffic", mine, stable) if stable is not None and stable != worst.version else ("none", mine, None)


@workflow.defn(name=RUNBOOK_WORKFLOWS[Runbook.HIGH_ERROR_RATE])
class HighErrorRateRunbook(RunbookBase):
    """Find which agent version fails; take traffic off it once confirmed."""

    RUNBOOK = Runbook.HIGH_ERROR_RATE

    @workflow.run
    async def run(self, inp: RunbookInput) -> RunbookState:
        agent = inp.params.get("agent")
        window_s = float(inp.params.get("window_s", 900.0))
        threshold = float(inp.params.get("threshold", 0.02))
        await self.begin(inp, subject=f"agent:{agent}" if agent else None)
        rates = await self.diagnose("error rates", ERROR_RATES, ErrorRateCheck(window_s=window_s, agent_name=agent),
                                    ErrorRateReport)
        deps = await self.diagnose("recent deployments", RECENT_DEPLOYMENTS, DeploymentsCheck(agent_name=agent),
                                   DeploymentsReport)
        if rates is None:
            return await self.finish("could not read error rates")
        breaching = sorted((r for r in rates.rows if r.error_rate > threshold), key=lambda r: (-r.error_rate, -r.runs))
        if not breaching:
            await self.not_needed("take traffic off the failing version", f"no version above {threshold:.1%} in the last {window_s:.0f} s")
            return await self.finish(f"no version above {threshold:.1%}; {sum(r.runs for r in rates.rows)} runs in the window")
        worst = breaching[0]
        what = f"{worst.agent_name} v{worst.version}: {worst.errors}/{worst.runs} runs failed ({worst.error_rate:.1%})"
        plan, dep, stable = rollback_plan(worst, deps.rows if deps else [])
        if plan == "abort":
            wid = dep.deployment_id
            await self.remediate_with(f"abort the rollout of v{worst.version}",
                                      f"signal abort to {wid}: the rollout rolls itself back to the stable version",
                                      lambda: self._abort(wid))
        elif plan == "traffic":
            await self.remediate(f"roll back to v{stable}", f"send 100% of {worst.agent_name}'s traffic to v{stable} "
                                 f"(off v{worst.version})", SET_TRAFFIC,
                                 TrafficUpdate(worst.agent_name, {str(stable): 100.0}), TrafficResult, **_SHORT)
        else:
            await self.not_needed("take traffic off the failing version", f"no earlier version of {worst.agent_name} to roll back to")
        return await self.finish(what)

    async def _abort(self, workflow_id: str) -> dict:
        by = self._state.steps[-1].decided_by
        await workflow.get_external_workflow_handle(workflow_id).signal(SIGNAL_ABORT, {"actor": by})
        return {"signalled": workflow_id, "signal": SIGNAL_ABORT}
