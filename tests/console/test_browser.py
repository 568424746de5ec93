"""The console as operators get it: ``streamlit run console/app.py`` in a subprocess on a free port,
on the real, migrated test PostgreSQL seeded with realistic rows, driven by Playwright in Debian's
headless Chromium (``/usr/bin/chromium``: Playwright's own browser download is not reachable here).

Every page of the navigation is loaded (and a search typed on the Search page); each must render
without an exception or an error alert, and leaves a full-page screenshot in the artifacts
directory (``SHIPWAY_TEST_ARTIFACTS``, default ``<repo>/.pytest-artifacts/console``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TypedDict

import httpx
import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from console.data import day_start
from reference_agents.dag_mapping.demo import tpc_repository
from shipway.db.models import (Agent, AgentVersion, ApprovalRequest, CodeMapping, CostRollup, Deployment, LlmUsage, ModelPrice, Run,
                               TrafficWeight, utcnow)
from shipway.search import embed_query
from shipway.stack.ports import free_port
from tests.console.test_deployments import STABLE, _analysis, _chain
from tests.console.test_pages import REFERRAL
from workflows.statuses import DeploymentState, RunStatus, VersionStatus
from workflows.types import VersionMetrics

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# (file name of the screenshot, URL path, title the page shows), in the navigation's order
PAGES = [
    ("01-overview", "/", "Overview"),
    ("02-agents", "/agents", "Agents"),
    ("03-search", "/search", "Search"),
    ("04-create-agent", "/create_agent", "Create agent"),
    ("05-approvals", "/approvals", "Approvals"),
    ("06-runs", "/runs", "Runs"),
    ("07-mapping-jobs", "/mapping_jobs", "Mapping jobs"),
    ("08-deployments", "/deployments", "Deployments"),
    ("09-costs", "/costs", "Costs"),
    ("10-runbooks", "/runbooks", "Runbooks"),
]
SEARCH_QUERY = "suspicious card payments"
START_TIMEOUT_S = 90
RENDER_TIMEOUT_MS = 90_000
WIDTH = 1440
# how tall the main block's content is (Streamlit scrolls inside its own container, not the document)
CONTENT_HEIGHT_JS = """() => {
  const block = document.querySelector('[data-testid="stMainBlockContainer"]');
  return Math.ceil(block.getBoundingClientRect().bottom + (block.parentElement ? block.parentElement.scrollTop : 0));
}"""
# what tells a finished render: the app says its script is not running, and no element is stale
SETTLED_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-script-state') === 'notRunning' && !document.querySelector('[data-stale="true"]');
}"""


