"""Backups, WAL archiving and point-in-time restore on a real embedded PostgreSQL 18 of this module's
own, started the way ``shipway up`` starts it (``LocalStack``: archiving into the backup directory,
migrated, stack.json written), never the session's shared cluster, which does not archive.

The activities are called directly (their heartbeats are no-ops outside an activity); S3 is moto in
server mode on loopback. Tests run in file order on one cluster: prune and the database switch come
last, because they delete WAL and replace the cluster's data directory.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import psycopg
import pytest
import pytest_asyncio
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import backup_catalog as catalog
from activities.artifact_loader import ArtifactCache
from activities.artifact_store import PostgresArtifactStore
from activities.audit_log import append_event_sync
from activities.backup_s3 import BackupBucket
from activities.backups import BackupActivities, verify_backup
from activities.graph_runner import GraphActivities
from activities.restores import RestoreActivities, scratch_instance
from activities.scaffold import BuildActivities
from shipway.checkpoint_crypto import encrypted_serde
from shipway.db.engine import Database, sync_engine
from shipway.db.models import Backup
from shipway.settings import Settings
from shipway.stack.local import LocalStack
from shipway.stack.postgres import switch_wal_and_wait
from tests.support.moto_server import moto_bucket
from tests.support.lifecycle import counting_spec
from tests.support.ports import restartable_port
from workflows.backup_types import (
    BaseBackupRequest,
    PruneBackupsRequest,
    RestoreRequest,
    ShipWalRequest,
    SourcePositionRequest,
    StopInstanceRequest,
    SwitchDatabaseRequest,
    VerifyRestoreRequest,
)
from workflows.types import AuditRecord, ScaffoldInput

pytestmark = pytest.mark.asyncio(loop_scope="module")
BUCKET = "shipway-backups"
ARCHIVE_TIMEOUT_S = 5


@dataclass
class Stack:
    """The module's embedded stack: settings (state dir, backup dir, checkpoint keys) and database URL."""

    settings: Settings
    url: str
    tmp: Path


def _settings(tmp: Path, **overrides) -> Settings:
    fields = {"state_dir": tmp / "state", "database_url": None, "temporal_address": None, "postgres_port": restartable_port(),
              "wal_archive_timeout_s": ARCHIVE_TIMEOUT_S, "checkpoint_keys": None, "backup_s3_url": None,
              "artifact_store": "postgres", "artifact_cache_dir": tmp / "artifact-cache", **overrides}
    return Settings(_env_file=None, **fields)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """The embedded PostgreSQL started and migrated by ``LocalStack.up`` (archiving on); stopped after."""
    tmp = tmp_path_factory.mktemp("backups")
    settings = _settings(tmp)
    local = LocalStack(settings, echo=lambda *a, **k: None)
    record = local.up(only=["postgres", "migrations"])
    try:
        yield Stack(settings, record["database_url"], tmp)
    finally:
        local.down()


@pytest_asyncio.fixture(loop_scope="module")
async def db(stack):
    """A :class:`Database` on the module's stack (the ``backups`` rows), disposed afterwards."""
    async with Database(stack.url, pool_size=2) as database:
        yield database


def _add_runs(url: str, n: int, tag: str) -> list[str]:
    """Commit ``n`` runs rows tagged ``tag`` (one transaction); their ids."""
    ids = [f"{tag}-{uuid.uuid4().hex[:8]}" for _ in range(n)]
    with psycopg.connect(url) as conn:
        for run_id in ids:
            conn.execute("INSERT INTO runs (id, agent_name, version, thread_id, tenant, started_by, status, input, workflow_id, "
                         "started_at, wait_ms, tokens_in, tokens_out, cost_usd) VALUES (%s, 'bk', 1, %s, 'default', '', "
                         "'succeeded', '{}', %s, now(), 0, 0, 0, 0)", (run_id, run_id, f"run:{run_id}"))
    return ids


