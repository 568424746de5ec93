"""Cost governance on a real PostgreSQL and Temporal server: the price table an admin edits (CLI, in
a subprocess), the seed that never overwrites an admin's prices, migration 0011 on existing prices,
cost rollups computed by the real ``CostRollupWorkflow`` (and its schedule), daily budget alerts that
fire once per threshold, and the gateway's daily-budget hard stop (429) counted across tenants."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import psycopg
import pytest
from alembic import command
from prometheus_client import REGISTRY
from sqlalchemy import func
from sqlmodel import Session, select
from temporalio.client import ScheduleOverlapPolicy

from shipway import queries
from shipway.db.engine import role_options, sync_engine
from shipway.db.migrate import alembic_config, upgrade
from shipway.db.models import Agent, AuditEvent, CostRollup, LlmUsage, ModelPrice, Run
from shipway.gateway.app import create_app
from shipway.price_book import seed_prices
from shipway.pricing import ListPrice
from shipway.settings import CONTROL_TASK_QUEUE, get_settings
from tests.support.keys import bearer, make_key
from tests.support.lifecycle import deploy_counting
from workflows.statuses import RunStatus
from workflows.types import COST_ROLLUP_SCHEDULE, COST_ROLLUP_WORKFLOW, CostRollupRequest, CostRollupResult

pytestmark = pytest.mark.asyncio(loop_scope="session")
REPO = Path(__file__).resolve().parents[2]


async def _cli(*args: str) -> tuple[int, str, str]:
    """``shipway <args>`` in a subprocess (the CLI leaves through os._exit), without blocking the loop
    the in-process workers run on."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "shipway", *args, cwd=REPO, env=dict(os.environ),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    return proc.returncode, out.decode(), err.decode()


async def _seed_run(db, agent: str, tenant: str, started_at: datetime, cost_usd: float = 0.0, version: int = 1,
                    calls: list[tuple[str, int, int, float, datetime]] = ()) -> str:
    """A finished run row of ``agent`` (as the run activities write it) and its LLM calls
    ``(model, tokens_in, tokens_out, cost_usd, at)``; returns the run id."""
    run_id = str(uuid.uuid4())
    async with db.session() as s:
        s.add(Run(id=run_id, agent_name=agent, version=version, thread_id=run_id, tenant=tenant, status=RunStatus.SUCCEEDED,
                  workflow_id=f"run:{run_id}", started_at=started_at, finished_at=started_at, cost_usd=cost_usd,
                  tokens_in=sum(c[1] for c in calls), tokens_out=sum(c[2] for c in calls)))
        s.add_all([LlmUsage(run_id=run_id, model=m, tokens_in=ti, tokens_out=to, cost_usd=c, created_at=at) for m, ti, to, c, at in calls])
        await s.commit()
    return run_id


async def _rollup(client) -> CostRollupResult:
    return await client.execute_workflow(COST_ROLLUP_WORKFLOW, CostRollupRequest(), id=f"cost-rollup-test-{uuid.uuid4().hex[:8]}",
                                         task_queue=CONTROL_TASK_QUEUE, result_type=CostRollupResult)


def _events(subject: str, action: str) -> list[AuditEvent]:
    with Session(sync_engine()) as s:
        return queries.audit_events(s, subject, action)


