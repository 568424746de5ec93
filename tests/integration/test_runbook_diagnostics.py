"""The runbooks' diagnostic and remediation activities on a real PostgreSQL 18 (and Temporal where a
replay signals a workflow), called directly as the runbook workflows call them.

Covered: idle-in-transaction backends a test holds open are found (also as the workers' role, which
needs migration 0017) and only they are terminated, not a busy one, one that became active, or one
too young; a dropped HNSW index is found missing, recreated with the migration's definition and used
again, an invalid one is rebuilt, a valid one reindexed; error rates over known runs; recent
deployments written by the deployment, canary, traffic and audit activities; dead letters recorded
through ``webhook_deliveries.record`` counted, and a replayable one re-driven to ``signalled`` so that
its lifecycle goes live. Every result also goes through Temporal's data converter, as it would
between a worker and a workflow.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import uuid
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import pytest_asyncio
from sqlmodel import update
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from activities import webhook_deliveries
from activities.audit_log import AuditActivities
from activities.canary import CanaryActivities
from activities.db_health import DbHealthActivities
from activities.deployments import DeploymentActivities
from activities.run_health import RunHealthActivities
from activities.search_health import HNSW_INDEX, SearchHealthActivities
from activities.traffic import TrafficActivities
from activities.webhook_health import WebhookHealthActivities
from shipway import control, queries
from shipway.db.engine import Database
from shipway.db.models import ApprovalRequest, Run, utcnow
from shipway.settings import CONTROL_TASK_QUEUE, get_settings
from tests.support.lifecycle import APPROVER, counting_spec, submit, wait_for_step
from tests.support.workers import running_workers
from workflows.diagnostics_types import (
    ConnectionsCheck,
    ConnectionsReport,
    DeploymentsCheck,
    DeploymentsReport,
    ErrorRateCheck,
    ErrorRateReport,
    RebuildSearchIndex,
    RebuiltSearchIndex,
    ReplayDeadLetters,
    ReplayedDeadLetters,
    SearchIndexCheck,
    SearchIndexReport,
    TerminateBackends,
    TerminatedBackends,
    WebhookFailuresCheck,
    WebhookFailuresReport,
)
from workflows.statuses import DeploymentState, LifecycleStep, RunStatus, VersionStatus, WebhookOutcome
from workflows.types import AuditRecord, CanaryAnalysisInput, CanaryThresholds, DeploymentRecord, TrafficUpdate

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Below a few thousand agents the planner prefers a sequential scan to the HNSW index (measured: used
# at 3,000 agents, not at 1,000), so the search test holds this many.
SEARCH_AGENTS = 3000


@pytest_asyncio.fixture(loop_scope="session")
async def platform_db(pg_url):
    """The database as the workers use it: acting as ``shipway_platform``."""
    async with Database(pg_url, pool_size=2, role="shipway_platform") as database:
        yield database


async def _over_the_wire(value, cls):
    """``value`` after Temporal's default data converter encoded and decoded it as ``cls``."""
    [back] = await DataConverter.default.decode(await DataConverter.default.encode([value]), [cls])
    assert back == value
    return back


async def _until(check, what: str, timeout_s: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return result


async def _state(admin: psycopg.AsyncConnection, pid: int) -> str | None:
    row = await (await admin.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,))).fetchone()
    return row[0] if row else None