def _runs_like(url: str, tag: str) -> set[str]:
    """Ids of the runs tagged ``tag`` in the database at ``url``."""
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM runs WHERE id LIKE %s", (f"{tag}-%",))}


def catalog_row(backup_id: str):
    """The ``backups`` row of ``backup_id`` (a select statement)."""
    return select(Backup).where(Backup.id == backup_id)


async def _restore(settings: Settings, **kw):
    """Restore into ``restores/restored-<hex>`` of the backup directory (a relative target, as the runbooks name it)."""
    target = f"restores/restored-{uuid.uuid4().hex[:6]}"
    return await RestoreActivities(settings).restore_to_point(RestoreRequest(target_dir=target, **kw))


async def _drop(settings: Settings, restored) -> None:
    """Stop and remove a restored instance, checking that it was running and is gone."""
    result = await RestoreActivities(settings).stop_instance(StopInstanceRequest(restored.target_dir, remove=True))
    assert result.stopped and result.removed and not Path(restored.target_dir).exists()


async def test_archive_timeout_ships_a_commit_without_any_manual_switch(stack):
    """The server ``shipway up`` started archives a commit's segment within ``archive_timeout`` by itself
    (a freshly started checkpointer would otherwise sleep 5 minutes first; see ``_wake_checkpointer``)."""
    _add_runs(stack.url, 1, "timeout")
    with psycopg.connect(stack.url, autocommit=True) as conn:
        segment = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
        deadline = time.monotonic() + 6 * ARCHIVE_TIMEOUT_S  # generous: a deadline, not a timing assertion
        while (conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0] or "") < segment:
            assert time.monotonic() < deadline, f"{segment} not archived within {6 * ARCHIVE_TIMEOUT_S} s"
            await asyncio.sleep(0.2)
    assert (stack.settings.resolved_backup_dir / "wal" / f"{segment}.gz").exists()


async def test_point_in_time_restore_has_the_rows_committed_before_the_target_and_none_after(stack, db):
    first = await BackupActivities(stack.settings, db).take_base_backup(BaseBackupRequest(label="first", started_by="test"))
    assert first.kind == "full" and first.parent_id is None and first.verified, first.verify_detail
    assert "successfully verified" in first.verify_detail and first.size_bytes > 1_000_000
    assert (Path(first.path) / catalog.PGDATA_DIR / "backup_manifest").exists()
    on_disk = catalog.read_local(stack.settings.resolved_backup_dir)[first.backup_id]
    assert (on_disk.start_lsn, on_disk.stop_lsn) == (first.start_lsn, first.stop_lsn) and on_disk.start_wal
    with Session(sync_engine(stack.url)) as s:
        row = s.exec(catalog_row(first.backup_id)).one()
    assert row.verified and row.kind == "full" and row.path == first.path and row.deleted_at is None

    before = _add_runs(stack.url, 3, "before")
    with psycopg.connect(stack.url) as conn:
        target = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    await asyncio.sleep(0.05)
    after = _add_runs(stack.url, 2, "after")
    switch_wal_and_wait(stack.url)

    restored = await _restore(stack.settings, recovery_target_time=target.isoformat())
    try:
        assert restored.backup_chain == [first.backup_id] and restored.port != stack.settings.postgres_port
        assert Path(restored.target_dir).parent == stack.settings.resolved_backup_dir / "restores"
        assert _runs_like(restored.url, "before") == set(before)
        assert _runs_like(restored.url, "after") == set()
        assert restored.last_replayed_at is not None and datetime.fromisoformat(restored.last_replayed_at) <= target
        with psycopg.connect(restored.url) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
    finally:
        await _drop(stack.settings, restored)
    assert _runs_like(stack.url, "after") == set(after)  # the source is untouched


