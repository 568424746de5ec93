"""Chaos: the PostgreSQL data directory is destroyed with agent runs in flight, and the Restore runbook
brings the stack back from the base backup and the archived WAL.

An embedded stack of its own (``LocalStack``: PostgreSQL archiving WAL, a Temporal dev server,
migrations) with Shipway's real workers in this process: a live agent, a full base backup (the Backup
runbook), runs that finished, runs in flight; then the postmaster is killed and its data directory
deleted. The archive timeout is an hour, so no WAL written after the backup reaches the archive: the
worst case, where every run after the backup is missing from the restored database and only Temporal
knows it. The Restore runbook restores to the end of the archived WAL, waits for ``confirm``,
switches the stack to the restored directory, reconciles the runs Temporal accepted with the restored
``runs`` table and verifies the audit chain. Every accepted run must then have a row with its final
status, or be named in the report; what was lost is printed (``-s`` shows it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import psutil
import pytest
import pytest_asyncio
from sqlmodel import select

from shipway import control
from shipway.db.engine import Database
from shipway.db.models import Run
from shipway.settings import CONTROL_TASK_QUEUE, get_settings
from shipway.stack.local import LocalStack
from shipway.temporal import connect
from tests.support.lifecycle import counting_spec, deploy
from tests.support.ports import restartable_port
from tests.support.runbooks import ended, until, waiting
from tests.support.workers import running_workers
from workflows.runbook_types import RUNBOOK_WORKFLOWS, SIGNAL_CONFIRM, RunbookDecision, RunbookInput, runbook_workflow_id
from workflows.statuses import Runbook, RunbookStatus, RunStatus
from workflows.types import RunResult, run_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")

RESTORE_TIMEOUT_S = 300  # guards against a hang only


@pytest_asyncio.fixture(loop_scope="session")
async def stack(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An embedded stack of this test's own (PostgreSQL archiving WAL, Temporal, migrations); the
    archive timeout (seconds) is the test's ``archive_timeout_s`` mark, else an hour."""
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHIPWAY_STATE_DIR", str(tmp_path / "state"))
    for name in ("POSTGRES_PORT", "TEMPORAL_PORT", "TEMPORAL_UI_PORT"):
        monkeypatch.setenv(f"SHIPWAY_{name}", str(restartable_port()))
    mark = request.node.get_closest_marker("archive_timeout_s")
    monkeypatch.setenv("SHIPWAY_WAL_ARCHIVE_TIMEOUT_S", str(mark.args[0] if mark else 3600))
    monkeypatch.setenv("SHIPWAY_RUNBOOK_AUTO_START", "false")
    monkeypatch.setenv("SHIPWAY_BACKUP_SCHEDULES", "false")
    get_settings.cache_clear()
    local = LocalStack(get_settings(), echo=lambda *a, **k: None)
    local.up(only=["postgres", "temporal", "migrations"], pick_free_ports=True)
    try:
        yield get_settings()
    finally:
        local.down()
        get_settings.cache_clear()


def _destroy_database(settings) -> None:
    """Kill the postmaster and its backends (SIGKILL: no shutdown checkpoint) and delete PGDATA."""
    pg = settings.stack_info()["postgres"]
    postmaster = psutil.Process(pg["pid"])
    procs = [postmaster, *postmaster.children(recursive=True)]
    for p in procs:
        p.kill()
    psutil.wait_procs(procs, timeout=30)
    shutil.rmtree(pg["pgdata"])


async def _runbook(client, runbook: Runbook, **params) -> str:
    wid = runbook_workflow_id(runbook, uuid.uuid4().hex[:8])
    await client.start_workflow(RUNBOOK_WORKFLOWS[runbook], RunbookInput(params=params, started_by="dba@bank.example",
                                                                          reason="disaster recovery test"),
                                id=wid, task_queue=CONTROL_TASK_QUEUE)
    return wid


