"""After a restore: the agent runs Temporal accepted that the restored database does not know.

Temporal's state outlives a lost database, so every run accepted after the recovery point is still a
workflow. For each one without a ``runs`` row the row is written again through
:class:`activities.runs.RunActivities` (the only writer of ``runs``): a running one gets its row
back, so it records its end as usual; a completed one gets its row with its final status and output.
The stored input is a marker, not the caller's input: the guarded input was written by the lost
transaction, and the unguarded one in Temporal's history may hold what the input guard redacted. A
run whose workflow failed, was cancelled or terminated has no result to restore: it is reported lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import select
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus

from activities.runs import RunActivities
from shipway.db.engine import Database
from shipway.db.models import Run
from workflows.runbook_types import RECONCILE_RUNS, ReconciledRuns, ReconcileRuns
from workflows.statuses import RunStatus
from workflows.types import RUN_WORKFLOW, RunInput, RunRecord, RunResult, RunStart

# Temporal starts a run's workflow a moment before the run's row is written.
_MARGIN = timedelta(minutes=1)
RESTORED_INPUT = {"restored": "this run was accepted after the database's recovery point; its input is in Temporal's history"}


class RunReconciliationActivities:
    """Owns the Temporal client the accepted runs are listed with, and the runs' writer."""

    def __init__(self, db: Database, client: Client) -> None:
        self.db, self.client, self.runs = db, client, RunActivities(db)

    @activity.defn(name=RECONCILE_RUNS)
    async def reconcile_runs(self, inp: ReconcileRuns) -> ReconciledRuns:
        """Write back the rows of runs accepted since ``inp.since`` (ISO UTC) that the database lacks;
        report the ones that cannot be (see the module doc)."""
        since = (datetime.fromisoformat(inp.since) - _MARGIN).strftime("%Y-%m-%dT%H:%M:%SZ")
        found = [w async for w in self.client.list_workflows(f"WorkflowType = '{RUN_WORKFLOW}' AND StartTime >= '{since}'")]
        ids = {w.id.removeprefix("run:"): w for w in found}
        async with self.db.session() as s:
            known = set((await s.exec(select(Run.id).where(Run.id.in_(list(ids))))).all()) if ids else set()
        out = ReconciledRuns(accepted=len(ids))
        for run_id, wf in sorted(ids.items()):
            if run_id in known:
                continue
            activity.heartbeat(run_id)
            out.missing.append(run_id)
            handle = self.client.get_workflow_handle(wf.id, run_id=wf.run_id, result_type=RunResult)
            if wf.status not in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED):
                out.lost[run_id] = wf.status.name.lower() if wf.status else "unknown"
                continue
            started = await self._started_with(handle)
            accepted = await self.runs.start_run(RunStart(
                run_id=run_id, agent_name=started.agent_name, version=started.version, thread_id=started.thread_id,
                tenant=started.tenant, input=RESTORED_INPUT, workflow_id=wf.id, started_by=started.started_by))
            if not accepted.accepted:
                out.lost[run_id] = f"row not restored: {accepted.reason}"
                continue
            if wf.status == WorkflowExecutionStatus.RUNNING:
                out.still_running.append(run_id)
                continue
            result = await handle.result()
            await self.runs.record_run(RunRecord(run_id=run_id, status=RunStatus(result.status), output=result.output,
                                                 interrupt=result.interrupt, error=result.error))
        return out

    async def _started_with(self, handle) -> RunInput:
        async for event in handle.fetch_history_events():
            attrs = event.workflow_execution_started_event_attributes
            (value,) = await self.client.data_converter.decode(attrs.input.payloads, [RunInput])
            return value
        raise LookupError(f"workflow {handle.id} has no history")
