"""Base backups, WAL shipping and retention (the only writer of ``backups``).

A base backup is ``pg_basebackup`` in plain format with ``--checkpoint=fast`` and ``-X stream``: the
WAL written while it runs travels inside it, so every backup is restorable and verifiable on its own
even if the WAL archive lost a file; the archive (``archive_command``, shipway/stack/postgres.py)
then carries it forward to any later point. Between full backups, incremental ones (PostgreSQL 18
``--incremental``, fed by the server's WAL summaries) are taken on the newest full backup, so every
chain is two links at most and one broken incremental spoils only itself. Each backup is checked
with ``pg_verifybackup`` (PostgreSQL 18 verifies incremental backups too: every file against the
manifest's checksums, and the WAL range parsed), the Temporal dev server's SQLite file is copied
next to it with SQLite's online backup API, its catalog entry written next to it
(:mod:`activities.backup_catalog`), and everything shipped to S3 when configured.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import update
from sqlmodel import col
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import backup_catalog as catalog
from activities.backup_catalog import BackupRecord
from activities.backup_s3 import BackupBucket, bucket_from_settings
from activities.pg_tools import in_thread, run_tool
from shipway.db.engine import Database
from shipway.db.models import Backup
from shipway.settings import Settings
from workflows.backup_types import (
    PRUNE_BACKUPS,
    SHIP_WAL,
    TAKE_BASE_BACKUP,
    BackupKind,
    BaseBackupRequest,
    BaseBackupResult,
    PruneBackupsRequest,
    PruneBackupsResult,
    ShipWalRequest,
    ShipWalResult,
)

logger = logging.getLogger(__name__)


def copy_sqlite(source: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API: pages copied under SQLite's
    own locking, so a write in progress is either wholly in the copy or not at all)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()


async def verify_backup(pgdata: Path) -> tuple[bool, str]:
    """``pg_verifybackup`` on a plain-format backup (full or incremental): every file against the
    manifest's size and checksum, no file missing or extra, and the WAL range it needs parsed.

    Returns:
        ``(passed, detail)``: what was checked, or ``pg_verifybackup``'s own message naming each
        file that failed.
    """
    checked = await run_tool("pg_verifybackup", str(pgdata), stage=f"pg_verifybackup {pgdata.parent.name}")
    if checked.code != 0:
        return False, f"pg_verifybackup failed: {checked.output}"
    return True, f"pg_verifybackup: {checked.output} (files against the manifest's checksums, WAL parsed)"


def _row(record: BackupRecord) -> Backup:
    return Backup(id=record.id, kind=record.kind, parent_id=record.parent_id, label=record.label, path=record.path,
                  s3_url=record.s3_url, start_lsn=record.start_lsn, stop_lsn=record.stop_lsn, start_wal=record.start_wal,
                  timeline=record.timeline, started_at=record.started, finished_at=record.finished,
                  size_bytes=record.size_bytes, verified=record.verified, verify_detail=record.verify_detail,
                  temporal_db_copied=record.temporal_db_copied, started_by=record.started_by)


class BackupActivities:
    """Base backups, WAL shipping and retention, with what they own: the settings (backup directory,
    schedule of full backups, retention), the S3 bucket (None = local only) and the catalog database,
    which is also the database backed up (its login URL: ``pg_basebackup`` needs a replication
    connection, which the workers' role has not).

    Args:
        settings: Shipway's settings.
        db: the catalog database (``backups`` rows).
        bucket: where backups and WAL are shipped; default from ``SHIPWAY_BACKUP_S3_URL``.
    """

    def __init__(self, settings: Settings, db: Database, bucket: BackupBucket | None = None) -> None:
        self.settings, self.db = settings, db
        self.bucket = bucket if bucket is not None else bucket_from_settings(settings)
        self.backup_dir = settings.resolved_backup_dir
        self.wal_dir = self.backup_dir / catalog.WAL_DIR

    # -- take_base_backup ------------------------------------------------------------------------
    async def _server_state(self, url: str) -> tuple[bool, int]:
        """Whether the server summarizes WAL (incremental backups need it), and its current timeline."""
        async with await psycopg.AsyncConnection.connect(url, connect_timeout=10) as conn:
            summarizing = (await (await conn.execute("SHOW summarize_wal")).fetchone())[0] == "on"
            timeline = (await (await conn.execute("SELECT timeline_id FROM pg_control_checkpoint()")).fetchone())[0]
        return summarizing, timeline

    async def _parent(self, kind: str, url: str) -> BackupRecord | None:
        """The full backup an incremental builds on, or None when a full one is due: none exists, the
        newest is older than ``backup_full_every_days``, or it is of another timeline (a restore was
        switched in since: the restored server has no WAL summaries reaching back to it)."""
        if kind == BackupKind.FULL:
            return None
        full = catalog.newest_full(catalog.read_local(self.backup_dir))
        summarizing, timeline = await self._server_state(url)
        why = ("no verified full backup is on this machine" if full is None
               else "the server does not summarize WAL" if not summarizing
               else f"the server is on timeline {timeline}, the newest full backup {full.id} on {full.timeline} "
                    "(a restore was switched in since)" if full.timeline != timeline else None)
        if kind == BackupKind.INCREMENTAL and why:
            raise ApplicationError(f"cannot take an incremental backup: {why}; take a full one", type="IncrementalNotPossible",
                                   non_retryable=True)
        if why or datetime.now(UTC) - full.started >= timedelta(days=self.settings.backup_full_every_days):
            return None
        return full

    @activity.defn(name=TAKE_BASE_BACKUP)
    async def take_base_backup(self, inp: BaseBackupRequest) -> BaseBackupResult:
        """Take, verify and record one base backup of the catalog database (see the module doc);
        heartbeats while the programs run.

        Returns:
            The backup; ``verified`` False (with ``verify_detail``) when ``pg_verifybackup`` failed:
            it is recorded but never used as a parent or restored from.

        Raises:
            ApplicationError: ``BackupBusy`` (another backup or prune runs), ``IncrementalNotPossible``
                (non-retryable), ``BaseBackupFailed`` (``pg_basebackup``'s message; nothing is kept),
                ``BackupNotShipped`` (non-retryable: the backup is kept and recorded locally, S3 failed).
            ValueError: ``inp.kind`` is not a :class:`BackupKind`.
        """
        kind = BackupKind(inp.kind)
        url = self.settings.resolved_database_url()
        with catalog.locked(self.backup_dir):
            t0 = time.monotonic()
            parent = await self._parent(kind, url)
            try:
                started, finished, folder = await self._pg_basebackup(url, parent)
            except ApplicationError:
                if not (parent and kind == BackupKind.AUTO):
                    raise
                # e.g. the WAL summaries do not reach back to the parent (summarize_wal turned on later)
                logger.warning("incremental backup on %s failed; taking a full one", parent.id)
                parent = None
                started, finished, folder = await self._pg_basebackup(url, None)
            backup_id, kind_taken = folder.name, catalog.INCREMENTAL if parent else catalog.FULL
            pgdata = folder / catalog.PGDATA_DIR
            start_lsn, stop_lsn, timeline, start_wal = catalog.backup_facts(pgdata)
            verified, detail = await verify_backup(pgdata)
            copied = await self._copy_temporal(folder)
            record = BackupRecord(
                id=backup_id, kind=kind_taken, parent_id=parent.id if parent else None, label=inp.label, path=str(folder),
                s3_url=None, start_lsn=start_lsn, stop_lsn=stop_lsn, start_wal=start_wal, timeline=timeline,
                started_at=started.isoformat(), finished_at=finished.isoformat(), size_bytes=catalog.folder_size(folder),
                verified=verified, verify_detail=detail, temporal_db_copied=copied, started_by=inp.started_by)
            catalog.write_record(folder, record)
            await self._insert(record)
            if self.bucket is not None:
                await self._ship(folder, record)
        return BaseBackupResult(
            backup_id=record.id, kind=record.kind, parent_id=record.parent_id, path=record.path, s3_url=record.s3_url,
            start_lsn=start_lsn, stop_lsn=stop_lsn, started_at=record.started_at, finished_at=record.finished_at,
            size_bytes=record.size_bytes, duration_s=round(time.monotonic() - t0, 3), verified=verified,
            verify_detail=detail, temporal_db_copied=copied)

    async def _pg_basebackup(self, url: str, parent: BackupRecord | None) -> tuple[datetime, datetime, Path]:
        """Run ``pg_basebackup`` into a new backup folder (incremental on ``parent`` when given).

        Returns:
            When it started and ended (the backup is consistent by then: a recovery target may lie
            after it), and the backup's folder.

        Raises:
            ApplicationError (``BaseBackupFailed``): its message; the folder is removed.
        """
        started = datetime.now(UTC)
        backup_id = catalog.new_backup_id(catalog.INCREMENTAL if parent else catalog.FULL, started)
        folder = self.backup_dir / catalog.BASE_DIR / backup_id
        folder.mkdir(parents=True)
        args = ["-d", url, "-D", str(folder / catalog.PGDATA_DIR), "-X", "stream", "--checkpoint=fast", "--no-password",
                f"--label=shipway {backup_id}"]
        if parent:
            manifest = self.backup_dir / catalog.BASE_DIR / parent.id / catalog.PGDATA_DIR / "backup_manifest"
            args.append(f"--incremental={manifest}")
        taken = await run_tool("pg_basebackup", *args, stage=f"pg_basebackup {backup_id}")
        if taken.code != 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise ApplicationError(f"pg_basebackup failed (exit {taken.code}): {taken.output}", type="BaseBackupFailed")
        return started, datetime.now(UTC), folder

    async def _copy_temporal(self, folder: Path) -> bool:
        """Copy the embedded Temporal dev server's SQLite file next to the backup, when the stack records one."""
        db_file = self.settings.stack_info().get("temporal", {}).get("db_file")
        if not db_file or not Path(db_file).exists():
            return False
        await in_thread(copy_sqlite, Path(db_file), folder / catalog.TEMPORAL_FILE, stage="copy temporal.sqlite")
        return True

    async def _insert(self, record: BackupRecord) -> None:
        async with self.db.session() as s:
            s.add(_row(record))
            await s.commit()

    async def _ship(self, folder: Path, record: BackupRecord) -> None:
        record.s3_url = self.bucket.url_of(record.id)
        try:
            await in_thread(self.bucket.upload_backup, folder, record, stage=f"upload {record.id}")
        except Exception as exc:
            record.s3_url = None
            raise ApplicationError(f"backup {record.id} is kept in {folder} but was not shipped to "
                                   f"{self.settings.backup_s3_url}: {exc}", type="BackupNotShipped", non_retryable=True) from exc
        catalog.write_record(folder, record)
        async with self.db.session() as s:
            await s.exec(update(Backup).where(col(Backup.id) == record.id).values(s3_url=record.s3_url))
            await s.commit()

    # -- ship_wal --------------------------------------------------------------------------------
    @activity.defn(name=SHIP_WAL)
    async def ship_wal(self, inp: ShipWalRequest) -> ShipWalResult:
        """Copy every archived WAL file that is not yet in S3 there (a no-op without
        ``SHIPWAY_BACKUP_S3_URL``). Files still being written (``*.tmp``) wait for the next call.

        Returns:
            Files and bytes shipped now.
        """
        if self.bucket is None or not self.wal_dir.exists():
            return ShipWalResult(shipped=0, bytes=0)
        there = await in_thread(self.bucket.wal_files, stage="list WAL in S3")
        todo = sorted(p for p in self.wal_dir.iterdir() if p.is_file() and not p.name.endswith(".tmp") and p.name not in there)
        sent = 0
        for path in todo:
            await in_thread(self.bucket.upload_wal, path, stage=f"upload {path.name}")
            sent += path.stat().st_size
        return ShipWalResult(shipped=len(todo), bytes=sent)

    # -- prune_backups ---------------------------------------------------------------------------
    @activity.defn(name=PRUNE_BACKUPS)
    async def prune_backups(self, inp: PruneBackupsRequest) -> PruneBackupsResult:
        """Delete backups (here and in S3) older than the retention, never the newest full backup and
        the incrementals built on it, nor a parent a kept backup needs; then the archived WAL that lies
        before the oldest kept backup's first WAL file (``pg_archivecleanup``'s rule on names, applied
        here and in S3; timeline history files are kept). Marks the deleted backups' rows
        (``deleted_at``).

        Returns:
            The backups deleted (or that would be, with ``dry_run``), WAL files deleted, and bytes
            freed on this machine.
        """
        days = inp.retention_days or self.settings.backup_retention_days
        cutoff = datetime.now(UTC) - timedelta(days=days)
        with catalog.locked(self.backup_dir):
            local = catalog.read_local(self.backup_dir)
            remote = await in_thread(self.bucket.records, stage="list backups in S3") if self.bucket else {}
            records = {**remote, **local}
            keep = catalog.kept_after_retention(records, cutoff)
            doomed = sorted(set(records) - keep)
            result = PruneBackupsResult(deleted=doomed)
            for backup_id in doomed:
                folder = self.backup_dir / catalog.BASE_DIR / backup_id
                if backup_id in local:
                    result.bytes_freed += catalog.folder_size(folder)
                if inp.dry_run:
                    continue
                if backup_id in local:
                    await in_thread(shutil.rmtree, folder, stage=f"delete {backup_id}")
                if backup_id in remote:
                    await in_thread(self.bucket.delete_backup, backup_id, stage=f"delete {backup_id} in S3")
            if keep:
                first_needed = min((records[k].start_wal for k in keep), key=catalog.wal_position)
                await self._prune_wal(first_needed, inp.dry_run, result)
        if doomed and not inp.dry_run:
            async with self.db.session() as s:
                await s.exec(update(Backup).where(col(Backup.id).in_(doomed), col(Backup.deleted_at).is_(None))
                             .values(deleted_at=datetime.now(UTC)))
                await s.commit()
        return result

    async def _prune_wal(self, first_needed: str, dry_run: bool, result: PruneBackupsResult) -> None:
        local = [p for p in self.wal_dir.iterdir() if p.is_file()] if self.wal_dir.exists() else []
        old_local = [p for p in local if catalog.wal_precedes(p.name, first_needed)]
        old_remote = []
        if self.bucket is not None:
            remote = await in_thread(self.bucket.wal_files, stage="list WAL in S3")
            old_remote = sorted(n for n in remote if catalog.wal_precedes(n, first_needed))
        result.wal_files_deleted = len({p.name for p in old_local} | set(old_remote))
        result.bytes_freed += sum(p.stat().st_size for p in old_local)
        if dry_run:
            return
        for p in old_local:
            p.unlink(missing_ok=True)
        if old_remote:
            await in_thread(self.bucket.delete_wal, old_remote, stage="delete WAL in S3")