# -- prices ----------------------------------------------------------------------------------------
async def test_an_admin_sets_prices_by_date_overlaps_are_refused_and_every_change_is_audited(settings_env):
    model = f"test-model-{uuid.uuid4().hex[:6]}"
    src = "https://vendor.example/pricing"
    rc, out, err = await _cli("prices", "set", model, "--input", "1", "--output", "2", "--from", "2026-01-01", "--source", src,
                              "--as", "alice.admin")
    assert rc == 0, err
    rc, out, err = await _cli("prices", "set", model, "--input", "3", "--output", "4", "--from", "2026-03-01", "--source", src,
                              "--read", "2026-02-20", "--as", "alice.admin")
    assert rc == 0, err
    assert f"closed {model} 1/2 USD: 2026-01-01 to 2026-02-28" in out

    # a price starting inside a closed range, or on/before the open one's start, is refused: nothing changes
    for start in ("2026-02-15", "2026-03-01"):
        rc, out, err = await _cli("prices", "set", model, "--input", "9", "--output", "9", "--from", start, "--source", src)
        assert rc == 2 and "already has a price from" in err, (out, err)
    rc, _, err = await _cli("prices", "set", model, "--input", "9", "--output", "9", "--from", "2027-01-01", "--source", src,
                            "--currency", "usd")
    assert rc == 2 and "ISO 4217" in err

    with Session(sync_engine()) as s:
        rows = [r for r in queries.price_rows(s) if r.model == model]
        assert [(r.effective_from, r.effective_to, r.input_usd_per_mtok, r.source_date) for r in rows] == [
            (date(2026, 1, 1), date(2026, 2, 28), 1.0, datetime.now(timezone.utc).date()), (date(2026, 3, 1), None, 3.0, date(2026, 2, 20))]
        assert all(r.source == src and r.updated_by == "alice.admin" and r.currency == "USD" for r in rows)
        # what runs are priced with: the price in effect today
        assert queries.model_prices(s)[model] == (3.0, 4.0)
        assert [r.input_usd_per_mtok for r in queries.price_rows(s, date(2026, 2, 28)) if r.model == model] == [1.0]
    rc, out, _ = await _cli("prices", "list", "--at", "2026-02-01")
    assert rc == 0 and model in out and src in out

    events = _events(f"price:{model}", "price.set")
    assert [e.detail["effective_from"] for e in events] == ["2026-01-01", "2026-03-01"]
    assert events[1].actor == "alice.admin" and events[1].detail["closed"] == {"effective_from": "2026-01-01", "effective_to": "2026-02-28"}

    # the database itself refuses an overlap a writer might miss (exclusion constraint)
    with psycopg.connect(settings_env.resolved_database_url()) as conn, pytest.raises(psycopg.errors.ExclusionViolation):
        conn.execute("INSERT INTO model_prices (model, effective_from, input_usd_per_mtok, output_usd_per_mtok, updated_by, "
                     "updated_at) VALUES (%s, '2026-02-01', 5, 5, 'sql', now())", (model,))


async def test_the_seed_adds_missing_prices_and_never_overwrites_an_admins(settings_env):
    seeded, admin = f"seeded-{uuid.uuid4().hex[:6]}", f"admins-{uuid.uuid4().hex[:6]}"

    def listed(model: str, price: float) -> ListPrice:
        return ListPrice("test", model, price, price, "USD", date(2025, 6, 1), None, "https://vendor.example/pricing", date(2025, 6, 1))

    rc, _, err = await _cli("prices", "set", admin, "--input", "7", "--output", "8", "--from", "2025-01-01", "--source", "contract 42")
    assert rc == 0, err
    with Session(sync_engine()) as s:
        assert seed_prices(s, [listed(seeded, 1.0), listed(admin, 1.0)]) == 1  # the admin's open price covers the list one
        s.commit()
        assert seed_prices(s, [listed(seeded, 2.0)]) == 0  # seeded before: left as it is
        s.commit()
        prices = queries.model_prices(s)
        assert prices[seeded] == (1.0, 1.0) and prices[admin] == (7.0, 8.0)
        # migrate seeded the shipped file; each of its prices names its source
        shipped = s.exec(select(ModelPrice).where(ModelPrice.model == "gpt-4.1-nano")).all()
        assert shipped and all(r.source and r.source_date for r in shipped)