async def test_the_restore_runbook_brings_the_stack_back_after_its_data_directory_is_destroyed_mid_run(stack):
    client = await connect(stack)
    async with running_workers(client), Database.from_settings(pool_size=2) as db:
        name, version = await deploy(client, db, counting_spec())
        backup = await until(client, await _runbook(client, Runbook.BACKUP, kind="full"), ended, RESTORE_TIMEOUT_S)
        assert backup.status == RunbookStatus.COMPLETED, backup

        finished = [(await control.start_run(client, name, version, {"log_path": os.devnull, "seq": i}, wait=True))[0]
                    for i in range(5)]
        in_flight = [(await control.start_run(client, name, version, {"log_path": os.devnull, "delay_s": 1.5,
                                                                      "seq": 100 + i}))[0] for i in range(5)]
        await asyncio.sleep(1.0)
        _destroy_database(stack)

        wid = await _runbook(client, Runbook.RESTORE)
        state = await until(client, wid, waiting, RESTORE_TIMEOUT_S)
        assert state.awaiting().name == "switch the stack to the restored database", state
        checked = next(s for s in state.steps if s.name == "verify the restored database").findings
        assert checked["ok"] and checked["audit_ok"], checked
        await client.get_workflow_handle(wid).signal(SIGNAL_CONFIRM, RunbookDecision(by="dba@bank.example", reason="restore"))
        report = await until(client, wid, ended, RESTORE_TIMEOUT_S)
        assert report.status == RunbookStatus.COMPLETED, report
        audit = next(s for s in report.steps if s.name == "verify the audit chain").findings
        assert audit["intact"], audit

        results = {}
        for run_id in finished + in_flight:
            handle = client.get_workflow_handle(run_workflow_id(run_id), result_type=RunResult)
            results[run_id] = await asyncio.wait_for(handle.result(), RESTORE_TIMEOUT_S)
        async with db.session() as s:
            rows = {r.id: r for r in (await s.exec(select(Run).where(Run.id.in_(list(results))))).all()}
        reconciled = next(s for s in report.steps if s.name == "reconcile agent runs").findings
        lost = reconciled["lost"]
        # none of the runs was archived: the restored runs table had none of them, Temporal had them all
        assert set(reconciled["missing"]) == set(results), reconciled
        for run_id, result in results.items():
            # every accepted run has its row with the status Temporal ended it with, or is reported lost
            assert run_id in lost or (run_id in rows and rows[run_id].status == result.status), (run_id, result, rows.get(run_id))
        assert all(results[r].status == RunStatus.SUCCEEDED for r in finished)
        statuses = sorted(str(r.status) for r in results.values())
        print(f"\nrecovered to {report.report['recovered_to']} in {report.report['total_s']:.1f} s (restore runbook, incl. the "
              f"confirmation); runs: {len(finished)} finished before, {len(in_flight)} in flight; after: "
              f"{ {s: statuses.count(s) for s in set(statuses)} }; rows missing after the restore and re-written from Temporal: "
              f"{len(reconciled['missing'])} ({len(reconciled['still_running'])} still running then); lost: {lost or 'none'}")


@pytest.mark.archive_timeout_s(1)
async def test_the_restore_drill_restores_into_a_scratch_instance_verifies_it_and_reports_rto_and_rpo(stack):
    client = await connect(stack)
    async with running_workers(client), Database.from_settings(pool_size=2) as db:
        name, version = await deploy(client, db, counting_spec())
        backup = await until(client, await _runbook(client, Runbook.BACKUP, kind="full"), ended, RESTORE_TIMEOUT_S)
        assert backup.status == RunbookStatus.COMPLETED, backup
        for i in range(3):  # after the backup: replayed from the archived WAL
            await control.start_run(client, name, version, {"log_path": os.devnull, "seq": i}, wait=True)
        await asyncio.sleep(2.5)  # archive_timeout 1 s: their WAL reaches the archive
        report = await until(client, await _runbook(client, Runbook.RESTORE_DRILL), ended, RESTORE_TIMEOUT_S)
        assert report.status == RunbookStatus.COMPLETED, report
        measured = report.report
        assert measured["verified"] and measured["rto_s"] > 0 and measured["rpo_s"] is not None, measured
        assert measured["rpo_s"] <= measured["rpo_target_s"], measured
        checked = next(s for s in report.steps if s.name == "verify the restored database").findings
        assert checked["ok"] and checked["audit_ok"] and checked["checkpoint_read"], checked
        assert checked["agent_run"].startswith("ok"), checked["agent_run"]
        assert checked["row_counts"]["runs"][1] >= 3 and checked["row_counts"]["runs"][0] == checked["row_counts"]["runs"][1], checked
        restored = next(s for s in report.steps if s.name.startswith("restore the latest backup")).findings
        assert not Path(restored["target_dir"]).exists()  # torn down
        print(f"\nrestore drill: RTO {measured['rto_s']:.1f} s, RPO {measured['rpo_s']:.1f} s (archive_timeout 1 s), "
              f"{checked['row_counts']}")