@pytest.fixture
def artifacts_dir() -> Path:
    """Where the screenshots go: ``SHIPWAY_TEST_ARTIFACTS``, else ``<repo>/.pytest-artifacts/console``."""
    root = Path(os.environ.get("SHIPWAY_TEST_ARTIFACTS") or REPO / ".pytest-artifacts" / "console")
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium; the test fails (never skips) without it."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.fail(f"{CHROMIUM} is missing: the browser test drives Debian's chromium package; `make test` installs it "
                    "(make sysdeps, apt-get install chromium)")
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@pytest.fixture
def console_server(console_env, artifacts_dir: Path) -> Iterator[str]:
    """``streamlit run console/app.py`` headless on a free port of 127.0.0.1, with the test
    database and Temporal server in its environment; yields its base URL."""
    port = free_port()
    log_path = artifacts_dir / "streamlit.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / "console" / "app.py"), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=REPO, env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))},
            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}: {log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer on port {port} within {START_TIMEOUT_S} s: {log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- realistic rows ------------------------------------------------------------------------------
DESCRIPTIONS = {
    "credit-underwriting": ("Scores consumer credit applications against the lending policy and refers borderline "
                            "applicants to an underwriter.", "alice@bank.example", "credit_underwriting"),
    "fraud-detection": ("Flags card transactions that look fraudulent from amount, merchant and velocity.", "bob@bank.example",
                        "fraud_detection"),
    "loan-triage": ("Routes small-business loan requests to the right desk and asks for missing documents.",
                    "alice@bank.example", "loan_triage"),
    "claims-triage": ("Routes insurance claims to the right adjuster queue by severity.", "carol@insure.example",
                      "claims_triage"),
}


class _LoanState(TypedDict, total=False):
    loan_amnt: int
    score: int
    decision: str


def _score(state: _LoanState) -> dict:
    time.sleep(0.12)  # a node that takes a moment, so the timeline shows a bar
    return {"score": 580}


def _review(state: _LoanState) -> dict:
    return {"decision": interrupt({"question": "Refer to an underwriter?"})["decision"]}


def _review_thread(database_url: str, thread_id: str) -> None:
    """A real LangGraph graph (score, then a review that interrupts) checkpointed by PostgresSaver."""
    graph = StateGraph(_LoanState)
    graph.add_node("score", _score)
    graph.add_node("review", _review)
    graph.add_edge(START, "score")
    graph.add_edge("score", "review")
    graph.add_edge("review", END)
    with PostgresSaver.from_conn_string(database_url) as saver:
        graph.compile(checkpointer=saver).invoke({"loan_amnt": 48000}, {"configurable": {"thread_id": thread_id}})


def _mapping_job(seed, now) -> None:
    """A finished DAG -> code mapping job of TPC-H Q6 (the page draws its plan with Graphviz in the
    browser beside ibis's real ``test_06``)."""
    run_id, repository = str(uuid.uuid4()), str(tpc_repository())
    nodes = [("n0", ["n1"], "UNGROUPED_AGGREGATE", "aggregate", 176, 176, 0.97, "accept"),
             ("n1", ["n2"], "FILTER", "filter", 170, 175, 0.71, "second_pass"),
             ("n2", [], "SEQ_SCAN", "scan", None, None, 0.0, "rejected")]
    run = Run(id=run_id, agent_name="dag-to-code-mapping", version=1, thread_id=run_id, tenant="bank-a",
              status=RunStatus.SUCCEEDED, input={"analysis_id": "tpch-q06", "repository": repository},
              output={"analysis_id": "tpch-q06", "nodes": 3, "bands": {"accept": 1, "second_pass": 1, "rejected": 1}},
              workflow_id=f"run:{run_id}", started_at=now - timedelta(minutes=1), finished_at=now, latency_ms=2100.0)
    seed(Agent(name="dag-to-code-mapping", description="Maps query plan nodes to code.", owner="qp@bank.example",
               template="dag_mapping", status=VersionStatus.LIVE, live_version=1), run)
    seed(*(CodeMapping(run_id=run_id, node_id=node_id, tenant="bank-a", analysis_id="tpch-q06", position=i, operator=operator,
                       kind=kind, path=None if start is None else "h/test_queries.py", symbol=None if start is None else "test_06",
                       start_line=start, end_line=end, confidence=confidence, band=band, explanation=f"{kind} in test_06",
                       alternatives=[], children=children, source="human" if band == "rejected" else "mapper",
                       reviewed_by="ana" if band == "rejected" else None)
           for i, (node_id, children, operator, kind, start, end, confidence, band) in enumerate(nodes)))


def _seed(seed, database_url: str) -> None:
    now = utcnow()
    today = now.date()
    seed(*(Agent(name=name, description=d, owner=owner, template=template, status=VersionStatus.LIVE, live_version=2 if
                 name == "credit-underwriting" else 1, embedding=embed_query(d))
           for name, (d, owner, template) in DESCRIPTIONS.items() if name != "claims-triage"),
         Agent(name="claims-triage", description=DESCRIPTIONS["claims-triage"][0], owner="carol@insure.example",
               template="claims_triage", status=VersionStatus.AWAITING_APPROVAL, embedding=embed_query(DESCRIPTIONS["claims-triage"][0])))

    def spec(name: str, **extra) -> dict:
        d, owner, template = DESCRIPTIONS[name]
        return {"name": name, "owner": owner, "description": d, "template": template, "model": "openai:gpt-4o-mini",
                "data_classification": "confidential", **extra}

    seed(AgentVersion(agent_name="credit-underwriting", version=1, spec=spec("credit-underwriting"), status=VersionStatus.SUPERSEDED,
                      submitted_by="alice@bank.example", workflow_id="agent:credit-underwriting:v1"),
         AgentVersion(agent_name="credit-underwriting", version=2, spec=spec("credit-underwriting", daily_budget_usd=0.20),
                      status=VersionStatus.LIVE, submitted_by="alice@bank.example", workflow_id="agent:credit-underwriting:v2"),
         AgentVersion(agent_name="fraud-detection", version=1, spec=spec("fraud-detection", daily_budget_usd=0.02,
                                                                         daily_budget_hard_stop=True),
                      status=VersionStatus.LIVE, submitted_by="bob@bank.example", workflow_id="agent:fraud-detection:v1"),
         AgentVersion(agent_name="fraud-detection", version=2, spec=spec("fraud-detection"), status=VersionStatus.DEPLOYING,
                      submitted_by="bob@bank.example", workflow_id="agent:fraud-detection:v2"),
         AgentVersion(agent_name="loan-triage", version=1, spec=spec("loan-triage", daily_budget_usd=5.0), status=VersionStatus.LIVE,
                      submitted_by="alice@bank.example", workflow_id="agent:loan-triage:v1"),
         AgentVersion(agent_name="claims-triage", version=1, spec=spec("claims-triage"), status=VersionStatus.AWAITING_APPROVAL,
                      submitted_by="carol@insure.example", workflow_id="agent:claims-triage:v1", updated_at=now - timedelta(hours=2)),
         TrafficWeight(agent_name="credit-underwriting", version=2, weight_pct=100.0),
         TrafficWeight(agent_name="fraud-detection", version=1, weight_pct=70.0),
         TrafficWeight(agent_name="fraud-detection", version=2, weight_pct=30.0),
         TrafficWeight(agent_name="loan-triage", version=1, weight_pct=100.0),
         ApprovalRequest(agent_name="claims-triage", version=1, workflow_id="agent:claims-triage:v1", owner="carol@insure.example"))

    # runs over the last day: mostly successes, some failures, one interrupted run with real checkpoints
    runs, usage = [], []
    for i in range(48):
        agent, version = [("credit-underwriting", 2), ("fraud-detection", 1), ("fraud-detection", 2), ("loan-triage", 1)][i % 4]
        started = now - timedelta(minutes=3 + 29 * i)
        status = RunStatus.FAILED if i % 9 == 4 else RunStatus.SUCCEEDED
        run_id = str(uuid.uuid4())
        cost = round(0.0008 + 0.0003 * (i % 5), 6)
        runs.append(Run(id=run_id, agent_name=agent, version=version, thread_id=f"th-{run_id}", tenant=("bank-a", "bank-b")[i % 2],
                        status=status, input={"n": i}, output=None if status == RunStatus.FAILED else {"decision": "approve"},
                        error="graph step failed: upstream timeout" if status == RunStatus.FAILED else None,
                        workflow_id=f"run:{run_id}", started_at=started, finished_at=started + timedelta(seconds=1),
                        latency_ms=600.0 + 37.0 * (i % 11), tokens_in=900, tokens_out=150, cost_usd=cost))
        usage.append(LlmUsage(run_id=run_id, model="openai:gpt-4o-mini", tokens_in=900, tokens_out=150, cost_usd=cost, node="decide",
                              created_at=started))
    # today's big spenders: credit-underwriting past 80% of its budget, fraud-detection past all of it
    today_start = max(now - timedelta(minutes=5), day_start(now))
    for agent, cost in (("credit-underwriting", 0.16), ("fraud-detection", 0.03)):
        run_id = str(uuid.uuid4())
        runs.append(Run(id=run_id, agent_name=agent, version=1 if agent == "fraud-detection" else 2, thread_id=f"th-{run_id}",
                        tenant="bank-a", status=RunStatus.SUCCEEDED, input={"batch": True}, output={"scored": 250},
                        workflow_id=f"run:{run_id}", started_at=today_start, finished_at=today_start + timedelta(seconds=40),
                        latency_ms=4200.0, tokens_in=250000, tokens_out=40000, cost_usd=cost))
    waiting = str(uuid.uuid4())
    runs.append(Run(id=waiting, agent_name="credit-underwriting", version=2, thread_id="th-browser-review", tenant="bank-a",
                    status=RunStatus.INTERRUPTED, input={"loan_amnt": 48000}, interrupt=REFERRAL, workflow_id=f"run:{waiting}",
                    started_at=now - timedelta(seconds=30), tokens_in=2100, tokens_out=420, cost_usd=0.0031))
    usage += [LlmUsage(run_id=waiting, model="openai:gpt-4o-mini", tokens_in=1500, tokens_out=300, cost_usd=0.0019, node="score"),
              LlmUsage(run_id=waiting, model="openai:gpt-4o", tokens_in=600, tokens_out=120, cost_usd=0.0012, node="review")]
    seed(*runs)
    seed(*usage)
    _review_thread(database_url, "th-browser-review")
    _mapping_job(seed, now)

    # rollouts: one in progress (with its weights and analyses), one rolled back this morning
    t1 = now - timedelta(minutes=12)
    seed(Deployment(agent_name="loan-triage", version=2, strategy="Canary10Percent5Minutes", status=DeploymentState.ROLLED_BACK,
                    workflow_id="deploy:loan-triage:v2", weight_pct=0.0, detail="canary error rate 30% above 5%",
                    created_at=now - timedelta(hours=3), finished_at=now - timedelta(hours=2, minutes=50)),
         Deployment(agent_name="fraud-detection", version=2, strategy="Linear10PercentEvery3Minutes", status=DeploymentState.IN_PROGRESS,
                    workflow_id="deploy:fraud-detection:v2", weight_pct=30.0, created_at=t1))
    seed(*_chain((t1, "carol@bank.example", "deployment.started", "agent:fraud-detection:v2",
                  {"strategy": "Linear10PercentEvery3Minutes", "stable": 1}),
                 *((t1 + timedelta(minutes=3 * i), "carol@bank.example", "deployment.weights", "agent:fraud-detection:v2",
                    {"weights": {"2": 10.0 * (i + 1), "1": 100.0 - 10.0 * (i + 1)}}) for i in range(3))))
    good = VersionMetrics(finished=60, failed=1, error_rate=1 / 60, p99_ms=1100.0, cost_per_run_usd=0.0021, runs=60, violations=0,
                          violation_rate=0.0)
    seed(*(_analysis("fraud-detection", 2, 1, i + 1, i, 10.0 * (i + 1), t1 + timedelta(minutes=3 * i), good, STABLE)
           for i in range(2)))

    # a week of cost rollups, and the prices in force
    seed(*(CostRollup(day=today - timedelta(days=d), agent_name=agent, version=1, tenant="bank-a", model=model, runs=20 + d,
                      calls=30 + 2 * d, tokens_in=27000 + 900 * d, tokens_out=4500, cost_usd=round(cost * (1 + 0.15 * (d % 3)), 4))
           for d in range(7) for agent, model, cost in (("credit-underwriting", "openai:gpt-4o-mini", 0.021),
                                                       ("fraud-detection", "openai:gpt-4o-mini", 0.012),
                                                       ("fraud-detection", "openai:gpt-4o", 0.034),
                                                       ("loan-triage", "openai:gpt-4o-mini", 0.008))),
         ModelPrice(model="openai:gpt-4o-mini", effective_from=day_start(now).date() - timedelta(days=90), input_usd_per_mtok=0.15,
                    output_usd_per_mtok=0.60, source="https://openai.com/api/pricing", source_date=today - timedelta(days=90)),
         ModelPrice(model="openai:gpt-4o", effective_from=day_start(now).date() - timedelta(days=90), input_usd_per_mtok=2.50,
                    output_usd_per_mtok=10.00, source="https://openai.com/api/pricing", source_date=today - timedelta(days=90)))


def test_every_console_page_renders_in_chromium_without_errors(seed, console_env, console_server: str, chromium: str,
                                                               artifacts_dir: Path):
    from playwright.sync_api import sync_playwright

    _seed(seed, console_env.resolved_database_url())
    shots: list[Path] = []
    problems: dict[str, list[str]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            for name, path, title in PAGES:
                page.goto(console_server + path)
                _settle(page, title)
                if name.endswith("search"):
                    box = page.get_by_label("Search agents", exact=True)
                    box.fill(SEARCH_QUERY)
                    box.press("Enter")
                    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=RENDER_TIMEOUT_MS)
                    _settle(page, title)
                problems[name] = _problems(page)
                shots.append(_screenshot(page, artifacts_dir / f"{name}.png"))
        finally:
            browser.close()
    print("\nconsole screenshots:\n" + "\n".join(f"  {s}" for s in shots))
    assert {name: found for name, found in problems.items() if found} == {}
    assert [s.name for s in shots] == [f"{name}.png" for name, _, _ in PAGES]
    assert all(s.stat().st_size > 10_000 for s in shots)  # a rendered page, not a blank one


def _settle(page, title: str) -> None:
    """Wait until Streamlit has drawn the page titled ``title`` and finished its script run."""
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=RENDER_TIMEOUT_MS)
    page.wait_for_function(SETTLED_JS, timeout=RENDER_TIMEOUT_MS, polling=100)


def _problems(page) -> list[str]:
    """The texts of the page's exceptions and error alerts."""
    found = [f"exception: {t}" for t in page.locator('[data-testid="stException"]').all_inner_texts()]
    found += [f"error: {t}" for t in page.locator('[data-testid="stAlertContentError"]').all_inner_texts()]
    return found


def _screenshot(page, path: Path) -> Path:
    """A screenshot of the whole page: Streamlit scrolls inside its own container, so the viewport is
    made as tall as the main block's content (again while resizing lets more of it lay out)."""
    height = 900
    for _ in range(5):
        needed = page.evaluate(CONTENT_HEIGHT_JS) + 80
        if needed <= height:
            break
        height = needed
        page.set_viewport_size({"width": WIDTH, "height": height})
        page.wait_for_timeout(500)  # charts and tables re-layout to the new size
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": WIDTH, "height": 900})
    return path