# -- Connection-pool exhaustion ------------------------------------------------------------------------
async def test_idle_in_transaction_backends_are_found_and_only_they_are_terminated(pg_url, db, platform_db):
    admin = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
    idle = [await psycopg.AsyncConnection.connect(pg_url, application_name="h2-idle") for _ in range(2)]
    aborted = await psycopg.AsyncConnection.connect(pg_url, application_name="h2-aborted")
    turncoat = await psycopg.AsyncConnection.connect(pg_url, application_name="h2-turncoat")
    young = await psycopg.AsyncConnection.connect(pg_url, application_name="h2-young")
    busy = await psycopg.AsyncConnection.connect(pg_url, autocommit=True, application_name="h2-busy")
    held = [*idle, aborted, turncoat, young]
    sleeps: list[asyncio.Task] = []
    try:
        for conn in held:
            await conn.execute("SELECT 1")  # BEGIN; SELECT 1; and hold the transaction open
        with pytest.raises(psycopg.errors.DivisionByZero):
            await aborted.execute("SELECT 1 / 0")  # a failed transaction nobody rolled back
        sleeps.append(asyncio.create_task(busy.execute("SELECT pg_sleep(60)")))
        await _until(lambda: _is(admin, busy.info.backend_pid, "active"), "the busy backend to be active")
        held_pids = {c.info.backend_pid for c in held}

        report = await DbHealthActivities(platform_db).inspect_connections(ConnectionsCheck(0.0, 0.0))
        report = await _over_the_wire(report, ConnectionsReport)
        assert {b.pid for b in report.idle_in_transaction} == held_pids
        states = {b.pid: (b.state, b.query) for b in report.idle_in_transaction}
        assert states.pop(aborted.info.backend_pid) == ("idle in transaction (aborted)", "SELECT 1 / 0")
        assert set(states.values()) == {("idle in transaction", "SELECT 1")}
        assert all(b.xact_age_s >= 0 and b.state_age_s >= 0 and b.user == "postgres" for b in report.idle_in_transaction)
        assert busy.info.backend_pid in {b.pid for b in report.long_running}
        assert (report.by_application["h2-idle"], report.by_application["h2-busy"]) == (2, 1)
        assert report.by_state["idle in transaction"] == 4 and "unknown" not in report.by_state  # pg_read_all_stats (0017)
        assert report.by_state["idle in transaction (aborted)"] == 1
        assert report.usage == pytest.approx(report.total / report.max_connections) and report.cluster_total > report.total
        # the login role sees the same
        as_login = await DbHealthActivities(db).inspect_connections(ConnectionsCheck(0.0, 0.0))
        assert {b.pid for b in as_login.idle_in_transaction} == held_pids

        # between inspection and confirmation one backend got busy again
        sleeps.append(asyncio.create_task(turncoat.execute("SELECT pg_sleep(60)")))
        await _until(lambda: _is(admin, turncoat.info.backend_pid, "active"), "the turncoat to be active")
        await asyncio.sleep(0.5)  # so the held transactions are older than the young one's threshold below
        victims = [*idle, aborted]
        pids = [c.info.backend_pid for c in victims] + [turncoat.info.backend_pid, busy.info.backend_pid, 2**31 - 1]
        done = await DbHealthActivities(platform_db).terminate_backends(TerminateBackends(pids=pids, min_xact_age_s=0.2))
        done = await _over_the_wire(done, TerminatedBackends)
        assert sorted(done.terminated) == sorted(c.info.backend_pid for c in victims)
        assert "state is now 'active'" in done.skipped[str(turncoat.info.backend_pid)]
        assert "state is now 'active'" in done.skipped[str(busy.info.backend_pid)]
        assert "no such backend" in done.skipped[str(2**31 - 1)]
        for conn in victims:
            with pytest.raises(psycopg.OperationalError, match="terminat"):
                await conn.execute("SELECT 1")
        assert await _state(admin, busy.info.backend_pid) == "active"
        assert await _state(admin, turncoat.info.backend_pid) == "active"

        too_young = await DbHealthActivities(db).terminate_backends(TerminateBackends(pids=[young.info.backend_pid],
                                                                                      min_xact_age_s=3600))
        assert too_young.terminated == [] and "under 3600 s" in too_young.skipped[str(young.info.backend_pid)]
        assert (await (await young.execute("SELECT 2")).fetchone()) == (2,)  # untouched, still in its transaction
    finally:
        for conn in (busy, turncoat):
            await admin.execute("SELECT pg_cancel_backend(%s)", (conn.info.backend_pid,))
        await asyncio.gather(*sleeps, return_exceptions=True)
        for conn in (*held, busy, admin):
            await conn.close()