async def test_an_incremental_backup_restores_combined_with_its_full_one(stack, db):
    backups = BackupActivities(stack.settings, db)
    full = catalog.newest_full(catalog.read_local(stack.settings.resolved_backup_dir))
    _add_runs(stack.url, 50, "bulk")
    incremental = await backups.take_base_backup(BaseBackupRequest())  # auto: the full one is fresh
    assert incremental.kind == "incremental" and incremental.parent_id == full.id and incremental.verified
    assert incremental.size_bytes < full.size_bytes / 2  # only what changed since the full backup
    later = _add_runs(stack.url, 4, "later")
    switch_wal_and_wait(stack.url)

    restored = await _restore(stack.settings)  # no target: the end of the archived WAL
    try:
        assert restored.backup_chain == [full.id, incremental.backup_id] and restored.recovery_target_time is None
        assert _runs_like(restored.url, "later") == set(later)
        assert not (Path(restored.target_dir) / "recovery.signal").exists()  # promoted
    finally:
        await _drop(stack.settings, restored)
    with pytest.raises(ApplicationError, match="cannot take an incremental backup") as refused:
        elsewhere = _settings(stack.tmp / "other", database_url=stack.url)  # a backup directory with no full backup
        await BackupActivities(elsewhere, db).take_base_backup(BaseBackupRequest(kind="incremental"))
    assert refused.value.non_retryable


