"""Failed deployment: started by itself when a canary rolls back (or by an operator). Params:
``agent``, ``version`` (the rolled-back one), ``why`` (the rollout's reason). It gathers the
agent's recent deployments with their canary analyses, the version's error rates, and the traffic
now; if the rolled-back version still gets traffic, the remediation (after ``confirm``) sends it all
to the stable version."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.diagnostics_types import (
    ERROR_RATES,
    RECENT_DEPLOYMENTS,
    DeploymentsCheck,
    DeploymentsReport,
    ErrorRateCheck,
    ErrorRateReport,
)
from workflows.runbook_types import RUNBOOK_WORKFLOWS, RunbookInput, RunbookState
from workflows.runbooks.base import RunbookBase
from workflows.statuses import Runbook
from workflows.types import SET_TRAFFIC, TrafficResult, TrafficUpdate

_SHORT = dict(start_to_close_timeout=timedelta(seconds=60), retry_policy=RetryPolicy(maximum_attempts=5))


@workflow.defn(name=RUNBOOK_WORKFLOWS[Runbook.FAILED_DEPLOYMENT])
class FailedDeploymentRunbook(RunbookBase):
    """Explain a rolled-back rollout; make sure the failed version serves nothing."""

    RUNBOOK = Runbook.FAILED_DEPLOYMENT

    @workflow.run
    async def run(self, inp: RunbookInput) -> RunbookState:
        agent, version = inp.params.get("agent"), inp.params.get("version")
        await self.begin(inp, subject=f"agent:{agent}:v{version}" if agent else None)
        deps = await self.diagnose("deployments and canary analyses", RECENT_DEPLOYMENTS,
                                   DeploymentsCheck(agent_name=agent, since_s=7 * 86400.0), DeploymentsReport)
        await self.diagnose("error rates", ERROR_RATES, ErrorRateCheck(window_s=3600.0, agent_name=agent), ErrorRateReport)
        failed = next((d for d in (deps.rows if deps else []) if d.version == version), None)
        if failed is None:
            await self.not_needed("send the traffic to the stable version", f"no deployment of {agent} v{version} found")
            return await self.finish(f"{agent} v{version}: no deployment found")
        reasons = [r for a in failed.analyses for r in (a.get("reasons") or [])]
        await self.note("why it rolled back", {"state": failed.state, "why": inp.params.get("why"),
                                               "breaches": reasons, "stable_version": failed.stable_version,
                                               "traffic_now": failed.traffic})
        share = float(failed.traffic.get(str(version), 0.0))
        if share <= 0:
            await self.not_needed("send the traffic to the stable version", f"v{version} serves no traffic")
        elif failed.stable_version is not None:
            await self.remediate("send the traffic to the stable version",
                                 f"v{version} still gets {share:.0f}%: send 100% to v{failed.stable_version}",
                                 SET_TRAFFIC, TrafficUpdate(agent, {str(failed.stable_version): 100.0}), TrafficResult, **_SHORT)
        else:
            await self.not_needed("send the traffic to the stable version", "no stable version to send it to")
        why = inp.params.get("why") or "; ".join(reasons) or failed.state
        return await self.finish(f"{agent} v{version} {failed.state}: {why}")