async def _is(admin: psycopg.AsyncConnection, pid: int, state: str) -> bool:
    return await _state(admin, pid) == state


def _as(url: str, user: str) -> str:
    """``url`` logging in as ``user``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}:{parts.port}"))


async def test_a_login_role_that_is_no_superuser_terminates_other_logins_backends_but_not_a_superusers(pg_url):
    """As on RDS, where the login role is no superuser: through ``shipway_platform`` (it is a member,
    as the migrating role is) it sees and may terminate another login's backends (0017), and
    PostgreSQL refuses it a superuser's."""
    tag = uuid.uuid4().hex[:6]
    ops, app = f"h2_ops_{tag}", f"h2_app_{tag}"
    admin = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
    await admin.execute(f"CREATE ROLE {ops} LOGIN; GRANT shipway_platform TO {ops}; CREATE ROLE {app} LOGIN")
    conns: list[psycopg.AsyncConnection] = []
    try:
        for url in (_as(pg_url, app), pg_url):
            conns.append(await psycopg.AsyncConnection.connect(url, application_name="h2-other-login"))
            await conns[-1].execute("SELECT 1")
        other, superuser = conns
        async with Database(_as(pg_url, ops), pool_size=1, role="shipway_platform") as db:
            acts = DbHealthActivities(db)
            seen = await acts.inspect_connections(ConnectionsCheck(0.0, 0.0))
            assert {(b.pid, b.user) for b in seen.idle_in_transaction} >= {(other.info.backend_pid, app),
                                                                           (superuser.info.backend_pid, "postgres")}
            done = await acts.terminate_backends(TerminateBackends(pids=[other.info.backend_pid, superuser.info.backend_pid]))
        assert done.terminated == [other.info.backend_pid]
        assert "permission denied" in done.skipped[str(superuser.info.backend_pid)]
        assert "SUPERUSER" in done.skipped[str(superuser.info.backend_pid)]
        with pytest.raises(psycopg.OperationalError, match="terminat"):
            await other.execute("SELECT 1")
        assert (await (await superuser.execute("SELECT 3")).fetchone()) == (3,)
    finally:
        for conn in conns:
            await conn.close()
        await admin.execute(f"SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename IN ('{ops}', '{app}')")
        await admin.execute(f"DROP ROLE {ops}; DROP ROLE {app}")
        await admin.close()


# -- Slow semantic search --------------------------------------------------------------------------------
def _unit_vector(rng: random.Random) -> str:
    v = [rng.gauss(0, 1) for _ in range(384)]
    norm = math.sqrt(sum(x * x for x in v))
    return "[" + ",".join(f"{x / norm:.6f}" for x in v) + "]"


