"""Restore: bring the database back to a point in time from a base backup and the archived WAL,
into a new data directory; verify it; after ``confirm``, switch the stack to it; then reconcile the
agent runs Temporal accepted with the restored runs table and verify the audit chain.

Params: ``target_time`` (ISO-8601; default: the end of the archived WAL), ``backup_id`` (default: the
newest one before the target), ``target`` (``postgres``; ``rds``: an RDS point-in-time restore into
a new instance, ``target_instance_id``, whose endpoint the operator then points ``DATABASE_URL`` at).

The catalog database may be gone while this runs: the runbook keeps its state in the workflow
and stores it once the database is back (see :mod:`workflows.runbooks.base`)."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

from workflows.backup_types import (
    RESTORE_TO_POINT,
    SOURCE_POSITION,
    STOP_INSTANCE,
    SWITCH_DATABASE,
    VERIFY_RESTORED,
    RestoreRequest,
    RestoreResult,
    RestoreVerification,
    SourcePosition,
    SourcePositionRequest,
    StopInstanceRequest,
    StopInstanceResult,
    SwitchDatabaseRequest,
    SwitchDatabaseResult,
    VerifyRestoreRequest,
)
from workflows.rds_types import RDS_RESTORE_TO_POINT, RdsRestoreRequest, RdsRestoreResult
from workflows.runbook_types import RECONCILE_RUNS, RUNBOOK_WORKFLOWS, ReconciledRuns, ReconcileRuns, RunbookInput, RunbookState
from workflows.runbooks.backup import LONG, RDS_LONG
from workflows.runbooks.base import RunbookBase
from workflows.statuses import Runbook
from workflows.types import VERIFY_AUDIT_CHAIN, AuditChainCheck, AuditChainReport


def restore_dir(kind: str) -> str:
    """Data directory (relative to the backup folder) a restore by this workflow goes into."""
    return f"restores/{kind}-{workflow.info().workflow_id.rsplit(':', 1)[-1]}-{workflow.now():%Y%m%dT%H%M%S}"


def latest_time(*times: str | None) -> str | None:
    """The latest of ISO-8601 times (None ignored): how far a restored database reaches, from the
    last transaction its recovery replayed and the end of the base backup it started from."""
    known = [t for t in times if t]
    return max(known, key=datetime.fromisoformat) if known else None


@workflow.defn(name=RUNBOOK_WORKFLOWS[Runbook.RESTORE])
class RestoreRunbook(RunbookBase):
    """Point-in-time restore, verification, switch (confirmed), reconciliation."""

    RUNBOOK = Runbook.RESTORE

    @workflow.run
    async def run(self, inp: RunbookInput) -> RunbookState:
        target_time = inp.params.get("target_time")
        await self.begin(inp, subject=f"point in time {target_time or 'latest'}")
        if inp.params.get("target") == "rds":
            return await self._rds(inp, target_time)
        await self.diagnose("position of the current database", SOURCE_POSITION, SourcePositionRequest(), SourcePosition,
                            optional=True)
        restored = await self.act("restore into a new data directory", RESTORE_TO_POINT, RestoreRequest(
            target_dir=restore_dir("restore"), recovery_target_time=target_time, backup_id=inp.params.get("backup_id")),
            RestoreResult, **LONG)
        if restored is None:
            return await self.finish("the restore failed; nothing was switched")
        check = await self.diagnose("verify the restored database", VERIFY_RESTORED, VerifyRestoreRequest(
            url=restored.url, source_url=None, recovery_point=restored.last_replayed_at, run_agent=False), RestoreVerification)
        if check is None or not check.ok:
            await self.act("stop the restored instance", STOP_INSTANCE, StopInstanceRequest(data_dir=restored.target_dir),
                           StopInstanceResult)
            return await self.finish(f"the restored database did not verify: {check.problems if check else 'no check'}; "
                                     f"nothing was switched (kept in {restored.target_dir})")
        switched = await self.remediate(
            "switch the stack to the restored database",
            f"stop the current PostgreSQL (if running), move its data directory aside, and serve {restored.target_dir} "
            f"(recovered to {restored.last_replayed_at}) on the stack's port", SWITCH_DATABASE,
            SwitchDatabaseRequest(restored_dir=restored.target_dir), SwitchDatabaseResult, **LONG)
        if switched is None:
            await self.act("stop the restored instance", STOP_INSTANCE, StopInstanceRequest(data_dir=restored.target_dir),
                           StopInstanceResult)
            return await self.finish(f"restored to {restored.last_replayed_at} but not switched (kept in {restored.target_dir})")
        recovered_to = latest_time(restored.last_replayed_at, restored.backup_finished_at) or self._state.started_at
        runs = await self.act("reconcile agent runs", RECONCILE_RUNS, ReconcileRuns(since=recovered_to), ReconciledRuns)
        audit = await self.diagnose("verify the audit chain", VERIFY_AUDIT_CHAIN, AuditChainCheck(actor="shipway.runbooks"),
                                    AuditChainReport)
        lost = f"{len(runs.missing)} run(s) accepted after the recovery point ({len(runs.lost)} lost, " \
               f"{len(runs.still_running)} re-recorded and running)" if runs else "runs not reconciled"
        return await self.finish(
            f"restored to {recovered_to} and switched in {switched.duration_s:.1f} s; {lost}; audit chain "
            + ("intact" if audit and audit.intact else "NOT verified"),
            {"recovered_to": recovered_to, "lost_runs": runs.lost if runs else None,
             "runs_after_recovery_point": runs.missing if runs else None})

    async def _rds(self, inp: RunbookInput, target_time: str | None) -> RunbookState:
        target = inp.params.get("target_instance_id") or f"shipway-restore-{workflow.now():%Y%m%d%H%M%S}"
        restored = await self.act("RDS point-in-time restore", RDS_RESTORE_TO_POINT, RdsRestoreRequest(
            target_instance_id=target, restore_time=target_time), RdsRestoreResult, **RDS_LONG)
        if restored is None:
            return await self.finish("the RDS restore failed")
        return await self.finish(f"RDS instance {restored.target_instance_id} restored to {restored.restore_time or 'latest'} "
                                 f"({restored.status}, {restored.endpoint}:{restored.port}): point DATABASE_URL at it")