@pytest.fixture
def fresh_db(pg_url: str):
    """A new, empty database on the session's server; dropped afterwards."""
    name = f"cost_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def test_0011_dates_existing_prices_from_early_on_and_downgrade_keeps_each_models_newest(fresh_db):
    command.upgrade(alembic_config(fresh_db), "0010")
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO model_prices VALUES ('gpt-4o-mini', 0.5, 0.9), ('in-house-llm', 1.0, 1.0)")
    upgrade(fresh_db)  # to head, then the seed
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        rows = conn.execute("SELECT model, effective_from, effective_to, input_usd_per_mtok, currency, source FROM model_prices "
                            "WHERE model IN ('gpt-4o-mini', 'in-house-llm', 'gpt-4o') ORDER BY model").fetchall()
        # the operator's existing prices stay in effect (from an early date, open); the seed skipped gpt-4o-mini
        assert rows == [("gpt-4o", date(2025, 6, 1), None, 2.5, "USD", "https://openai.com/api/pricing/"),
                        ("gpt-4o-mini", date(2000, 1, 1), None, 0.5, "USD", None),
                        ("in-house-llm", date(2000, 1, 1), None, 1.0, "USD", None)]
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO model_prices (model, effective_from, input_usd_per_mtok, output_usd_per_mtok, currency, "
                         "updated_by, updated_at) VALUES ('x', '2026-01-01', 1, 1, 'usd', 't', now())")
        conn.execute("UPDATE model_prices SET effective_to = '2026-05-31' WHERE model = 'in-house-llm'")
        conn.execute("INSERT INTO model_prices (model, effective_from, input_usd_per_mtok, output_usd_per_mtok, updated_by, updated_at) "
                     "VALUES ('in-house-llm', '2026-06-01', 2, 2, 't', now())")
    command.downgrade(alembic_config(fresh_db), "0010")
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT input_usd_per_mtok FROM model_prices WHERE model = 'in-house-llm'").fetchall() == [(2.0,)]
        assert conn.execute("SELECT to_regclass('cost_rollups'), to_regclass('budget_alerts')").fetchone() == (None, None)


# -- rollups ---------------------------------------------------------------------------------------
async def test_the_rollup_workflow_recomputes_today_and_yesterday_per_agent_version_tenant_model(worker, db):
    agent = f"rollup-{uuid.uuid4().hex[:8]}"
    now = datetime.now(timezone.utc)
    today, yesterday, old = now.date(), now.date() - timedelta(days=1), now.date() - timedelta(days=3)
    ago = now - timedelta(days=1)
    seeds = [  # (tenant, version, started_at, calls)
        ("bank-a", 1, now, [("gpt-4o-mini", 100, 50, 0.01, now), ("gpt-4o-mini", 100, 50, 0.01, now),
                            ("claude-sonnet-4", 200, 100, 0.05, now)]),
        ("bank-b", 1, now, [("gpt-4o-mini", 10, 5, 0.001, now)]),
        # a run that started yesterday and made a call on each day: each call counts on its own day
        ("bank-a", 2, ago, [("gpt-4o-mini", 1000, 500, 0.2, ago), ("gpt-4o-mini", 1, 1, 0.0001, now)]),
        ("bank-b", 2, now, []),  # no LLM call: model "-"
        ("bank-a", 1, now - timedelta(days=3), [("gpt-4o-mini", 5, 5, 0.5, now - timedelta(days=3))]),  # outside the days
    ]
    for tenant, version, started, calls in seeds:
        await _seed_run(db, agent, tenant, started, sum(c[3] for c in calls), version, calls)
    async with db.session() as s:
        s.add_all([CostRollup(day=today, agent_name=agent, version=1, tenant="bank-a", model="retired-model", runs=9, calls=9, cost_usd=9),
                   CostRollup(day=old, agent_name=agent, version=1, tenant="bank-a", model="kept", runs=1, calls=1, cost_usd=1)])
        await s.commit()

    result = await _rollup(worker)
    assert result.rollup_rows >= 6

    expected: dict[tuple, list] = defaultdict(lambda: [set(), 0, 0, 0, 0.0])
    for tenant, version, started, calls in seeds:
        if not calls and started.date() >= yesterday:
            expected[(started.date(), version, tenant, "-")] = [{started}, 0, 0, 0, 0.0]
        for model, tokens_in, tokens_out, cost, at in calls:
            if at.date() >= yesterday:
                row = expected[(at.date(), version, tenant, model)]
                row[0].add(started)
                row[1] += 1
                row[2] += tokens_in
                row[3] += tokens_out
                row[4] += cost
    async with db.session() as s:
        rows = await s.run_sync(queries.cost_rollups, yesterday, today, agent)
    got = {(r.day, r.version, r.tenant, r.model): [r.runs, r.calls, r.tokens_in, r.tokens_out, r.cost_usd, r.currency] for r in rows}
    assert got.keys() == expected.keys()  # the retired model's row of today is gone
    for key, (runs, calls, tokens_in, tokens_out, cost) in expected.items():
        assert got[key][:4] == [len(runs), calls, tokens_in, tokens_out], key
        assert got[key][4] == pytest.approx(cost) and got[key][5] == "USD", key
    async with db.session() as s:
        kept = await s.run_sync(queries.cost_rollups, old, old, agent)
    assert [(r.model, r.cost_usd) for r in kept] == [("kept", 1.0)]  # days outside the range are not touched

    # every LLM call of the two days, of every agent, is in the rollups: a direct aggregate agrees
    start, end = queries.utc_midnight(yesterday), queries.utc_midnight(today + timedelta(days=1))
    async with db.session() as s:
        direct = (await s.exec(select(func.count(), func.sum(LlmUsage.tokens_in), func.sum(LlmUsage.cost_usd))
                               .join(Run, Run.id == LlmUsage.run_id)
                               .where(LlmUsage.created_at >= start, LlmUsage.created_at < end))).one()
        rolled = (await s.exec(select(func.sum(CostRollup.calls), func.sum(CostRollup.tokens_in), func.sum(CostRollup.cost_usd))
                               .where(CostRollup.day >= yesterday, CostRollup.day <= today))).one()
    assert (int(rolled[0]), int(rolled[1])) == (direct[0], direct[1]) and rolled[2] == pytest.approx(direct[2])


