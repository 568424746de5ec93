"""Point-in-time restore, switching the embedded stack to a restored data directory, and the checks of
a restore (RPO reference, verification). Writes no table: a restore must work while the catalog
database is down, so backups are found through their on-disk (and S3) catalog
(:mod:`activities.backup_catalog`), never the ``backups`` table.

A restore combines the chosen backup's chain (``pg_combinebackup`` when it is incremental) into a new
data directory, starts it on a free port with ``recovery.signal`` and a ``restore_command`` over the
WAL archive (WAL and backups missing here are fetched from S3 first), lets it replay to
``recovery_target_time`` and promote, and leaves it running: the caller verifies it, then stops it
(a drill) or switches the stack to it (a real restore). The scratch instance does not archive, so a
drill never writes into the production archive; a switched-in directory queues its new timeline's
history file for archiving before it starts (its segments the server queues itself).
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import backup_catalog as catalog
from activities import restore_checks
from activities.backup_catalog import BackupRecord, CatalogError
from activities.backup_s3 import BackupBucket, bucket_from_settings
from activities.pg_tools import beat, in_thread, run_tool
from shipway.db.migrate import upgrade
from shipway.settings import Settings
from shipway.stack.ports import free_port, port_is_listening
from shipway.stack.postgres import EmbeddedPostgres, RecoveryTarget
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


def scratch_instance(data_dir: Path, wal_archive_dir: Path | None = None, archive_timeout_s: int = 60) -> EmbeddedPostgres:
    """The server of a restored data directory; its log is ``<data_dir>.log`` beside it."""
    data_dir = Path(data_dir).resolve()
    return EmbeddedPostgres(data_dir.parent, data_dir.parent / f"{data_dir.name}.log", pgdata=data_dir,
                            wal_archive_dir=wal_archive_dir, archive_timeout_s=archive_timeout_s)


def _instant(text: str | None) -> datetime | None:
    """An ISO 8601 time as an aware datetime (UTC when it names no zone)."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fail(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


