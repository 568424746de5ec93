"""The console's observability pages (issue 13) rendered by Streamlit's AppTest against a real,
migrated PostgreSQL: the Overview's numbers and links, the Runs page's filters and a run's timeline
from real LangGraph checkpoints, the Costs page's charts, costliest runs and budget badges, the
Search page over the real hybrid search, and the progress of long operations."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta
from types import SimpleNamespace
from typing import TypedDict

import numpy as np
import pandas as pd
import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from streamlit.testing.v1 import AppTest

from console.data import day_start
from shipway.db.models import Agent, AgentVersion, CostRollup, Deployment, LlmUsage, ModelPrice, Run, utcnow
from shipway.search import embed_query
from tests.console.conftest import chart_rows, open_page, run_app
from tests.support.langsmith_loopback import LangSmithLoopback
from workflows.statuses import DeploymentState, RunStatus, VersionStatus

OVERVIEW, RUNS, COSTS, SEARCH = "views/overview.py", "views/runs.py", "views/costs.py", "views/search.py"


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _links(at: AppTest) -> list[tuple[str, str, str]]:
    """Every page link as ``(label, page, query string)``."""
    return [(p.proto.label, p.proto.page, p.proto.query_string) for p in at.get("page_link")]


def _version(agent: str, version: int, status: VersionStatus, **spec) -> AgentVersion:
    return AgentVersion(agent_name=agent, version=version, spec={"name": agent, **spec}, status=status,
                        workflow_id=f"agent:{agent}:v{version}")


def _run(agent: str, version: int, started_at, status: RunStatus = RunStatus.SUCCEEDED, cost: float = 0.0,
         latency: float | None = None, tenant: str = "bank-a", run_id: str | None = None) -> Run:
    run_id = run_id or str(uuid.uuid4())
    return Run(id=run_id, agent_name=agent, version=version, thread_id=f"th-{run_id}", tenant=tenant, status=status,
               workflow_id=f"run:{run_id}", started_at=started_at, latency_ms=latency, cost_usd=cost)


@pytest.fixture
def platform(seed) -> dict:
    """Agents with daily budgets, runs in the last hour, earlier today, yesterday and before, and
    rollouts; returns the times and runs it seeded."""
    now = utcnow()
    midnight = day_start(now)
    recent = max(now - timedelta(minutes=10), midnight)  # in the last hour, and today
    seed(Agent(name="credit-underwriting", owner="alice@bank.example", template="credit_underwriting", live_version=2,
               status=VersionStatus.LIVE),
         Agent(name="fraud-detection", owner="bob@bank.example", template="fraud_detection", live_version=1,
               status=VersionStatus.LIVE),
         Agent(name="loan-triage", owner="alice@bank.example", template="loan_triage", live_version=1, status=VersionStatus.LIVE),
         Agent(name="kyc-screening", owner="carol@bank.example", template="kyc", status=VersionStatus.AWAITING_APPROVAL))
    seed(_version("credit-underwriting", 2, VersionStatus.LIVE, daily_budget_usd=1.0),
         _version("fraud-detection", 1, VersionStatus.LIVE, daily_budget_usd=10.0),
         _version("loan-triage", 1, VersionStatus.LIVE, daily_budget_usd=0.10, daily_budget_hard_stop=True),
         _version("kyc-screening", 1, VersionStatus.AWAITING_APPROVAL))
    runs = [
        _run("credit-underwriting", 2, recent, cost=0.30, latency=800.0),
        _run("credit-underwriting", 2, recent, cost=0.25, latency=1200.0),
        _run("credit-underwriting", 2, recent, RunStatus.FAILED, cost=0.30, latency=400.0),
        _run("loan-triage", 1, recent, cost=0.12, latency=500.0, tenant="bank-b"),
        _run("fraud-detection", 1, now - timedelta(hours=5), cost=0.05, latency=300.0, tenant="bank-b"),
        _run("fraud-detection", 1, now - timedelta(hours=30), RunStatus.FAILED, cost=1.00, latency=9000.0),
    ]
    seen = [SimpleNamespace(id=r.id, cost_usd=r.cost_usd, latency_ms=r.latency_ms, started_at=r.started_at) for r in runs]
    seed(*runs)  # the session expires the rows it commits: the test reads the values kept above
    seed(Deployment(agent_name="fraud-detection", version=2, strategy="Linear10PercentEvery1Minute", status=DeploymentState.IN_PROGRESS,
                    workflow_id="deploy:fraud-detection:v2", weight_pct=30.0, created_at=now - timedelta(minutes=3)),
         Deployment(agent_name="loan-triage", version=2, strategy="Canary10Percent5Minutes", status=DeploymentState.ROLLED_BACK,
                    workflow_id="deploy:loan-triage:v2", weight_pct=0.0, detail="canary error rate above 5%",
                    created_at=now - timedelta(hours=3), finished_at=now - timedelta(hours=2)),
         Deployment(agent_name="credit-underwriting", version=2, strategy="AllAtOnce", status=DeploymentState.SUCCEEDED,
                    workflow_id="deploy:credit-underwriting:v2", weight_pct=100.0, created_at=now - timedelta(hours=4),
                    finished_at=now - timedelta(hours=4)),
         Deployment(agent_name="credit-underwriting", version=1, strategy="AllAtOnce", status=DeploymentState.ROLLED_BACK,
                    workflow_id="deploy:credit-underwriting:v1", created_at=now - timedelta(days=3),
                    finished_at=now - timedelta(days=3)))
    return {"now": now, "midnight": midnight, "runs": seen}


def test_the_overview_is_the_home_page_and_its_numbers_are_the_seeded_ones(app, platform):
    at = app()  # the default page
    assert [t.value for t in at.title] == ["Overview"]
    runs, midnight = platform["runs"], platform["midnight"]
    hour, day = runs[:4], runs[:5]

    def p95(rs):  # percentile_cont's linear interpolation
        return f"{np.percentile([r.latency_ms for r in rs], 95):,.0f} ms"

    metrics = [(m.label, m.value) for m in at.metric]
    assert metrics == [
        ("Runs", "4"), ("Errors", "1"), ("Error rate", "25.0%"), ("p95 latency", p95(hour)), ("Cost", "$0.9700"),
        ("Runs", "5"), ("Errors", "1"), ("Error rate", "20.0%"), ("p95 latency", p95(day)), ("Cost", "$1.0200"),
        ("Cost today", f"${sum(r.cost_usd for r in runs if r.started_at >= midnight):,.4f}"),
        ("Budgets at 80% or more", "2 of 3"),
        ("Agents", "4"), ("Awaiting approval", "1"),
        ("In progress", "1"), ("Failing (24 h)", "1"),
    ]
    [per_minute] = [rows for rows in chart_rows(at).values() if rows and "runs" in rows[0]]
    assert len(per_minute) == 60 and sum(r["runs"] for r in per_minute) == 4
    assert "awaiting_approval: 1 · live: 3" in _texts(at.caption)
    # credit-underwriting spent 0.85 of 1.00 (the 80% badge), loan-triage 0.12 of 0.10 (100%, runs refused)
    badges = _texts(at.markdown)
    assert ":orange-badge[:material/warning: credit-underwriting: 85% of $1.00]" in badges
    assert ":red-badge[:material/warning: loan-triage: 120% of $0.10 · runs refused]" in badges
    assert "fraud-detection:" not in badges

    links = _links(at)
    assert ("Failed runs", "runs", "since=1h&status=failed") in links
    assert ("Failed runs", "runs", "since=24h&status=failed") in links
    assert ("Runs", "runs", "since=1h") in links
    assert ("Costs", "costs", "") in links and ("Budgets", "costs", "") in links
    assert ("Agents", "agents", "") in links and ("Approvals", "approvals", "") in links
    rollouts = [(label, qs) for label, page, qs in links if page == "deployments" and qs]
    assert rollouts == [  # newest first; the succeeded one and the one rolled back days ago are not listed
        ("fraud-detection v2 · in_progress · 30% · Linear10PercentEvery1Minute", "deployment=deploy%3Afraud-detection%3Av2"),
        ("loan-triage v2 · rolled_back · 0% · Canary10Percent5Minutes", "deployment=deploy%3Aloan-triage%3Av2")]


def test_a_console_of_one_tenant_counts_only_its_runs_on_the_overview(app, platform, monkeypatch):
    from shipway.settings import get_settings

    monkeypatch.setenv("SHIPWAY_CONSOLE_TENANT", "bank-b")
    get_settings.cache_clear()
    at = app()
    metrics = [(m.label, m.value) for m in at.metric]
    assert metrics[:2] == [("Runs", "1"), ("Errors", "0")]  # loan-triage's run in the last hour
    assert metrics[5] == ("Runs", "2")  # and fraud-detection's five hours ago
    assert "Runs and costs of tenant `bank-b`" in _texts(at.caption)


def test_the_overviews_failed_runs_link_opens_the_runs_page_filtered(app, platform):
    at = app()
    at.switch_page(RUNS)
    at.query_params.update({"since": "1h", "status": "failed"})  # what the Errors link carries
    at.run()
    assert not at.exception
    assert (at.selectbox(key="runs_status").value, at.selectbox(key="runs_since").value) == ("failed", "1h")
    table = at.dataframe[0].value
    assert table["run_id"].tolist() == [platform["runs"][2].id]  # yesterday's failure is outside the hour
    assert {m.label: m.value for m in at.metric}["Runs"] == "1"

    # the widgets then own the filters, and write them back to the URL
    at.selectbox(key="runs_since").set_value("all").run()
    assert sorted(at.dataframe[0].value["run_id"]) == sorted([platform["runs"][2].id, platform["runs"][5].id])
    assert at.query_params.get("status") == "failed" and "since" not in at.query_params


def test_the_runs_page_filters_by_version_and_tenant(app, seed):
    t0 = utcnow()
    seed(*(_run("credit-underwriting", v, t0 - timedelta(minutes=i), tenant=tenant, run_id=f"r-{v}-{tenant}-{i}")
           for i, (v, tenant) in enumerate([(1, "bank-a"), (2, "bank-a"), (2, "bank-b"), (3, "bank-b")])))
    at = app(RUNS)
    at.selectbox(key="runs_agent").set_value("credit-underwriting").run()
    assert at.selectbox(key="runs_version").options == ["(all)", "v3", "v2", "v1"]
    at.selectbox(key="runs_version").set_value(2).run()
    assert at.dataframe[0].value["run_id"].tolist() == ["r-2-bank-a-1", "r-2-bank-b-2"]
    at.selectbox(key="runs_tenant").set_value("bank-b").run()
    assert at.dataframe[0].value["run_id"].tolist() == ["r-2-bank-b-2"]
    assert at.query_params == {"agent": "credit-underwriting", "version": "2", "tenant": "bank-b", "run": "r-2-bank-b-2"}


class _LoanState(TypedDict, total=False):
    amount: int
    score: int
    decision: str


def _score(state: _LoanState) -> dict:
    time.sleep(0.05)  # long enough that the step's checkpoints are visibly apart; nothing asserts its length
    return {"score": 700 if state["amount"] < 20000 else 580}


def _completed_thread(database_url: str, thread_id: str) -> None:
    """Run a real two-node LangGraph graph with PostgresSaver to its end."""
    graph = StateGraph(_LoanState)
    graph.add_node("score", _score)
    graph.add_node("decide", lambda s: {"decision": "approve" if s["score"] >= 650 else "refer"})
    graph.add_edge(START, "score")
    graph.add_edge("score", "decide")
    graph.add_edge("decide", END)
    with PostgresSaver.from_conn_string(database_url) as saver:
        result = graph.compile(checkpointer=saver).invoke({"amount": 12000}, {"configurable": {"thread_id": thread_id}})
    assert result["decision"] == "approve"


def _saved_times(database_url: str, thread_id: str) -> list:
    """The thread's checkpoint times, oldest first, read straight from LangGraph's saver."""
    with PostgresSaver.from_conn_string(database_url) as saver:
        return sorted(pd.Timestamp(t.checkpoint["ts"]) for t in saver.list({"configurable": {"thread_id": thread_id}}))


def test_a_runs_timeline_shows_its_nodes_from_real_checkpoints_and_its_cost_per_node(app, seed, console_env):
    run_id = str(uuid.uuid4())
    seed(Run(id=run_id, agent_name="credit-underwriting", version=1, thread_id="th-timeline", status=RunStatus.SUCCEEDED,
             workflow_id=f"run:{run_id}", started_at=utcnow() - timedelta(seconds=5), cost_usd=0.0042))
    _completed_thread(console_env.resolved_database_url(), "th-timeline")
    seed(LlmUsage(run_id=run_id, model="openai:gpt-4o-mini", tokens_in=1200, tokens_out=300, cost_usd=0.0020, node="score"),
         LlmUsage(run_id=run_id, model="openai:gpt-4o-mini", tokens_in=800, tokens_out=200, cost_usd=0.0012, node="score"),
         LlmUsage(run_id=run_id, model="openai:gpt-4o", tokens_in=100, tokens_out=50, cost_usd=0.0010, node="decide"))
    at = app(RUNS)
    assert at.selectbox(key="run_pick").value == run_id

    ts = _saved_times(console_env.resolved_database_url(), "th-timeline")  # input, after __start__, after score, after decide
    timeline, costs = (t.value for t in at.table)
    assert timeline["node"].tolist() == ["score", "decide"]
    assert timeline["step"].tolist() == [0, 1]
    assert timeline["outcome"].tolist() == ["done", "done"]
    # each node took from the checkpoint it ran from to the next one
    durations = [(ts[i + 1] - ts[i]).total_seconds() * 1000 for i in (1, 2)]
    assert timeline["duration (ms)"].tolist() == pytest.approx(durations)
    [bars] = [rows for rows in chart_rows(at).values() if rows and "outcome" in rows[0]]
    assert [(b["node"], b["outcome"]) for b in bars] == [("score", "done"), ("decide", "done")]

    assert costs.to_dict("records") == [
        {"node": "score", "calls": 2, "tokens_in": 2000, "tokens_out": 500, "cost_usd": pytest.approx(0.0032)},
        {"node": "decide", "calls": 1, "tokens_in": 100, "tokens_out": 50, "cost_usd": pytest.approx(0.0010)}]
    page = _texts(at.markdown)
    assert f"[workflow run:{run_id}]({console_env.workflow_url(f'run:{run_id}')})" in page
    assert "LangSmith" not in page  # not configured


def test_with_langsmith_configured_a_run_links_to_its_trace(app, seed, monkeypatch):
    import langsmith

    from shipway.settings import get_settings

    run_id = str(uuid.uuid4())
    seed(_run("credit-underwriting", 1, utcnow(), run_id=run_id))
    with LangSmithLoopback(mode="batch") as ls:
        monkeypatch.setenv("LANGSMITH_ENDPOINT", ls.url)
        monkeypatch.setenv("LANGSMITH_API_KEY", ls.api_key)
        monkeypatch.setenv("LANGSMITH_PROJECT", "shipway-console-test")
        get_settings.cache_clear()
        client = langsmith.Client(api_url=ls.url, api_key=ls.api_key, auto_batch_tracing=False)
        client.create_run(name="graph", inputs={"loan_amnt": 12000}, run_type="chain", id=run_id,
                          project_name="shipway-console-test")
        at = app(RUNS)
        [trace] = [m.value for m in at.markdown if "LangSmith trace" in m.value]
        assert f"[LangSmith trace]({ls.url}/o/{ls.tenant_id}/projects/p/" in trace and f"/r/{run_id}?trace_id={run_id})" in trace


def test_a_failing_langsmith_costs_only_the_link(app, seed, monkeypatch):
    from shipway.settings import get_settings
    from shipway.stack.ports import free_port

    seed(_run("credit-underwriting", 1, utcnow(), run_id=str(uuid.uuid4())))
    monkeypatch.setenv("LANGSMITH_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2-unreachable")
    get_settings.cache_clear()
    at = app(RUNS)
    assert not at.error and "LangSmith" not in _texts(at.markdown)
    assert "[workflow run:" in _texts(at.markdown)


def test_the_costs_page_charts_the_rollups_and_badges_the_budgets(app, platform, seed):
    today = platform["now"].date()
    days = [today - timedelta(days=2), today - timedelta(days=1), today]

    def rollup(day: date, agent: str, model: str, cost: float, calls: int = 1) -> CostRollup:
        return CostRollup(day=day, agent_name=agent, version=1, tenant="bank-a", model=model, runs=1, calls=calls,
                          tokens_in=1000 * calls, tokens_out=100 * calls, cost_usd=cost)

    seed(rollup(days[0], "credit-underwriting", "openai:gpt-4o-mini", 0.40, 4),
         rollup(days[1], "credit-underwriting", "openai:gpt-4o", 0.60, 2),
         rollup(days[1], "fraud-detection", "openai:gpt-4o-mini", 0.05),
         rollup(days[2], "loan-triage", "openai:gpt-4o-mini", 0.12),
         rollup(days[2], "fraud-detection", "-", 0.0, 0),
         rollup(today - timedelta(days=40), "fraud-detection", "openai:gpt-4o", 9.0),  # outside the 7 days
         ModelPrice(model="openai:gpt-4o-mini", effective_from=today - timedelta(days=30), input_usd_per_mtok=0.15,
                    output_usd_per_mtok=0.60, source="https://openai.com/api/pricing", source_date=today - timedelta(days=30)))
    at = app(COSTS)
    assert not at.exception and not at.error
    runs, midnight = platform["runs"], platform["midnight"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Cost today": f"${sum(r.cost_usd for r in runs if r.started_at >= midnight):,.4f}",
                       "Cost": "$1.1700", "LLM calls": "8", "Tokens": f"{8 * 1100:,}"}

    charts = chart_rows(at)
    by_agent = {r["agent"]: r["cost_usd"] for r in charts["Cost by agent"]}
    assert by_agent == pytest.approx({"credit-underwriting": 1.00, "loan-triage": 0.12, "fraud-detection": 0.05})
    by_model = {r["model"]: r["cost_usd"] for r in charts["Cost by model"]}
    assert by_model == pytest.approx({"openai:gpt-4o": 0.60, "openai:gpt-4o-mini": 0.57})  # no "-" bar
    per_day = {(r["day"], r["agent"]): r["cost_usd"] for r in charts["Cost per day"]}
    assert per_day == pytest.approx({(f"{days[0]:%Y-%m-%d}", "credit-underwriting"): 0.40,
                                     (f"{days[1]:%Y-%m-%d}", "credit-underwriting"): 0.60,
                                     (f"{days[1]:%Y-%m-%d}", "fraud-detection"): 0.05,
                                     (f"{days[2]:%Y-%m-%d}", "loan-triage"): 0.12, (f"{days[2]:%Y-%m-%d}", "fraud-detection"): 0.0})

    costliest = next(d.value for d in at.dataframe if "detail" in d.value.columns)
    in_range = sorted((r for r in runs if r.started_at >= midnight - timedelta(days=6)), key=lambda r: -r.cost_usd)
    assert costliest["cost_usd"].tolist() == [r.cost_usd for r in in_range]
    assert costliest["detail"].iloc[0] == f"runs?run={costliest['run_id'].iloc[0]}"

    budgets = next(d.value for d in at.dataframe if "badge" in d.value.columns).set_index("agent")
    assert budgets.loc["credit-underwriting", ["spent_usd", "badge", "hard_stop"]].tolist() == [pytest.approx(0.85), "80%", False]
    assert budgets.loc["loan-triage", ["badge", "hard_stop"]].tolist() == ["100%", True]
    assert budgets.loc["fraud-detection", "badge"] == ""
    assert budgets.loc["credit-underwriting", "used_pct"] == pytest.approx(85.0)
    page = _texts(at.markdown)
    assert ":orange-badge[:material/warning: credit-underwriting: 80% of its daily budget]" in page
    assert ":red-badge[:material/block: loan-triage: 100% of its daily budget]" in page
    [prices] = [d.value for d in at.dataframe if "input_usd_per_mtok" in d.value.columns]
    assert prices[["model", "input_usd_per_mtok", "output_usd_per_mtok"]].values.tolist() == [["openai:gpt-4o-mini", 0.15, 0.60]]

    at.selectbox(key="costs_agent").set_value("credit-underwriting").run()
    assert {r["agent"] for r in chart_rows(at)["Cost by agent"]} == {"credit-underwriting"}


def test_a_viewer_reads_the_overview_and_costs_but_a_caller_key_role_does_not(app, platform, console_role):
    console_role("viewer")
    assert app(COSTS).metric and app().metric
    console_role("caller")
    for page in (OVERVIEW, COSTS):
        at = app(page)
        assert not at.metric
        assert "cannot read metrics" in _texts(at.info)


def _indexed(name: str, description: str, owner: str, template: str, status: VersionStatus, live: int | None = None,
             tenant: str | None = None) -> Agent:
    return Agent(name=name, description=description, owner=owner, template=template, status=status, live_version=live,
                 tenant=tenant, embedding=embed_query(description))


def test_the_search_page_finds_agents_by_meaning_and_words_with_filters(app, seed):
    seed(_indexed("credit-underwriting", "Scores consumer credit applications against the lending policy and refers "
                  "borderline applicants to an underwriter.", "alice@bank.example", "credit_underwriting", VersionStatus.LIVE, 2),
         _indexed("fraud-detection", "Flags card transactions that look fraudulent from amount, merchant and velocity.",
                  "bob@bank.example", "fraud_detection", VersionStatus.LIVE, 1),
         _indexed("claims-triage", "Routes insurance claims to the right adjuster queue by severity.", "carol@insure.example",
                  "claims_triage", VersionStatus.AWAITING_APPROVAL),
         _indexed("loan-pricing", "Prices personal loans from the applicant's credit score and the bank's rate card.",
                  "alice@bank.example", "loan_pricing", VersionStatus.FAILED))
    at = app(SEARCH)
    assert not at.dataframe and "Describe what the agent does" in _texts(at.caption)
    at.text_input(key="search_text").input("suspicious payments").run()  # no word in common with any description
    assert not at.exception and not at.warning
    hits = at.dataframe[0].value
    best = hits.iloc[0]
    assert (best["name"], best["vector_rank"]) == ("fraud-detection", 1) and pd.isna(best["text_rank"])  # found by meaning
    assert hits["score"].is_monotonic_decreasing
    assert best["runs"] == "runs?agent=fraud-detection"

    at.text_input(key="search_text").input("assess a borrower's creditworthiness for a loan").run()
    assert set(at.dataframe[0].value["name"][:2]) == {"credit-underwriting", "loan-pricing"}  # the two lending agents lead
    at.selectbox(key="search_status").set_value(VersionStatus.LIVE).run()
    assert set(at.dataframe[0].value["status"]) == {VersionStatus.LIVE}
    at.selectbox(key="search_owner").set_value("alice@bank.example").run()
    assert at.dataframe[0].value["name"].tolist() == ["credit-underwriting"]

    at.selectbox(key="search_status").set_value("(all)").run()
    at.text_input(key="search_text").input('"rate card"').run()  # a quoted phrase, found by the words
    assert at.dataframe[0].value.set_index("name").loc["loan-pricing", "text_rank"] == 1


def test_an_active_rollout_without_a_workflow_shows_its_progress_from_the_database(app, platform):
    at = app("views/deployments.py")
    at.selectbox(key="deployment_pick").set_value("deploy:fraud-detection:v2").run()
    [bar] = at.progress
    assert bar.value == 0 and bar.text == "0 of 10 steps done (from the database)"
    assert "cannot be queried" in _texts(at.caption) and not at.error and not at.warning


# -- progress of long operations, against Shipway's real workflows and worker ----------------------
@pytest.mark.asyncio(loop_scope="session")
async def test_a_submission_is_followed_until_it_waits_for_an_approver(shipway_worker, db):
    from shipway import control
    from tests.support.lifecycle import OWNER, counting_spec

    name, version, workflow_id = await control.submit_agent(shipway_worker, db, counting_spec(), OWNER)
    at = await open_page("views/create_agent.py", OWNER)
    at.session_state["wizard_submitted"] = (name, version, workflow_id, OWNER)  # what the Submit button leaves
    await run_app(at)
    [box] = at.status
    assert box.label == f"{name} v{version}: waiting for an approver" and box.state == "complete"
    assert "step **approval** · status **awaiting_approval**" in _texts(box.markdown)
    assert at.progress[0].value == pytest.approx(4 / 6 * 100, abs=1)  # validate, guard, scaffold, index done


@pytest.mark.asyncio(loop_scope="session")
async def test_an_approval_from_the_console_is_followed_until_the_version_is_live(shipway_worker, db, console_role):
    from tests.console.test_approvals_workflow import _awaiting_approval
    from tests.support.lifecycle import APPROVER

    console_role("approver")
    name, version = await _awaiting_approval(shipway_worker, db)
    at = await open_page("views/approvals.py", APPROVER)
    key = f"{name}:{version}"
    at.text_area(key=f"reason:{key}").input("model risk review MRM-112 passed")
    at.button(key=f"approve:{key}").click()
    await run_app(at)
    assert [s.value for s in at.success] == [f"{APPROVER}'s approve of {name} v{version} accepted: the rollout starts."]
    [box] = at.status
    assert (box.label, box.state) == (f"{name} v{version}: live", "complete")
    assert at.progress[0].value == 100
    assert f"workflows/agent%3A{name}%3Av{version}" in _texts(box.markdown)