async def test_a_dropped_hnsw_index_is_found_recreated_and_used_again(pg_url, platform_db):
    prefix = f"h2-search-{uuid.uuid4().hex[:6]}-"
    rng = random.Random(14)
    admin = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
    definition = (await (await admin.execute("SELECT pg_get_indexdef(%s::regclass)", (HNSW_INDEX,))).fetchone())[0]
    acts = SearchHealthActivities(platform_db)
    try:
        async with admin.cursor() as cur:
            async with cur.copy("COPY agents (name, owner, template, description, embedding, created_at) FROM STDIN") as copy:
                for i in range(SEARCH_AGENTS):
                    await copy.write_row((f"{prefix}{i}", "olivia.owner@bank.example", "fraud_detection",
                                          "Scores card payments for fraud.", _unit_vector(rng), utcnow()))
        await admin.execute("ANALYZE agents")

        healthy = await acts.inspect_search_index(SearchIndexCheck())
        assert (healthy.exists, healthy.valid, healthy.used_by_plan, healthy.usable) == (True, True, True, True)
        assert healthy.agents >= SEARCH_AGENTS and healthy.index_bytes > 0 and f"Index Scan using {HNSW_INDEX}" in healthy.plan
        assert healthy.execution_ms > 0 and healthy.shared_hit + healthy.shared_read > 0

        await admin.execute(f"DROP INDEX {HNSW_INDEX}")
        missing = await _over_the_wire(await acts.inspect_search_index(SearchIndexCheck()), SearchIndexReport)
        assert (missing.exists, missing.valid, missing.used_by_plan, missing.usable) == (False, False, False, False)
        assert missing.index_bytes is None
        assert "Seq Scan on agents" in missing.plan and HNSW_INDEX not in missing.plan

        rebuilt = await _over_the_wire(await acts.rebuild_search_index(RebuildSearchIndex()), RebuiltSearchIndex)
        assert (rebuilt.action, rebuilt.valid) == ("created", True) and rebuilt.duration_s > 0
        assert (await (await admin.execute("SELECT pg_get_indexdef(%s::regclass)", (HNSW_INDEX,))).fetchone())[0] == definition
        after = await acts.inspect_search_index(SearchIndexCheck())
        assert (after.exists, after.valid, after.used_by_plan) == (True, True, True)

        # the leftover of a failed concurrent build: present, invalid, never used
        await admin.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", (HNSW_INDEX,))
        invalid = await acts.inspect_search_index(SearchIndexCheck())
        assert (invalid.exists, invalid.valid, invalid.used_by_plan, invalid.usable) == (True, False, False, False)
        assert (await acts.rebuild_search_index(RebuildSearchIndex())).action == "created"
        again = await acts.rebuild_search_index(RebuildSearchIndex())
        assert (again.action, again.valid) == ("reindexed", True)
        assert (await acts.inspect_search_index(SearchIndexCheck())).used_by_plan

        with pytest.raises(ApplicationError) as refused:
            await acts.rebuild_search_index(RebuildSearchIndex(index_name="agents_pkey"))
        assert refused.value.type == "UnknownIndex"
    finally:
        # other tests share this database: leave the index as migration 0013 made it
        row = await (await admin.execute("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
                                         (HNSW_INDEX,))).fetchone()
        if row is None or not row[0]:
            await admin.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")
            await admin.execute(definition)
        await admin.execute("DELETE FROM agents WHERE name LIKE %s", (prefix + "%",))
        await admin.close()


# -- High error rate -------------------------------------------------------------------------------------
async def _runs(db, agent: str, version: int, *rows: tuple[RunStatus, float | None, str | None], ago_s: float = 60.0) -> None:
    """Run rows of ``agent`` v``version`` as the run activities leave them: (status, latency ms, error)."""
    started = utcnow() - timedelta(seconds=ago_s)
    async with db.session() as s:
        for status, latency_ms, error in rows:
            run_id = str(uuid.uuid4())
            s.add(Run(id=run_id, agent_name=agent, version=version, thread_id=run_id, status=status, error=error,
                      workflow_id=f"run:{run_id}", started_at=started, latency_ms=latency_ms,
                      finished_at=None if status in (RunStatus.RUNNING, RunStatus.INTERRUPTED) else started))
        await s.commit()


def _p95(values: list[float]) -> float:
    """PostgreSQL's percentile_cont(0.95): linear interpolation between the closest ranks."""
    values, pos = sorted(values), 0.95 * (len(values) - 1)
    low = math.floor(pos)
    return values[low] + (values[min(low + 1, len(values) - 1)] - values[low]) * (pos - low)