class RestoreActivities:
    """Restores and their checks, with what they own: the settings (backup directory, the embedded
    stack's record, checkpoint keys, artifact store) and the S3 bucket (None = local only).

    Args:
        settings: Shipway's settings.
        bucket: where backups and WAL were shipped; default from ``SHIPWAY_BACKUP_S3_URL``.
    """

    def __init__(self, settings: Settings, bucket: BackupBucket | None = None) -> None:
        self.settings = settings
        self.bucket = bucket if bucket is not None else bucket_from_settings(settings)
        self.backup_dir = settings.resolved_backup_dir
        self.wal_dir = self.backup_dir / catalog.WAL_DIR

    def _dir(self, path: str) -> Path:
        """A data directory named by a request: absolute, or relative to the backup directory."""
        return (self.backup_dir / path).resolve()  # an absolute path stays itself

    # -- restore_to_point ------------------------------------------------------------------------
    async def _catalog(self) -> dict[str, BackupRecord]:
        remote = await in_thread(self.bucket.records, stage="list backups in S3") if self.bucket else {}
        return {**remote, **catalog.read_local(self.backup_dir)}

    async def _local(self, record: BackupRecord) -> Path:
        """The backup's folder here, fetched from S3 first when only S3 has it."""
        folder = self.backup_dir / catalog.BASE_DIR / record.id
        if (folder / catalog.CATALOG_FILE).exists():
            return folder
        if self.bucket is None:
            raise _fail("BackupNotFound", f"backup {record.id} is not in {folder} and no S3 bucket is configured")
        shutil.rmtree(folder, ignore_errors=True)  # a download cut short earlier
        await in_thread(self.bucket.download_backup, record.id, folder, stage=f"download {record.id}")
        return folder

    async def _fetch_wal(self, first_needed: str) -> int:
        """Fetch from S3 the archived WAL from ``first_needed`` on (and every timeline history file)
        that is not here; returns how many files."""
        self.wal_dir.mkdir(parents=True, exist_ok=True)
        if self.bucket is None:
            return 0
        remote = await in_thread(self.bucket.wal_files, stage="list WAL in S3")
        here = {p.name for p in self.wal_dir.iterdir()}
        todo = sorted(n for n in remote if n not in here and not catalog.wal_precedes(n, first_needed))
        for name in todo:
            await in_thread(self.bucket.download_wal, name, self.wal_dir, stage=f"download {name}")
        return len(todo)

    @activity.defn(name=RESTORE_TO_POINT)
    async def restore_to_point(self, inp: RestoreRequest) -> RestoreResult:
        """Restore a base backup plus archived WAL into ``inp.target_dir`` up to
        ``inp.recovery_target_time`` and leave it running on a free port (see the module doc).
        Works with the catalog database down. Holds the backup directory's lock shared (a base backup
        or prune waits). Heartbeats throughout.

        Raises:
            ApplicationError: ``BackupBusy`` (retryable: a base backup or prune runs); non-retryable:
                ``TargetNotEmpty``; ``BackupNotFound`` (no backup fits,
                or a link of its chain is missing here and in S3; the named backup finished after the
                target); ``CombineFailed`` (``pg_combinebackup``'s message); ``RecoveryFailed`` (the
                server's log, e.g. the target lies beyond the archived WAL: the target directory is
                left for inspection). Other errors (S3, disk) leave the target empty: a retry starts over.
        """
        t0 = time.monotonic()
        target = _instant(inp.recovery_target_time)
        target_dir = self._dir(inp.target_dir)
        if target_dir.exists() and any(target_dir.iterdir()):
            raise _fail("TargetNotEmpty", f"{target_dir} exists and is not empty")
        with catalog.locked(self.backup_dir, shared=True):
            return await self._restore(inp, target, target_dir, t0)

    async def _restore(self, inp: RestoreRequest, target: datetime | None, target_dir: Path, t0: float) -> RestoreResult:
        records = await self._catalog()
        try:
            if inp.backup_id is None:
                chosen = catalog.usable_for(records, target)
            elif inp.backup_id in records:
                chosen = records[inp.backup_id]
            else:
                raise CatalogError(f"backup {inp.backup_id} is not in the catalog (local or S3)")
            if target and chosen.finished > target:
                raise CatalogError(f"backup {chosen.id} finished at {chosen.finished_at}, after the target {target.isoformat()}")
            chain = catalog.chain_of(records, chosen.id)
        except CatalogError as exc:
            raise _fail("BackupNotFound", str(exc)) from exc
        folders = [await self._local(link) for link in chain]
        await self._fetch_wal(chosen.start_wal)
        await self._combine([f / catalog.PGDATA_DIR for f in folders], target_dir)
        instance = scratch_instance(target_dir)
        recovery = RecoveryTarget(self.wal_dir, target.isoformat() if target else None)
        try:
            info = await in_thread(instance.recover, free_port(), recovery, stage=f"recovery of {target_dir.name}")
        except (RuntimeError, TimeoutError) as exc:
            raise _fail("RecoveryFailed", f"{exc} (data directory left in {target_dir})") from exc
        async with await psycopg.AsyncConnection.connect(info.url, connect_timeout=10) as conn:
            replayed = (await (await conn.execute("SELECT pg_last_xact_replay_timestamp()")).fetchone())[0]
        return RestoreResult(target_dir=str(target_dir), backup_chain=[link.id for link in chain],
                             recovery_target_time=target.isoformat() if target else None, url=info.url, port=info.port,
                             pid=info.pid, last_replayed_at=replayed.isoformat() if replayed else None,
                             duration_s=round(time.monotonic() - t0, 3), backup_finished_at=chosen.finished_at)

    async def _combine(self, pgdatas: list[Path], target_dir: Path) -> None:
        """The data directory of a chain in ``target_dir``: a copy of a full backup, or the chain combined
        (nothing is left in ``target_dir`` when this fails)."""
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        if target_dir.exists():
            target_dir.rmdir()  # empty (checked): pg_combinebackup and copytree create it themselves
        try:
            if len(pgdatas) == 1:
                await in_thread(shutil.copytree, pgdatas[0], target_dir, stage=f"copy into {target_dir.name}")
                return
            combined = await run_tool("pg_combinebackup", *map(str, pgdatas), "-o", str(target_dir), stage="pg_combinebackup")
            if combined.code != 0:
                raise _fail("CombineFailed", f"pg_combinebackup failed (exit {combined.code}): {combined.output}")
        except BaseException:
            shutil.rmtree(target_dir, ignore_errors=True)  # a retry starts from an empty target again
            raise

    # -- stop_instance ---------------------------------------------------------------------------
    @activity.defn(name=STOP_INSTANCE)
    async def stop_instance(self, inp: StopInstanceRequest) -> StopInstanceResult:
        """Stop a restored (scratch) instance and, with ``remove``, delete its data directory, log and
        socket folder.

        Raises:
            ApplicationError (non-retryable, ``RefusedLiveData``): ``data_dir`` is the embedded stack's
                own data directory.
        """
        data_dir = self._dir(inp.data_dir)
        live = self.settings.stack_info().get("postgres", {}).get("pgdata")
        if live and Path(live).resolve() == data_dir:
            raise _fail("RefusedLiveData", f"{data_dir} is the stack's live data directory; stop it with `shipway down`")
        instance = scratch_instance(data_dir)
        stopped = await in_thread(instance.stop, stage=f"stop {data_dir.name}")
        if not inp.remove:
            return StopInstanceResult(stopped=stopped, removed=False)
        await in_thread(shutil.rmtree, data_dir, True, stage=f"remove {data_dir.name}")
        instance.log_file.unlink(missing_ok=True)
        shutil.rmtree(instance.socket_dir, ignore_errors=True)
        return StopInstanceResult(stopped=stopped, removed=not data_dir.exists())

    # -- switch_database -------------------------------------------------------------------------
    @activity.defn(name=SWITCH_DATABASE)
    async def switch_database(self, inp: SwitchDatabaseRequest) -> SwitchDatabaseResult:
        """Make a restored data directory the embedded stack's database: stop the restored instance and
        the stack's server (SIGKILL when its data directory is already gone and ``pg_ctl`` cannot stop
        it), move the stack's data directory aside (``<data>.replaced-<UTC stamp>``), move the restored
        one into its place, queue its new timeline's history file for archiving, start the server on the stack's port with WAL
        archiving, and migrate it to the code's schema (a no-op when current).

        Raises:
            ApplicationError (non-retryable): ``NotEmbeddedStack`` (``DATABASE_URL`` is set, or no
                embedded PostgreSQL is recorded in stack.json); ``NotADataDirectory``;
                ``PortInUse`` (the stack's port stays taken).
        """
        t0 = time.monotonic()
        if self.settings.database_url:
            raise _fail("NotEmbeddedStack", "DATABASE_URL points at an external PostgreSQL: switch it with that "
                        "server's own tools (on AWS, the RDS restore); Shipway only switches its embedded database")
        pg = self.settings.stack_info().get("postgres")
        if not pg:
            raise _fail("NotEmbeddedStack", f"no embedded PostgreSQL is recorded in {self.settings.stack_file}")
        live, port = Path(pg["pgdata"]).resolve(), int(pg["port"])
        restored = self._dir(inp.restored_dir)
        if restored == live or not (restored / "PG_VERSION").exists():
            raise _fail("NotADataDirectory", f"{restored} is not a restored data directory")
        server = EmbeddedPostgres(live.parent, Path(pg["log"]), pgdata=live, wal_archive_dir=self.wal_dir,
                                  archive_timeout_s=self.settings.wal_archive_timeout_s)
        scratch = scratch_instance(restored)
        await in_thread(scratch.stop, stage="stop the restored instance")
        shutil.rmtree(scratch.socket_dir, ignore_errors=True)  # keyed by the restored path, which is about to go
        await in_thread(self._stop_live, server, port, stage="stop the stack's server")
        moved_to = None
        if live.exists():
            moved_to = live.with_name(f"{live.name}.replaced-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
            live.rename(moved_to)
        await in_thread(shutil.move, str(restored), str(live), stage="move the restored data into place")
        server.queue_timeline_history()
        info = await in_thread(server.start, port, stage="start the stack's server")
        beat("migrate")
        await in_thread(upgrade, info.url, stage="migrate")
        return SwitchDatabaseResult(previous_dir_moved_to=str(moved_to) if moved_to else None, port=info.port, url=info.url,
                                    duration_s=round(time.monotonic() - t0, 3))

    @staticmethod
    def _stop_live(server: EmbeddedPostgres, port: int) -> None:
        """Stop the stack's server; when its data directory is gone (so ``pg_ctl`` cannot), kill the
        postmaster still serving it. Then wait for the port to be free."""
        if not server.stop():
            server.kill()
        deadline = time.monotonic() + 30
        while port_is_listening(port):
            if time.monotonic() > deadline:
                raise _fail("PortInUse", f"port {port} is still taken after stopping the stack's PostgreSQL")
            time.sleep(0.2)

    # -- checks ----------------------------------------------------------------------------------
    @activity.defn(name=SOURCE_POSITION)
    async def source_position(self, inp: SourcePositionRequest) -> SourcePosition:
        """The live database's last committed transaction (``pg_last_committed_xact()``; None when the
        server keeps no commit timestamps) and current WAL position: what a restore's
        ``last_replayed_at`` is measured against (RPO)."""
        async with await psycopg.AsyncConnection.connect(self.settings.resolved_database_url(), connect_timeout=10,
                                                         autocommit=True) as conn:
            lsn, at = await (await conn.execute("SELECT pg_current_wal_lsn()::text, clock_timestamp()")).fetchone()
            try:
                last = (await (await conn.execute("SELECT (pg_last_committed_xact()).timestamp")).fetchone())[0]
            except psycopg.errors.ObjectNotInPrerequisiteState:  # track_commit_timestamp is off
                last = None
        return SourcePosition(last_commit_at=last.isoformat() if last else None, lsn=lsn, at=at.isoformat())

    @activity.defn(name=VERIFY_RESTORED)
    async def verify_restored(self, inp: VerifyRestoreRequest) -> RestoreVerification:
        """Check a restored database (:mod:`activities.restore_checks`): row counts against the source
        at the recovery point, the audit chain, the newest checkpoint read back, and (``run_agent``) one
        graph execution. Never raises for a failed check: each is a line of ``problems``.

        Raises:
            psycopg.OperationalError: the restored database cannot be reached.
        """
        point = _instant(inp.recovery_point)
        problems: list[str] = []
        restored = await restore_checks.row_counts(inp.url, point)
        source, straddling = {}, {}
        source_url = inp.source_url or (self.settings.resolved_database_url() if inp.compare_with_live else None)
        if source_url:
            try:
                source = await restore_checks.row_counts(source_url, point)
                straddling = await restore_checks.committed_after(source_url, point) if point else {}
            except psycopg.OperationalError as exc:
                problems.append(f"source database unreachable, row counts not compared: {exc}")
        counts = {t: [source.get(t, restore_checks.NO_SOURCE), n] for t, n in restored.items()}
        for table, (expected, got) in counts.items():
            if expected != restore_checks.NO_SOURCE and not expected - straddling.get(table, 0) <= got <= expected:
                problems.append(f"{table}: {got} rows restored, {expected} in the source up to the recovery point")
        beat("row counts")
        audit_ok, events, broken = await in_thread(restore_checks.audit_chain, inp.url, stage="audit chain")
        if not audit_ok:
            problems.append(f"audit chain broken at event {broken}")
        checkpoint_read, problem = await restore_checks.read_checkpoint(inp.url, self.settings)
        problems += [problem] if problem else []
        beat("checkpoint")
        agent_run, problem = "not run: not asked", None
        if inp.run_agent:
            agent_run, problem = await restore_checks.agent_run(inp.url, self.settings)
        problems += [problem] if problem else []
        return RestoreVerification(ok=not problems, row_counts=counts, audit_ok=audit_ok, audit_events=events,
                                   checkpoint_read=checkpoint_read, agent_run=agent_run, problems=problems)
