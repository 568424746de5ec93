"""The audit log's integrity on a real PostgreSQL: the database refuses UPDATE, DELETE and TRUNCATE
on ``audit_events`` (append-only for every role), and ``shipway audit verify`` names the first
event a superuser altered behind the trigger's back."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg
import pytest

from activities.audit_log import AuditActivities
from shipway.db.engine import Database
from shipway.db.migrate import upgrade
from workflows.types import AuditRecord

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def audit_db(pg_url: str):
    """A new, migrated database with three chained audit events; dropped afterwards."""
    name = f"audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def _append(url: str, n: int) -> None:
    async with Database(url) as db:
        for i in range(n):
            await AuditActivities(db).record_audit(AuditRecord("carol.approver", f"test.event.{i}", f"agent:a:v{i}", {"i": i}))


def _verify(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shipway", "audit", "verify"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DATABASE_URL": url})


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events",
                                       "TRUNCATE audit_events"])
async def test_the_database_refuses_to_change_or_remove_audit_events(audit_db, statement):
    await _append(audit_db, 3)
    with psycopg.connect(audit_db) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="audit_events is append-only"):
            conn.execute(statement)
    assert _verify(audit_db).returncode == 0


async def test_verify_names_the_first_event_a_superuser_altered(audit_db):
    await _append(audit_db, 3)
    ok = _verify(audit_db)
    assert ok.returncode == 0 and "audit chain intact: 3 events" in ok.stdout, ok.stderr
    with psycopg.connect(audit_db, autocommit=True) as conn:
        second = conn.execute("SELECT id FROM audit_events ORDER BY id OFFSET 1 LIMIT 1").fetchone()[0]
        # a superuser can switch triggers off for its session; the chain still gives it away
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE audit_events SET actor = 'mallory' WHERE id = %s", (second,))
    broken = _verify(audit_db)
    assert broken.returncode == 1
    assert f"audit chain broken at event {second} (test.event.1 on agent:a:v1 by mallory" in broken.stderr
    assert "1 events before it verified" in broken.stderr


async def test_the_daily_schedule_verifies_the_chain_and_records_the_result(worker, db):
    from shipway import queries
    from workflows.types import AUDIT_VERIFICATION_SCHEDULE, AUDIT_VERIFICATION_WORKFLOW, AuditChainCheck, AuditChainReport

    await AuditActivities(db).record_audit(AuditRecord("carol.approver", "test.event", "agent:s:v1", {}))
    described = await worker.get_schedule_handle(AUDIT_VERIFICATION_SCHEDULE).describe()
    assert described.schedule.spec.intervals[0].every.days == 1
    report = await worker.execute_workflow(AUDIT_VERIFICATION_WORKFLOW, AuditChainCheck(actor="test.operator"),
                                           id=f"audit-verification-{uuid.uuid4().hex[:8]}", task_queue="shipway-control",
                                           result_type=AuditChainReport)
    assert report.intact and report.broken_event_id is None and report.events >= 1
    recorded = (await db.read(queries.audit_events, "audit:chain"))[-1]
    assert (recorded.id, recorded.action, recorded.actor) == (report.recorded_event_id, "audit.verified", "test.operator")
    assert recorded.detail["events"] == report.events