async def test_error_rates_count_failed_runs_per_version_and_not_guard_stops(db, platform_db):
    agent, other = f"h2-rates-{uuid.uuid4().hex[:6]}", f"h2-other-{uuid.uuid4().hex[:6]}"
    S, F = RunStatus.SUCCEEDED, RunStatus.FAILED
    v1_latencies = [100.0 * (i + 1) for i in range(10)]
    await _runs(db, agent, 1, *[(S, ms, None) for ms in v1_latencies[:8]], (F, v1_latencies[8], "TimeoutError: tool call"),
                (RunStatus.BUDGET_EXCEEDED, v1_latencies[9], None), (RunStatus.BLOCKED, None, "input blocked"),
                (RunStatus.WITHHELD, 50.0, None), (RunStatus.RUNNING, None, None), (RunStatus.INTERRUPTED, None, None))
    await _runs(db, agent, 2, (S, 120.0, None), (S, 130.0, None), (S, 140.0, None),
                (F, 900.0, "KeyError: 'amount'\nTraceback (most recent call last): ..."), (F, 950.0, "KeyError: 'amount'\nother"),
                (F, 990.0, "ValueError: negative amount"), (F, 999.0, "RuntimeError: model down"), (F, 1000.0, ""))
    await _runs(db, agent, 2, *[(F, 10.0, "old failure")] * 5, ago_s=7200)  # outside the window
    await _runs(db, other, 1, (F, 10.0, "boom"))
    acts = RunHealthActivities(platform_db)

    report = await _over_the_wire(await acts.error_rates(ErrorRateCheck(window_s=900, agent_name=agent)), ErrorRateReport)
    assert report.window_s == 900 and [(r.version, r.runs, r.errors) for r in report.rows] == [(2, 8, 5), (1, 10, 1)]
    v2, v1 = report.rows
    assert v2.error_rate == pytest.approx(5 / 8) and v1.error_rate == pytest.approx(0.1)
    assert v2.top_errors == ["2× KeyError: 'amount'", "1× (no message)", "1× RuntimeError: model down"]
    assert v1.top_errors == ["1× TimeoutError: tool call"] and (v1.violations, v2.violations) == (2, 0)
    assert v1.p95_latency_ms == pytest.approx(_p95(v1_latencies))
    assert v2.p95_latency_ms == pytest.approx(_p95([120.0, 130.0, 140.0, 900.0, 950.0, 990.0, 999.0, 1000.0]))

    at_least_9 = await acts.error_rates(ErrorRateCheck(window_s=900, agent_name=agent, min_runs=9))
    assert [r.version for r in at_least_9.rows] == [1]
    everyone = await acts.error_rates(ErrorRateCheck(window_s=900))
    assert {(r.agent_name, r.version) for r in everyone.rows} >= {(agent, 1), (agent, 2), (other, 1)}
    wider = await acts.error_rates(ErrorRateCheck(window_s=3 * 3600, agent_name=agent))
    assert [(r.version, r.runs, r.errors) for r in wider.rows] == [(2, 13, 10), (1, 10, 1)]