async def test_a_tampered_backup_fails_verification_and_is_never_restored_from(stack, db):
    backup = catalog.newest_full(catalog.read_local(stack.settings.resolved_backup_dir))
    copy = stack.tmp / "tampered" / catalog.PGDATA_DIR
    shutil.copytree(Path(backup.path) / catalog.PGDATA_DIR, copy)
    victim = max((p for p in (copy / "base").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    ok, detail = await verify_backup(copy)
    assert not ok and "checksum mismatch" in detail and victim.name in detail, detail
    assert (await verify_backup(Path(backup.path) / catalog.PGDATA_DIR))[0]

    # a backup recorded as failing verification is skipped when choosing one to restore
    records = catalog.read_local(stack.settings.resolved_backup_dir)
    newest = max(records.values(), key=lambda r: r.id)
    records[newest.id] = catalog.BackupRecord(**{**newest.__dict__, "verified": False})
    assert catalog.usable_for(records, None).id != newest.id


async def test_restore_refuses_a_non_empty_target_and_a_point_before_every_backup(stack):
    busy = stack.tmp / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    with pytest.raises(ApplicationError, match="not empty"):
        await RestoreActivities(stack.settings).restore_to_point(RestoreRequest(target_dir=str(busy)))
    with pytest.raises(ApplicationError, match="no verified base backup finished before") as no_backup:
        await _restore(stack.settings, recovery_target_time="2001-01-01T00:00:00+00:00")
    assert no_backup.value.type == "BackupNotFound"


@pytest.fixture(scope="module")
def s3_url():
    """A moto S3 server on a free loopback port with the backup bucket; its endpoint URL."""
    with moto_bucket(BUCKET) as url:
        yield url


def _bucket(endpoint: str) -> BackupBucket:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    return BackupBucket(f"s3://{BUCKET}/shipway", client)


async def test_backups_and_wal_ship_to_s3_and_restore_from_s3_alone(stack, db, s3_url):
    bucket = _bucket(s3_url)
    settings = stack.settings.model_copy(update={"backup_s3_url": f"s3://{BUCKET}/shipway"})
    backups = BackupActivities(settings, db, bucket)
    shipped = await backups.take_base_backup(BaseBackupRequest(kind="full"))
    assert shipped.s3_url == f"s3://{BUCKET}/shipway/base/{shipped.backup_id}" and shipped.verified
    assert bucket.records()[shipped.backup_id].s3_url == shipped.s3_url
    rows = _add_runs(stack.url, 3, "s3")
    switch_wal_and_wait(stack.url)
    archived = {p.name for p in (stack.settings.resolved_backup_dir / "wal").iterdir() if not p.name.endswith(".tmp")}
    sent = await backups.ship_wal(ShipWalRequest())
    assert sent.shipped > 0 and sent.bytes > 0 and archived <= set(bucket.wal_files())
    there = set(bucket.wal_files())
    again = await backups.ship_wal(ShipWalRequest())  # only what was archived since, if anything
    assert again.shipped == len(set(bucket.wal_files()) - there)

    # another machine: an empty backup directory, only the bucket; the catalog database is not used
    elsewhere = settings.model_copy(update={"backup_dir": stack.tmp / "new-machine"})
    restored = await RestoreActivities(elsewhere, bucket).restore_to_point(
        RestoreRequest(target_dir=str(stack.tmp / "from-s3")))
    try:
        assert restored.backup_chain == [shipped.backup_id]
        assert _runs_like(restored.url, "s3") == set(rows)
        assert (stack.tmp / "new-machine" / "base" / shipped.backup_id / catalog.CATALOG_FILE).exists()
    finally:
        await _drop(elsewhere, restored)


async def _deploy_counting_agent(stack: Stack, tmp: Path) -> str:
    """A live counting agent in the stack's database: its artifact built by the real build step, one
    graph run with checkpoints (encrypted), its run row and an audit event; returns the agent name."""
    spec = counting_spec()
    built = await ActivityEnvironment().run(BuildActivities(PostgresArtifactStore(stack.url), 120).scaffold_agent,
                                            ScaffoldInput(spec=spec, version=1))
    name, log = spec["name"], tmp / "nodes.log"
    with psycopg.connect(stack.url) as conn:
        conn.execute("INSERT INTO agents (name, owner, template, description, live_version, created_at, status) "
                     "VALUES (%s, %s, %s, %s, 1, now(), 'live')", (name, spec["owner"], spec["template"], spec["description"]))
        conn.execute("INSERT INTO agent_versions (agent_name, version, spec, status, status_detail, submitted_by, artifact_sha256, "
                     "manifest, workflow_id, created_at, updated_at) VALUES (%s, 1, %s, 'live', '', %s, %s, %s, %s, now(), now())",
                     (name, json.dumps(spec), spec["owner"], built.artifact_sha256, json.dumps(built.manifest), f"agent:{name}:v1"))
    async with Database(stack.url, pool_size=2) as db:
        graphs = GraphActivities(db, ArtifactCache(stack.settings.resolved_artifact_cache_dir,
                                                   PostgresArtifactStore(stack.url).get), serde=encrypted_serde(stack.settings))
        try:
            c = await graphs.compiled(name, 1)
            inp = {"log_path": str(log)}
            await c.graph.ainvoke(c.validated_input(inp), {"configurable": {"thread_id": f"t-{name}"}})
        finally:
            await graphs.close()
    with psycopg.connect(stack.url) as conn:
        conn.execute("INSERT INTO runs (id, agent_name, version, thread_id, tenant, started_by, status, input, workflow_id, "
                     "started_at, wait_ms, tokens_in, tokens_out, cost_usd) VALUES (%s, %s, 1, %s, 'default', '', 'succeeded', "
                     "%s, %s, now(), 0, 0, 0, 0)", (f"r-{name}", name, f"t-{name}", json.dumps(inp), f"run:r-{name}"))
    with Session(sync_engine(stack.url)) as s:
        append_event_sync(s, AuditRecord(actor="test", action="agent.deployed", subject=f"agent:{name}", detail={"v": 1}))
        s.commit()
    return name


async def test_a_restore_verifies_row_counts_audit_chain_checkpoint_and_an_agent_run(stack, db):
    name = await _deploy_counting_agent(stack, stack.tmp)
    await BackupActivities(stack.settings, db).take_base_backup(BaseBackupRequest())
    _add_runs(stack.url, 2, "verify")
    restores = RestoreActivities(stack.settings)
    position = await restores.source_position(SourcePositionRequest())
    switch_wal_and_wait(stack.url)
    assert position.last_commit_at is not None and "/" in position.lsn

    restored = await _restore(stack.settings)
    try:
        # every commit of the source was archived: nothing lost (the switch's own WAL holds no commit)
        assert datetime.fromisoformat(restored.last_replayed_at) >= datetime.fromisoformat(position.last_commit_at)
        log = stack.tmp / "nodes.log"
        runs_before = log.read_text().split()
        check = await restores.verify_restored(VerifyRestoreRequest(url=restored.url, source_url=stack.url,
                                                                    recovery_point=restored.last_replayed_at))
        assert check.ok, check.problems
        assert check.row_counts["runs"][0] == check.row_counts["runs"][1] > 50
        assert check.row_counts["audit_events"][1] >= 1 and check.row_counts["agent_versions"] == [1, 1]
        assert check.audit_ok and check.audit_events == check.row_counts["audit_events"][1]
        assert check.checkpoint_read
        assert check.agent_run.startswith(f"ok: {name} v1 -> ") and '"visited": ["a", "b", "c"]' in check.agent_run
        assert log.read_text().split() == runs_before + ["a", "b", "c"]  # the graph really ran once more
        with psycopg.connect(restored.url) as conn:  # the check left no thread behind
            assert conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id LIKE 'restore-check-%'").fetchone()[0] == 0

        # a damaged restore is reported, check by check
        with psycopg.connect(restored.url) as conn:
            conn.execute("SET session_replication_role = replica")  # past the append-only trigger, as an attacker with superuser would
            conn.execute("UPDATE audit_events SET detail = '{\"v\": 2}' WHERE id = (SELECT max(id) FROM audit_events)")
            conn.execute("DELETE FROM runs WHERE id LIKE 'verify-%'")
            conn.execute("UPDATE artifacts SET data = 'not the artifact'::bytea")
        damaged = await restores.verify_restored(VerifyRestoreRequest(url=restored.url, source_url=stack.url,
                                                                      recovery_point=restored.last_replayed_at))
        assert not damaged.ok and not damaged.audit_ok
        assert damaged.row_counts["runs"] == [check.row_counts["runs"][0], check.row_counts["runs"][0] - 2]
        assert any(p.startswith("audit chain broken at event") for p in damaged.problems)
        assert any(p.startswith("runs: ") for p in damaged.problems)
        # the artifact was unpacked for the first check: a fresh cache must fetch and verify the altered bytes
        fresh = stack.settings.model_copy(update={"artifact_cache_dir": stack.tmp / "fresh-cache"})
        refused = await RestoreActivities(fresh).verify_restored(VerifyRestoreRequest(url=restored.url))
        assert refused.agent_run.startswith(f"failed: {name} v1") and refused.row_counts["runs"][0] == -1
    finally:
        await _drop(stack.settings, restored)


async def test_prune_keeps_the_newest_chain_and_the_wal_it_needs(stack, db):
    backup_dir = stack.settings.resolved_backup_dir
    records = catalog.read_local(backup_dir)
    newest = catalog.newest_full(records)
    chain = {r.id for r in records.values() if r.id == newest.id or r.parent_id == newest.id}
    old = datetime.now(UTC) - timedelta(days=40)
    for record in records.values():  # age every backup past the retention
        record.started_at = old.isoformat()
        catalog.write_record(backup_dir / "base" / record.id, record)
    wal_before = {p.name for p in (backup_dir / "wal").iterdir()}
    backups = BackupActivities(stack.settings, db)

    planned = await backups.prune_backups(PruneBackupsRequest(retention_days=30, dry_run=True))
    assert set(planned.deleted) == set(records) - chain and planned.wal_files_deleted > 0 and planned.bytes_freed > 0
    assert set(catalog.read_local(backup_dir)) == set(records)  # a dry run deletes nothing
    assert {p.name for p in (backup_dir / "wal").iterdir()} == wal_before

    pruned = await backups.prune_backups(PruneBackupsRequest(retention_days=30))
    assert pruned.deleted == planned.deleted and pruned.wal_files_deleted == planned.wal_files_deleted
    assert set(catalog.read_local(backup_dir)) == chain
    left = {p.name for p in (backup_dir / "wal").iterdir()}
    assert len(wal_before - left) == pruned.wal_files_deleted
    assert not any(catalog.wal_precedes(n, newest.start_wal) for n in left)
    with Session(sync_engine(stack.url)) as s:
        for backup_id in pruned.deleted:
            assert s.exec(catalog_row(backup_id)).one().deleted_at is not None
        assert s.exec(catalog_row(newest.id)).one().deleted_at is None

    # the newest chain still restores to now
    restored = await _restore(stack.settings)
    assert restored.backup_chain[0] == newest.id
    await _drop(stack.settings, restored)


async def test_switch_database_brings_the_stack_back_after_its_data_directory_is_destroyed(stack, db):
    restores = RestoreActivities(stack.settings)
    with pytest.raises(ApplicationError, match="external PostgreSQL") as external:
        await RestoreActivities(stack.settings.model_copy(update={"database_url": stack.url})).switch_database(
            SwitchDatabaseRequest(restored_dir=str(stack.tmp / "x")))
    assert external.value.type == "NotEmbeddedStack"
    live = Path(stack.settings.stack_info()["postgres"]["pgdata"])
    with pytest.raises(ApplicationError, match="live data directory"):
        await restores.stop_instance(StopInstanceRequest(data_dir=str(live)))
    kept = _add_runs(stack.url, 2, "kept")
    with psycopg.connect(stack.url) as conn:
        target = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    lost = _add_runs(stack.url, 2, "lost")
    switch_wal_and_wait(stack.url)
    assert _runs_like(stack.url, "lost") == set(lost)
    await db.dispose()
    while live.exists():  # the disaster: the server keeps running, without its data directory
        shutil.rmtree(live, ignore_errors=True)  # again when a backend created a file meanwhile

    restored = await _restore(stack.settings, recovery_target_time=target.isoformat())
    switched = await restores.switch_database(SwitchDatabaseRequest(restored_dir=restored.target_dir))
    assert switched.previous_dir_moved_to is None  # there was nothing left to move aside
    assert switched.port == stack.settings.postgres_port and switched.url == stack.url
    assert not Path(restored.target_dir).exists() and (live / "PG_VERSION").exists()
    assert not scratch_instance(Path(restored.target_dir)).socket_dir.exists()  # nothing of the scratch instance left
    assert _runs_like(stack.url, "kept") == set(kept) and _runs_like(stack.url, "lost") == set()
    with psycopg.connect(stack.url) as conn:
        timeline = conn.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone()[0]
        assert timeline >= 2 and conn.execute("SHOW archive_mode").fetchone()[0] == "on"
    # the new timeline reaches the archive, so later restores can follow it
    switch_wal_and_wait(stack.url)
    assert (stack.settings.resolved_backup_dir / "wal" / f"{timeline:08X}.history.gz").exists()

    # backups go on on the new timeline (a full one: the restored server has no WAL summaries of the old one)
    async with Database(stack.url, pool_size=2) as fresh_db:
        backups = BackupActivities(stack.settings, fresh_db)
        with pytest.raises(ApplicationError, match=f"the server is on timeline {timeline}"):
            await backups.take_base_backup(BaseBackupRequest(kind="incremental"))
        after = await backups.take_base_backup(BaseBackupRequest())
    assert after.kind == "full" and after.verified
    newer = _add_runs(stack.url, 2, "newer")
    switch_wal_and_wait(stack.url)

    # a second switch, of a healthy server this time: its data directory is moved aside, not lost
    again = await _restore(stack.settings)
    assert again.backup_chain == [after.backup_id]
    second = await restores.switch_database(SwitchDatabaseRequest(restored_dir=again.target_dir))
    aside = Path(second.previous_dir_moved_to)
    assert aside.name.startswith("data.replaced-") and (aside / "PG_VERSION").exists() and aside.parent == live.parent
    assert _runs_like(stack.url, "newer") == set(newer) and _runs_like(stack.url, "lost") == set()
    assert scratch_instance(live).running() is not None