async def test_the_schedule_starts_the_rollup_at_the_configured_interval(worker):
    handle = worker.get_schedule_handle(COST_ROLLUP_SCHEDULE)
    described = await handle.describe()
    assert described.schedule.spec.intervals[0].every == timedelta(seconds=get_settings().cost_rollup_every_s)
    assert described.schedule.action.workflow == COST_ROLLUP_WORKFLOW
    before = {a.action.workflow_id for a in described.info.recent_actions}
    await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    for _ in range(600):
        started = [a.action.workflow_id for a in (await handle.describe()).info.recent_actions if a.action.workflow_id not in before]
        if started:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the triggered schedule started no workflow")
    result = await worker.get_workflow_handle(started[0]).result(rpc_timeout=timedelta(seconds=120))
    assert isinstance(result, dict) and result["rollup_rows"] >= 0  # the schedule's start carries no result_type


# -- daily budgets ---------------------------------------------------------------------------------
async def test_daily_budget_alerts_fire_once_at_80_and_100_percent(worker, db):
    name = await deploy_counting(worker, db, daily_budget_usd=2.0)
    now = datetime.now(timezone.utc)
    await _seed_run(db, name, "bank-a", now, cost_usd=1.2)
    await _seed_run(db, name, "bank-b", now, cost_usd=0.5)  # every tenant's spend counts: 85%
    await _seed_run(db, name, "bank-a", now - timedelta(days=1), cost_usd=5.0)  # yesterday's does not

    first = await _rollup(worker)
    assert [(a.threshold_pct, a.spent_usd, a.budget_usd) for a in first.alerts if a.agent_name == name] == [(80, pytest.approx(1.7), 2.0)]
    assert REGISTRY.get_sample_value("shipway_agent_daily_budget_used_ratio", {"agent": name}) == pytest.approx(0.85)
    again = await _rollup(worker)  # a re-run fires nothing new
    assert not [a for a in again.alerts if a.agent_name == name]

    await _seed_run(db, name, "bank-a", now, cost_usd=0.5)  # 110%
    third = await _rollup(worker)
    assert [a.threshold_pct for a in third.alerts if a.agent_name == name] == [100]
    assert not [a for a in (await _rollup(worker)).alerts if a.agent_name == name]

    events = _events(f"agent:{name}", "budget.threshold_reached")
    assert [(e.actor, e.detail["pct"]) for e in events] == [("shipway", 80), ("shipway", 100)]
    assert events[1].detail["spent_usd"] == pytest.approx(2.2) and events[1].detail["budget_usd"] == 2.0
    with Session(sync_engine()) as s:
        use = next(u for u in queries.budget_usage(s) if u.agent == name)
    assert (use.alerts, use.hard_stop, use.budget_usd) == ([80, 100], False, 2.0)
    assert use.spent_usd == pytest.approx(2.2) and use.ratio == pytest.approx(1.1)

    rc, out, err = await _cli("costs", "show", "--days", "2", "--agent", name)
    assert rc == 0, err
    assert name in out and "alerts 80%, 100%" in out and "(110%)" in out


