"""Restore drill: restore the latest backup and the archived WAL into a scratch instance on free
ports, verify it (row counts against the live database at the recovery point, the audit chain, a
LangGraph checkpoint read back, one real agent run), measure RTO and RPO, and tear the scratch
instance down. Started by the ``restore-drill`` schedule (weekly by default) or an operator.

RTO: start of the restore to the end of verification (seconds). RPO: the live database's last
committed transaction when the drill started minus the last one the restore replayed (seconds): what
a disaster at that moment would have lost. Params: ``rto_target_s`` (300), ``rpo_target_s`` (60),
``run_agent`` (true), ``target`` (``rds``: an RDS point-in-time restore into a scratch instance, timed
and deleted; the database-level checks are not run there)."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

from workflows.backup_types import (
    RESTORE_TO_POINT,
    SOURCE_POSITION,
    STOP_INSTANCE,
    VERIFY_RESTORED,
    RestoreRequest,
    RestoreResult,
    RestoreVerification,
    SourcePosition,
    SourcePositionRequest,
    StopInstanceRequest,
    StopInstanceResult,
    VerifyRestoreRequest,
)
from workflows.rds_types import RDS_DELETE_INSTANCE, RDS_RESTORE_TO_POINT, RdsDeleteRequest, RdsDeleteResult, RdsRestoreRequest, RdsRestoreResult
from workflows.runbook_types import RUNBOOK_WORKFLOWS, RunbookInput, RunbookState
from workflows.runbooks.backup import LONG, RDS_LONG
from workflows.runbooks.base import RunbookBase
from workflows.runbooks.restore import latest_time, restore_dir
from workflows.statuses import Runbook, RunbookStepStatus


def rpo_seconds(source_last_commit: str | None, restored_last_commit: str | None) -> float | None:
    """Seconds of committed work a restore at this moment would lose (0 when it has everything)."""
    if not source_last_commit or not restored_last_commit:
        return None
    gap = (datetime.fromisoformat(source_last_commit) - datetime.fromisoformat(restored_last_commit)).total_seconds()
    return round(max(gap, 0.0), 3)


@workflow.defn(name=RUNBOOK_WORKFLOWS[Runbook.RESTORE_DRILL])
class RestoreDrillRunbook(RunbookBase):
    """Restore into a scratch instance, verify, measure RTO and RPO, tear down."""

    RUNBOOK = Runbook.RESTORE_DRILL

    @workflow.run
    async def run(self, inp: RunbookInput) -> RunbookState:
        rto_target, rpo_target = float(inp.params.get("rto_target_s", 300)), float(inp.params.get("rpo_target_s", 60))
        await self.begin(inp)
        if inp.params.get("target") == "rds":
            return await self._rds(rto_target)
        source = await self.diagnose("position of the live database", SOURCE_POSITION, SourcePositionRequest(), SourcePosition)
        started = workflow.now()
        restored = await self.act("restore the latest backup into a scratch instance", RESTORE_TO_POINT,
                                  RestoreRequest(target_dir=restore_dir("drill")), RestoreResult, **LONG)
        if restored is None:
            return await self.finish("the restore failed", {"rto_s": None, "rpo_s": None})
        # a restore that replayed no WAL past its base backup reaches the backup's end
        recovered_to = latest_time(restored.last_replayed_at, restored.backup_finished_at)
        check = await self.diagnose("verify the restored database", VERIFY_RESTORED, VerifyRestoreRequest(
            url=restored.url, recovery_point=recovered_to, run_agent=bool(inp.params.get("run_agent", True)),
            compare_with_live=True), RestoreVerification, **LONG)
        rto = round((workflow.now() - started).total_seconds(), 3)
        rpo = rpo_seconds(source.last_commit_at if source else None, recovered_to)
        verified = bool(check and check.ok)
        measured = {"rto_s": rto, "rpo_s": rpo, "rto_target_s": rto_target, "rpo_target_s": rpo_target,
                    "verified": verified, "rto_met": verified and rto <= rto_target,
                    "rpo_met": rpo is not None and rpo <= rpo_target, "recovered_to": recovered_to,
                    "source_last_commit": source.last_commit_at if source else None, "backup_chain": restored.backup_chain}
        await self.note("RTO and RPO", measured, RunbookStepStatus.DONE if verified else RunbookStepStatus.FAILED)
        await self.act("tear the scratch instance down", STOP_INSTANCE,
                       StopInstanceRequest(data_dir=restored.target_dir, remove=True), StopInstanceResult)
        return await self.finish(
            f"{'verified' if verified else 'NOT verified'}; RTO {rto:.1f} s (target {rto_target:.0f}), "
            f"RPO {'unknown' if rpo is None else f'{rpo:.1f} s'} (target {rpo_target:.0f})", measured)

    async def _rds(self, rto_target: float) -> RunbookState:
        """On RDS: a point-in-time restore to the latest restorable time into a scratch instance, timed,
        then deleted. The database-level checks above are not run against it (they need a network path
        and credentials to the scratch endpoint)."""
        scratch = f"shipway-drill-{workflow.now():%Y%m%d%H%M%S}"
        started = workflow.now()
        restored = await self.act("RDS point-in-time restore into a scratch instance", RDS_RESTORE_TO_POINT,
                                  RdsRestoreRequest(target_instance_id=scratch), RdsRestoreResult, **RDS_LONG)
        rto = round((workflow.now() - started).total_seconds(), 3)
        measured = {"rto_s": rto if restored else None, "rto_target_s": rto_target, "rto_met": bool(restored) and rto <= rto_target,
                    "rpo_s": None, "verified": restored is not None and restored.status == "available",
                    "checks": "restore only: the database-level checks are not run on RDS"}
        await self.note("RTO", measured, RunbookStepStatus.DONE if restored else RunbookStepStatus.FAILED)
        if restored:
            await self.act("delete the scratch instance", RDS_DELETE_INSTANCE, RdsDeleteRequest(instance_id=scratch),
                           RdsDeleteResult, **RDS_LONG)
        return await self.finish(f"RDS restore into {scratch}: {restored.status if restored else 'failed'}; RTO {rto:.1f} s "
                                 f"(target {rto_target:.0f}); RPO is RDS's (up to about 5 min of transaction logs)", measured)