# -- Failed deployment -------------------------------------------------------------------------------------
async def test_recent_deployments_show_the_rollback_its_analysis_the_stable_version_and_the_traffic(db, platform_db):
    agent = f"h2-deploy-{uuid.uuid4().hex[:6]}"
    deployments, audit = DeploymentActivities(platform_db), AuditActivities(platform_db)
    traffic = TrafficActivities(platform_db)
    canary, first, wf = "Canary10Percent5Minutes", f"deploy:{agent}:v1", f"deploy:{agent}:v2"
    # v1 went live all at once, with nothing before it
    await audit.record_audit(AuditRecord("shipway", "deployment.started", f"agent:{agent}:v1", {"strategy": "AllAtOnce", "stable": None}))
    await deployments.record_deployment(DeploymentRecord(agent, 1, "AllAtOnce", "local", first, DeploymentState.SUCCEEDED, 100.0))
    await traffic.set_traffic(TrafficUpdate(agent, {"1": 100.0}))
    # v2's canary failed 3 of its 4 runs and was rolled back
    since = utcnow() - timedelta(seconds=5)
    await audit.record_audit(AuditRecord("shipway", "deployment.started", f"agent:{agent}:v2", {"strategy": canary, "stable": 1}))
    await deployments.record_deployment(DeploymentRecord(agent, 2, canary, "local", wf, DeploymentState.IN_PROGRESS, 10.0))
    await traffic.set_traffic(TrafficUpdate(agent, {"2": 10.0, "1": 90.0}))
    await _runs(db, agent, 1, *[(RunStatus.SUCCEEDED, 100.0, None)] * 4, ago_s=1)
    await _runs(db, agent, 2, (RunStatus.SUCCEEDED, 100.0, None), *[(RunStatus.FAILED, 100.0, "KeyError")] * 3, ago_s=1)
    analysis = await CanaryActivities(platform_db).analyze_canary(CanaryAnalysisInput(
        agent, 2, 1, since.isoformat(), thresholds=CanaryThresholds(min_runs=2), step_index=0, weight_pct=10.0,
        analysis_index=1, workflow_id=wf))
    assert analysis.breach
    await traffic.set_traffic(TrafficUpdate(agent, {"1": 100.0}))
    why = "; ".join(analysis.reasons)
    await deployments.record_deployment(DeploymentRecord(agent, 2, canary, "local", wf, DeploymentState.ROLLED_BACK, 0.0, why))

    report = await _over_the_wire(await RunHealthActivities(platform_db).recent_deployments(DeploymentsCheck(agent_name=agent)),
                                  DeploymentsReport)
    assert [(d.deployment_id, d.version, d.state) for d in report.rows] == [(wf, 2, "rolled_back"), (first, 1, "succeeded")]
    v2, v1 = report.rows
    assert (v2.stable_version, v1.stable_version) == (1, None)
    assert v2.traffic == v1.traffic == {"1": 100.0}
    assert v2.detail == why and v2.finished_at is not None and v2.strategy == canary
    [step] = v2.analyses
    assert (step["step"], step["weight_pct"], step["verdict"], step["baseline_version"]) == (0, 10.0, "breach", 1)
    assert (step["canary_error_rate"], step["baseline_error_rate"]) == (pytest.approx(0.75), 0.0)
    assert step["reasons"] == analysis.reasons and {m["metric"] for m in step["metrics"]} >= {"error_rate", "p99_latency"}
    assert v1.analyses == []
    only_newest = await RunHealthActivities(platform_db).recent_deployments(DeploymentsCheck(agent_name=agent, limit=1))
    assert [d.version for d in only_newest.rows] == [2]
    nothing_recent = await RunHealthActivities(platform_db).recent_deployments(DeploymentsCheck(agent_name=agent, since_s=0.001))
    assert nothing_recent.rows == []


# -- Webhook failures ----------------------------------------------------------------------------------------
def _approve_body(key: str, account: str) -> str:
    """A Jira ``jira:issue_updated`` webhook body moving ``key`` to Approved as ``account``."""
    return json.dumps({"webhookEvent": "jira:issue_updated", "user": {"accountId": account, "displayName": account},
                       "issue": {"key": key, "fields": {"status": {"name": "Approved"}}},
                       "changelog": {"items": [{"field": "status", "fromString": "Awaiting approval", "toString": "Approved"}]},
                       "comment": {"body": "approved while the gateway was misrouted"}})


async def _dead_letter(db, body: str, detail: str, **fields) -> int:
    """A delivery that verified but could not be signalled, as the gateway records it."""
    return await webhook_deliveries.record(db, source="jira", identifier=str(uuid.uuid4()), signature_valid=True,
                                           outcome=WebhookOutcome.DEAD_LETTER, body=body, body_bytes=len(body),
                                           body_sha256=hashlib.sha256(body.encode()).hexdigest(), detail=detail,
                                           attempts=1, **fields)