async def test_a_hard_stop_agent_over_budget_gets_429_a_soft_one_still_runs(worker, db, tmp_path):
    hard = await deploy_counting(worker, db, daily_budget_usd=1.0, daily_budget_hard_stop=True)
    soft = await deploy_counting(worker, db, daily_budget_usd=1.0)
    key = await make_key("bank-y", "operator")
    body = {"input": {"log_path": str(tmp_path / "log")}}
    app = create_app()
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                                   base_url="http://gateway", headers=bearer(key)) as http:
        assert (await http.post(f"/v1/agents/{hard}/runs?wait=true", json=body)).status_code == 200  # under budget

        # spend of another tenant, whose runs this key's tenant cannot see, counts against the agent's budget
        for agent in (hard, soft):
            await _seed_run(db, agent, "bank-x", datetime.now(timezone.utc), cost_usd=1.25)
        refused = await http.post(f"/v1/agents/{hard}/runs", json=body)
        assert refused.status_code == 429, refused.text
        detail = refused.json()["detail"]
        assert "daily budget" in refused.json()["error"]
        tomorrow = queries.utc_midnight(datetime.now(timezone.utc).date() + timedelta(days=1))
        assert detail["agent"] == hard and detail["budget_usd"] == 1.0 and detail["spent_usd"] == pytest.approx(1.25)
        assert datetime.fromisoformat(detail["resets_at"]) == tomorrow
        assert refused.headers["retry-after"] == str(detail["retry_after_s"]) and 1 <= detail["retry_after_s"] <= 86_400

        assert (await http.post(f"/v1/agents/{soft}/runs?wait=true", json=body)).status_code == 200  # over budget, no hard stop

    event = _events(f"agent:{hard}", "run.refused_budget")[-1]
    assert event.detail["spent_usd"] == pytest.approx(1.25) and event.actor.startswith("key:")
    with Session(sync_engine()) as s:
        assert s.exec(select(func.count()).select_from(Run).where(Run.agent_name == hard)).one() == 2  # the refused one never ran


async def test_the_spend_function_sums_every_tenant_only_for_agents_the_caller_may_see(pg_url):
    shared, private = f"shared-{uuid.uuid4().hex[:6]}", f"private-{uuid.uuid4().hex[:6]}"
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    with Session(sync_engine(pg_url)) as s:
        s.add_all([Agent(name=shared, owner="o", template="t"), Agent(name=private, owner="o", template="t", tenant="bank-z")])
        s.flush()
        s.add_all([Run(id=str(uuid.uuid4()), agent_name=a, version=1, thread_id=str(uuid.uuid4()), tenant=t, workflow_id="w",
                       status=RunStatus.SUCCEEDED, cost_usd=c)
                   for a, t, c in ((shared, "bank-y", 0.25), (shared, "bank-z", 1.0), (private, "bank-z", 2.0))])
        s.commit()

    def as_tenant(tenant: str, sql: str, *args) -> float:
        with psycopg.connect(pg_url, **role_options("shipway_app")) as conn:
            conn.execute("SELECT set_config('shipway.tenant', %s, false)", (tenant,))
            return float(conn.execute(sql, args).fetchone()[0] or 0)

    own_rows = "SELECT sum(cost_usd) FROM runs WHERE agent_name = %s"
    spend = "SELECT shipway_agent_spend_since(%s, %s)"
    assert as_tenant("bank-y", own_rows, shared) == pytest.approx(0.25)  # row-level security: its own runs only
    assert as_tenant("bank-y", spend, shared, since) == pytest.approx(1.25)  # the agent's whole spend, as a sum
    assert as_tenant("bank-y", spend, private, since) == 0.0  # another tenant's private agent: nothing to learn
    assert as_tenant("bank-z", spend, private, since) == pytest.approx(2.0)
