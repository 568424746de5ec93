"""Backup: a base backup (full, or incremental on the last full: PostgreSQL 18), verified with
``pg_verifybackup``, with the embedded Temporal server's SQLite file copied alongside; archived WAL
shipped to S3 when configured; then retention. Started by the ``backup`` schedule (daily by default)
or an operator. Params: ``target`` (``postgres``: pg_basebackup; ``rds``: an RDS snapshot),
``kind`` (auto | full | incremental), ``label``, ``retention_days`` (default: the setting).

Nothing here asks for confirmation: a backup only adds, and retention deletes what the configured
policy (``SHIPWAY_BACKUP_RETENTION_DAYS``) says, never the newest backup chain."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.backup_types import (
    PRUNE_BACKUPS,
    SHIP_WAL,
    TAKE_BASE_BACKUP,
    BaseBackupRequest,
    BaseBackupResult,
    PruneBackupsRequest,
    PruneBackupsResult,
    ShipWalRequest,
    ShipWalResult,
)
from workflows.rds_types import (
    RDS_PRUNE_SNAPSHOTS,
    RDS_SNAPSHOT,
    RdsPruneRequest,
    RdsPruneResult,
    RdsSnapshotRequest,
    RdsSnapshotResult,
)
from workflows.runbook_types import RUNBOOK_WORKFLOWS, RunbookInput, RunbookState
from workflows.runbooks.base import RunbookBase
from workflows.statuses import Runbook

# A base backup copies the whole cluster: hours on a large database; a retry starts it over.
LONG = dict(start_to_close_timeout=timedelta(hours=6),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=30), maximum_attempts=3))
# RDS activities poll AWS every 15 s and heartbeat each time; an attempt resumes the previous one's work.
RDS_LONG = dict(LONG, heartbeat_timeout=timedelta(minutes=2))


@workflow.defn(name=RUNBOOK_WORKFLOWS[Runbook.BACKUP])
class BackupRunbook(RunbookBase):
    """Take, verify and ship a base backup; apply retention."""

    RUNBOOK = Runbook.BACKUP

    @workflow.run
    async def run(self, inp: RunbookInput) -> RunbookState:
        await self.begin(inp)
        retention = inp.params.get("retention_days")
        if inp.params.get("target") == "rds":
            snap = await self.act("RDS snapshot", RDS_SNAPSHOT, RdsSnapshotRequest(label=inp.params.get("label", ""),
                                  started_by=inp.started_by), RdsSnapshotResult, **RDS_LONG)
            pruned = await self.act("retention", RDS_PRUNE_SNAPSHOTS, RdsPruneRequest(retention_days=int(retention or 30)),
                                    RdsPruneResult, **RDS_LONG)
            return await self.finish(f"snapshot {snap.snapshot_id} {snap.status}" if snap else "no snapshot taken",
                                     {"pruned": pruned.deleted if pruned else None})
        backup = await self.act("base backup", TAKE_BASE_BACKUP, BaseBackupRequest(
            kind=inp.params.get("kind", "auto"), label=inp.params.get("label", ""), started_by=inp.started_by),
            BaseBackupResult, **LONG)
        shipped = await self.act("ship WAL", SHIP_WAL, ShipWalRequest(), ShipWalResult, **LONG)
        pruned = await self.act("retention", PRUNE_BACKUPS, PruneBackupsRequest(retention_days=retention), PruneBackupsResult)
        if backup is None:
            return await self.finish("the base backup failed")
        return await self.finish(
            f"{backup.kind} backup {backup.backup_id}: {backup.size_bytes / 1e6:.1f} MB in {backup.duration_s:.1f} s, "
            f"{'verified' if backup.verified else 'NOT verified: ' + backup.verify_detail}"
            + (f"; {shipped.shipped} WAL file(s) shipped" if shipped and shipped.shipped else "")
            + (f"; {len(pruned.deleted)} old backup(s) deleted" if pruned and pruned.deleted else ""))