async def test_dead_letters_are_counted_and_a_replayable_one_is_signalled(settings_env, temporal_env, db, platform_db,
                                                                          monkeypatch):
    monkeypatch.setenv("SHIPWAY_JIRA_USERS", json.dumps({"acct-carol": APPROVER}))
    get_settings.cache_clear()
    async with running_workers(temporal_env.client, [CONTROL_TASK_QUEUE]) as client:
        name, version = await submit(client, db, counting_spec())
        await wait_for_step(client, name, version, LifecycleStep.APPROVAL)
        await _until(lambda: db.read(queries.approval_request, name, version), "the approval request")
        key = f"APPR-{uuid.uuid4().hex[:6]}"
        async with db.session() as s:  # the issue Shipway would have opened, were Jira configured here
            moved = await s.exec(update(ApprovalRequest).where(ApprovalRequest.agent_name == name).values(jira_key=key))
            assert moved.rowcount == 1
            await s.commit()
        acts = WebhookHealthActivities(platform_db, client, get_settings())
        before = await acts.webhook_failures(WebhookFailuresCheck(since_s=3600))

        wid = f"agent:{name}:v{version}"
        replayable = await _dead_letter(db, _approve_body(key, "acct-carol"), f"could not signal {wid}: namespace not found",
                                        issue_key=key, workflow_id=wid, decision="approve")
        stray = await _dead_letter(db, _approve_body("APPR-NOPE", "acct-carol"), "could not signal: Temporal unreachable")
        for outcome in (WebhookOutcome.FORGED, WebhookOutcome.UNSIGNED, WebhookOutcome.FORGED):
            await webhook_deliveries.record(db, source="jira", signature_valid=False, outcome=outcome,
                                            detail="refused before reading")

        found = await _over_the_wire(await acts.webhook_failures(WebhookFailuresCheck(since_s=3600)), WebhookFailuresReport)
        assert found.dead_letters == before.dead_letters + 2 and found.dead_letter_ids[-2:] == [replayable, stray]
        assert found.by_detail[f"could not signal {wid}: namespace not found"] == 1
        assert found.forged_or_unsigned == before.forged_or_unsigned + 3
        assert found.outcomes_since["dead_letter"] == before.outcomes_since.get("dead_letter", 0) + 2
        assert found.outcomes_since["forged"] == before.outcomes_since.get("forged", 0) + 2
        assert found.oldest_at is not None

        replayed = await acts.replay_dead_letters(ReplayDeadLetters([replayable, stray], actor="oscar.ops@bank.example"))
        replayed = await _over_the_wire(replayed, ReplayedDeadLetters)
        assert [(r.id, r.outcome) for r in replayed.results] == [(replayable, "signalled"), (stray, "ignored")]
        assert replayed.results[0].detail == f"approve of {wid} as {APPROVER}"
        result = await control.wait_lifecycle(client, name, version)
        assert (result.status, result.approver) == (VersionStatus.LIVE, APPROVER)

        again = await acts.replay_dead_letters(ReplayDeadLetters(delivery_ids=[replayable]))
        assert [(r.outcome, r.detail) for r in again.results] == [("signalled", "not a dead letter: left alone")]
        assert len(await db.read(queries.approvals, name, version)) == 1  # signalled once
        replays = [e for e in await db.read(queries.audit_events, "webhook:jira", "webhook.replayed")
                   if e.detail["delivery"] == replayable]
        assert [(e.actor, e.detail["outcome"]) for e in replays] == [("oscar.ops@bank.example", "signalled")]
        assert (await acts.webhook_failures(WebhookFailuresCheck())).dead_letters == before.dead_letters
        assert (await acts.replay_dead_letters(ReplayDeadLetters(delivery_ids=[]))).results == []
        with pytest.raises(ApplicationError) as unknown:
            await acts.replay_dead_letters(ReplayDeadLetters(delivery_ids=[2**31 - 1]))
        assert unknown.value.type == "UnknownDelivery"
