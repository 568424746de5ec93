"""The runbook workflows on the real stack: the real worker runs them on the test Temporal server
against the test PostgreSQL; a test creates the trouble (idle-in-transaction backends, a dropped HNSW
index, failed runs, dead letters), starts the runbook, and answers its confirmation as an operator
would (the ``confirm`` / ``skip`` signals)."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy import text
from temporalio.service import RPCError

from activities.runbook_starter import start_runbook
from shipway.db.models import Agent, RunbookRun, RunbookStep
from shipway.settings import get_settings
from tests.support.runbooks import finished, record_runs, until, waiting
from workflows.runbook_types import (
    RUNBOOK_TRIGGERS_WORKFLOW,
    SIGNAL_CONFIRM,
    SIGNAL_SKIP,
    CheckRunbookTriggers,
    RunbookDecision,
    RunbookInput,
    StartedRunbook,
)
from workflows.statuses import Runbook, RunbookStatus, RunbookStepStatus, RunbookTrigger, VersionStatus, WebhookOutcome

pytestmark = pytest.mark.asyncio(loop_scope="session")

IDLE_S = 2.0  # the tests' idle-in-transaction threshold: other tests' short transactions stay below it


async def _start(client, runbook: Runbook, **params) -> str:
    started = await start_runbook(client, runbook, uuid.uuid4().hex[:8],
                                  RunbookInput(params=params, started_by="ops@bank.example", reason="test"))
    assert started.started
    return started.workflow_id


async def _stored(db, workflow_id: str) -> tuple[RunbookRun, list[RunbookStep]]:
    async with db.session() as s:
        run = await s.get(RunbookRun, workflow_id)
        steps = (await s.exec(text("SELECT * FROM runbook_steps WHERE run_id = :id ORDER BY seq").bindparams(id=workflow_id))).all()
    return run, steps


@pytest_asyncio.fixture(loop_scope="session")
async def idle_backends(pg_url):
    """Two connections idle in a transaction for longer than :data:`IDLE_S`; yields them with their pids."""
    conns = [await psycopg.AsyncConnection.connect(pg_url, application_name="test-idle-in-transaction") for _ in range(2)]
    for c in conns:
        await c.execute("SELECT 1")  # psycopg opens the transaction: idle in transaction from here
    await asyncio.sleep(IDLE_S + 0.5)
    try:
        yield [(c, c.info.backend_pid) for c in conns]
    finally:
        for c in conns:
            await c.close()


async def _alive(conn) -> bool:
    try:
        await conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


async def test_connection_pool_runbook_finds_idle_in_transaction_backends_and_terminates_them_only_once_confirmed(
        worker, db, idle_backends):
    wid = await _start(worker, Runbook.CONNECTION_POOL, idle_in_transaction_min_s=IDLE_S)
    state = await until(worker, wid, waiting)
    found = {b["pid"] for b in state.steps[0].findings["idle_in_transaction"]}
    assert {pid for _, pid in idle_backends} <= found
    pending = state.awaiting()
    assert pending.kind == "remediation" and all(str(pid) in pending.proposal for _, pid in idle_backends)
    # not before: the backends are still there while the step waits
    async with db.session() as s:
        alive = set((await s.exec(text("SELECT pid FROM pg_stat_activity WHERE pid = ANY(:p)").bindparams(
            p=[pid for _, pid in idle_backends]))).scalars().all())
    assert alive == {pid for _, pid in idle_backends}
    await worker.get_workflow_handle(wid).signal(SIGNAL_CONFIRM, RunbookDecision(by="dba@bank.example", reason="pool exhausted"))
    state = await finished(worker, wid)
    assert state.status == RunbookStatus.COMPLETED, state
    step = next(s for s in state.steps if s.kind == "remediation")
    assert (step.status, step.decided_by, step.reason) == (RunbookStepStatus.DONE, "dba@bank.example", "pool exhausted")
    assert {pid for _, pid in idle_backends} <= set(step.result["terminated"])
    for conn, _ in idle_backends:
        assert not await _alive(conn)
    run, steps = await _stored(db, wid)
    assert run.status == RunbookStatus.COMPLETED and run.report["actions"][0]["decided_by"] == "dba@bank.example"
    assert [s.status for s in steps][-2:] == [RunbookStepStatus.DONE, RunbookStepStatus.DONE]
    async with db.session() as s:
        actions = (await s.exec(text("SELECT action FROM audit_events WHERE subject = :id ORDER BY id").bindparams(id=wid))).scalars().all()
    assert "runbook.confirmation_requested" in actions and "runbook.step.confirmed" in actions and actions[-1] == "runbook.completed"


async def test_a_skipped_or_unanswered_remediation_changes_nothing(worker, db, idle_backends):
    wid = await _start(worker, Runbook.CONNECTION_POOL, idle_in_transaction_min_s=IDLE_S)
    await until(worker, wid, waiting)
    handle = worker.get_workflow_handle(wid)
    await handle.signal(SIGNAL_CONFIRM, RunbookDecision(by="", reason="no name"))  # ignored: who is required
    await handle.signal(SIGNAL_SKIP, RunbookDecision(by="dba@bank.example", reason="investigating first"))
    state = await finished(worker, wid)
    step = next(s for s in state.steps if s.kind == "remediation")
    assert (step.status, step.decided_by) == (RunbookStepStatus.SKIPPED, "dba@bank.example")
    assert all([await _alive(c) for c, _ in idle_backends])

    started = await start_runbook(worker, Runbook.CONNECTION_POOL, uuid.uuid4().hex[:8], RunbookInput(
        params={"idle_in_transaction_min_s": IDLE_S}, started_by="ops", confirm_timeout_s=3.0, escalate_after_s=1.0))
    state = await until(worker, started.workflow_id, lambda s: s.awaiting() is not None
                         and s.awaiting().status == RunbookStepStatus.ESCALATED)
    state = await finished(worker, started.workflow_id)
    step = next(s for s in state.steps if s.kind == "remediation")
    assert step.status == RunbookStepStatus.TIMED_OUT and step.decided_by is None
    assert all([await _alive(c) for c, _ in idle_backends])
    async with db.session() as s:
        actions = (await s.exec(text("SELECT action FROM audit_events WHERE subject = :id").bindparams(
            id=started.workflow_id))).scalars().all()
    assert "runbook.escalated" in actions and "runbook.step.timed_out" in actions


async def test_slow_search_runbook_finds_the_dropped_hnsw_index_and_recreates_it_after_confirmation(worker, db, pg_url):
    index = "ix_agents_embedding_hnsw"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        definition = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (index,)).fetchone()[0]
        conn.execute(f"DROP INDEX {index}")
    try:
        wid = await _start(worker, Runbook.SLOW_SEARCH)
        state = await until(worker, wid, waiting)
        before = state.steps[0].findings
        assert (before["exists"], before["used_by_plan"]) == (False, False)
        with psycopg.connect(pg_url) as conn:  # not before
            assert conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", (index,)).fetchone() is None
        await worker.get_workflow_handle(wid).signal(SIGNAL_CONFIRM, RunbookDecision(by="dba@bank.example", reason="search slow"))
        state = await finished(worker, wid, timeout_s=300)
        assert state.status == RunbookStatus.COMPLETED, state
        rebuilt = next(s for s in state.steps if s.kind == "remediation")
        assert rebuilt.result["action"] == "created" and rebuilt.result["valid"]
        assert state.steps[-1].findings["exists"] and state.steps[-1].findings["valid"]
        with psycopg.connect(pg_url) as conn:
            row = conn.execute("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                               "WHERE c.relname = %s", (index,)).fetchone()
        assert row == (True,)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", (index,)).fetchone() is None:
                conn.execute(definition)


@pytest.fixture
def daily_window(auto_runbooks, monkeypatch):
    """Automatic starts on, and an error-rate window of a day: both checks of the test fall in one window."""
    monkeypatch.setenv("SHIPWAY_ERROR_RATE_WINDOW_S", "86400")
    get_settings.cache_clear()


async def test_an_error_rate_breach_and_new_dead_letters_start_their_runbooks_once(daily_window, worker, db):
    from activities import webhook_deliveries
    from shipway.settings import CONTROL_TASK_QUEUE

    agent = f"flaky-{uuid.uuid4().hex[:6]}"
    async with db.session() as s:
        s.add(Agent(name=agent, owner="team", template="custom", description="flaky test agent", status=VersionStatus.LIVE))
        await s.commit()
    await record_runs(db, agent, 1, failed=4, succeeded=6)
    await webhook_deliveries.record(db, source="jira", identifier=f"dl-{uuid.uuid4().hex}", outcome=WebhookOutcome.DEAD_LETTER,
                                    detail="workflow not found", body="{}", signature_valid=True)

    async def check() -> list[StartedRunbook]:
        return await worker.execute_workflow(RUNBOOK_TRIGGERS_WORKFLOW, CheckRunbookTriggers(), id=f"triggers-{uuid.uuid4().hex}",
                                             task_queue=CONTROL_TASK_QUEUE, result_type=list[StartedRunbook])

    first = {s.workflow_id.rsplit(":", 1)[0]: s for s in await check()}
    high, dead = f"runbook:{Runbook.HIGH_ERROR_RATE}:{agent}", f"runbook:{Runbook.WEBHOOK_FAILURES}:dead-letters"
    assert first[high].started and dead in first
    high, dead = first[high].workflow_id, first[dead].workflow_id
    state = await finished(worker, high)
    assert (state.trigger, state.params["agent"], state.status) == (RunbookTrigger.ERROR_RATE, agent, RunbookStatus.COMPLETED)
    assert state.steps[0].findings["rows"][0]["errors"] == 4 and "4 of 10 runs failed" in state.reason
    # no deployment of this agent to roll back: nothing to change
    assert [s.status for s in state.steps if s.kind == "remediation"] == [RunbookStepStatus.NOT_NEEDED]
    again = {s.workflow_id: s for s in await check()}
    assert not again[high].started  # the breach lasts: one run per agent and window, not one per check
    for wid in (high, dead):
        try:
            await worker.get_workflow_handle(wid).terminate("test over")
        except RPCError:  # it had ended already
            pass


async def test_high_error_rate_runbook_sends_the_traffic_back_to_the_stable_version_once_confirmed(worker, db):
    from activities.audit_log import AuditActivities
    from activities.deployments import DeploymentActivities
    from activities.traffic import TrafficActivities
    from shipway import queries
    from workflows.statuses import DeploymentState
    from workflows.types import AuditRecord, DeploymentRecord, TrafficUpdate

    agent = f"regressed-{uuid.uuid4().hex[:6]}"
    deployments, audit, traffic = DeploymentActivities(db), AuditActivities(db), TrafficActivities(db)
    # v1 went live, then v2 replaced it (all at once); v2 fails 8 runs in 10
    for version, stable in ((1, None), (2, 1)):
        await audit.record_audit(AuditRecord("shipway", "deployment.started", f"agent:{agent}:v{version}",
                                             {"strategy": "AllAtOnce", "stable": stable}))
        await deployments.record_deployment(DeploymentRecord(agent, version, "AllAtOnce", "local", f"deploy:{agent}:v{version}",
                                                             DeploymentState.SUCCEEDED, 100.0))
        await traffic.set_traffic(TrafficUpdate(agent, {str(version): 100.0}))
    await record_runs(db, agent, 2, failed=8, succeeded=2)

    wid = await _start(worker, Runbook.HIGH_ERROR_RATE, agent=agent)
    state = await until(worker, wid, waiting)
    pending = state.awaiting()
    assert pending.name == "roll back to v1" and "100% of" in pending.proposal, pending
    assert {w.version: w.weight_pct for w in await db.read(queries.traffic, agent)} == {2: 100.0}  # not before
    await worker.get_workflow_handle(wid).signal(SIGNAL_CONFIRM, RunbookDecision(by="sre@bank.example", reason="v2 regressed"))
    state = await finished(worker, wid)
    assert state.status == RunbookStatus.COMPLETED and "8/10 runs failed" in state.summary, state
    assert {w.version: w.weight_pct for w in await db.read(queries.traffic, agent)} == {1: 100.0}
