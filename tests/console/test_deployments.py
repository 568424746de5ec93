"""The Deployments page rendered by Streamlit's AppTest against a real, migrated PostgreSQL: the
rollouts, the picked one's steps, weights over time (its ``deployment.weights`` audit events) and
canary analyses, the Promote / Pause / Resume / Abort buttons by role, and the signals themselves
(against the test Temporal server: a rollout with no workflow, and a real rollout driven by
Shipway's worker)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from activities.audit_log import GENESIS_HASH, event_hash, verify_chain
from activities.canary_verdict import judge
from console import data
from shipway import control, queries
from shipway.control import ActionRefused
from shipway.db.engine import sync_engine
from shipway.db.models import Agent, AgentVersion, AuditEvent, Deployment, DeploymentAnalysis, TrafficWeight
from shipway.stack.ports import free_port
from tests.console.conftest import APP, chart_rows, open_page, run_app
from workflows.statuses import DeploymentState, VersionStatus
from workflows.types import CanaryThresholds, VersionMetrics, deployment_workflow_id

PAGE = "views/deployments.py"
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
OPERATOR = "olga.operator@bank.example"

# Metrics of a canary window: too few runs to judge; then a canary failing 30% of its runs, slower
# and dearer than the stable version.
FEW_RUNS = VersionMetrics(finished=5, failed=0, error_rate=0.0, p99_ms=900.0, cost_per_run_usd=0.002, runs=5, violations=0,
                          violation_rate=0.0)
BAD_CANARY = VersionMetrics(finished=40, failed=12, error_rate=0.3, p99_ms=2400.0, cost_per_run_usd=0.004, runs=40, violations=0,
                            violation_rate=0.0)
GOOD_CANARY = VersionMetrics(finished=60, failed=1, error_rate=1 / 60, p99_ms=1100.0, cost_per_run_usd=0.0021, runs=60,
                             violations=0, violation_rate=0.0)
STABLE = VersionMetrics(finished=400, failed=4, error_rate=0.01, p99_ms=1200.0, cost_per_run_usd=0.002, runs=400, violations=4,
                        violation_rate=0.01)


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _chain(*events: tuple[datetime, str, str, str, dict]) -> list[AuditEvent]:
    """Audit events ``(ts, actor, action, subject, detail)`` chained from the genesis hash as
    :mod:`activities.audit_log` chains them (the console tests start from an empty log)."""
    rows, prev = [], GENESIS_HASH
    for ts, actor, action, subject, detail in events:
        digest = event_hash(prev, ts.isoformat(), actor, action, subject, detail)
        rows.append(AuditEvent(ts=ts, actor=actor, action=action, subject=subject, detail=detail, prev_hash=prev, hash=digest))
        prev = digest
    return rows


def _analysis(agent: str, version: int, stable: int, index: int, step: int, weight: float, window_start: datetime,
              canary: VersionMetrics, baseline: VersionMetrics) -> DeploymentAnalysis:
    """A stored analysis judged by the real verdict with the default thresholds, as
    :class:`activities.canary.CanaryActivities` stores it."""
    a = judge(canary, baseline, CanaryThresholds())
    return DeploymentAnalysis(workflow_id=deployment_workflow_id(agent, version), analysis_index=index, agent_name=agent,
                              version=version, baseline_version=stable, step_index=step, weight_pct=weight,
                              window_start=window_start, analysed_at=window_start + timedelta(minutes=5), verdict=str(a.verdict),
                              reasons=a.reasons, metrics=[{**asdict(m), "verdict": str(m.verdict)} for m in a.metrics],
                              canary=asdict(a.canary), baseline=asdict(a.baseline))


def _seed_rollouts(seed) -> None:
    """Three rollouts, oldest first: loan-triage v1 (AllAtOnce, the agent's first version: succeeded),
    credit-underwriting v2 (a 10% canary: one inconclusive analysis, then a breach, rolled back) and
    fraud-detection v4 (linear, in progress at 30%), with their audit events and analyses."""
    reason = ("ERROR_RATE 30.0% (12/40 runs, p=1.2e-06): significantly > 5.0% (alpha 0.05); "
              "P99_LATENCY 2400 ms: > 5000 ms or > 1.5 x stable 1200 ms; COST_PER_RUN $0.0040: > 1.5 x stable $0.0020")
    seed(Deployment(agent_name="loan-triage", version=1, strategy="AllAtOnce", status=DeploymentState.SUCCEEDED,
                    workflow_id="deploy:loan-triage:v1", weight_pct=100.0, created_at=T0 - timedelta(days=2),
                    finished_at=T0 - timedelta(days=2) + timedelta(seconds=5)))
    seed(Deployment(agent_name="credit-underwriting", version=2, strategy="Canary10Percent5Minutes",
                    status=DeploymentState.ROLLED_BACK, workflow_id="deploy:credit-underwriting:v2", weight_pct=0.0,
                    detail=reason, created_at=T0, finished_at=T0 + timedelta(minutes=10)))
    seed(Deployment(agent_name="fraud-detection", version=4, strategy="Linear10PercentEvery1Minute",
                    status=DeploymentState.IN_PROGRESS, workflow_id="deploy:fraud-detection:v4", weight_pct=30.0,
                    created_at=T0 + timedelta(hours=1)))
    t1 = T0 + timedelta(hours=1)
    seed(*_chain(
        (T0 - timedelta(days=2), "alice@bank.example", "deployment.started", "agent:loan-triage:v1",
         {"strategy": "AllAtOnce", "stable": None}),
        (T0 - timedelta(days=2), "alice@bank.example", "deployment.weights", "agent:loan-triage:v1", {"weights": {"1": 100.0}}),
        (T0 - timedelta(days=2), "shipway", "lifecycle.live", "agent:loan-triage:v1", {}),  # not the rollout's own
        (T0 - timedelta(days=2), "alice@bank.example", "deployment.succeeded", "agent:loan-triage:v1", {"replaced": None}),
        (T0, "bob@bank.example", "deployment.started", "agent:credit-underwriting:v2",
         {"strategy": "Canary10Percent5Minutes", "stable": 1}),
        (T0, "bob@bank.example", "deployment.weights", "agent:credit-underwriting:v2", {"weights": {"2": 10.0, "1": 90.0}}),
        (T0 + timedelta(minutes=5), "bob@bank.example", "deployment.inconclusive", "agent:credit-underwriting:v2",
         {"step": 0, "extension": 1, "canary_runs": 5}),
        (T0 + timedelta(minutes=10), "bob@bank.example", "deployment.rolled_back", "agent:credit-underwriting:v2", {"why": reason}),
        (t1, "carol@bank.example", "deployment.started", "agent:fraud-detection:v4",
         {"strategy": "Linear10PercentEvery1Minute", "stable": 3}),
        *((t1 + timedelta(minutes=i), "carol@bank.example", "deployment.weights", "agent:fraud-detection:v4",
           {"weights": {"4": 10.0 * (i + 1), "3": 100.0 - 10.0 * (i + 1)}}) for i in range(3)),
    ))
    seed(_analysis("credit-underwriting", 2, 1, 1, 0, 10.0, T0, FEW_RUNS, STABLE),
         _analysis("credit-underwriting", 2, 1, 2, 0, 10.0, T0, BAD_CANARY, STABLE),
         *(_analysis("fraud-detection", 4, 3, i + 1, i, 10.0 * (i + 1), t1 + timedelta(minutes=i), GOOD_CANARY, STABLE)
           for i in range(2)))


def _table(at: AppTest, *columns: str):
    """The one table of the page with these columns (AppTest's dataframes carry no key)."""
    [frame] = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    return frame


def _deploy_buttons(at: AppTest) -> dict[str, tuple[str, bool]]:
    return {b.key: (b.label, b.disabled) for b in at.button if b.key.startswith("deploy_")}


def test_no_rollouts_yet(app):
    at = app(PAGE)
    assert [i.value for i in at.info] == ["No rollouts yet."]
    assert not at.dataframe and not at.button and not at.selectbox


def test_unreachable_database_says_to_run_shipway_up(console_env, monkeypatch):
    from shipway.db.engine import sync_engine
    from shipway.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", f"postgresql://shipway@127.0.0.1:{free_port()}/shipway")
    get_settings.cache_clear()
    sync_engine.cache_clear()
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert "not available" in _texts(at.error) and "shipway up" in _texts(at.info)


def test_rollouts_are_listed_newest_first_with_state_weight_and_temporal_link(app, seed, console_env):
    _seed_rollouts(seed)
    with Session(sync_engine()) as s:  # the seeded audit log is a valid chain
        assert verify_chain(queries.audit_events(s)) == (True, None)
    at = app(PAGE)

    table = at.dataframe[0].value
    assert table[["agent", "version", "strategy", "target", "state", "weight_pct"]].values.tolist() == [
        ["fraud-detection", 4, "Linear10PercentEvery1Minute", "local", "in_progress", 30.0],
        ["credit-underwriting", 2, "Canary10Percent5Minutes", "local", "rolled_back", 0.0],
        ["loan-triage", 1, "AllAtOnce", "local", "succeeded", 100.0],
    ]
    assert table["detail"].iloc[1].startswith("ERROR_RATE 30.0%") and table["detail"].iloc[0] == ""
    assert table["finished"].isna().tolist() == [True, False, False]
    ui = console_env.resolved_temporal_ui_url()
    assert table["workflow"].iloc[1] == f"{ui}/namespaces/default/workflows/deploy%3Acredit-underwriting%3Av2"
    # the newest rollout is picked first
    assert at.selectbox(key="deployment_pick").value == "deploy:fraud-detection:v4"
    assert [s.value for s in at.subheader] == ["fraud-detection v4"]


def test_a_rolled_back_rollout_shows_its_steps_weights_analyses_verdicts_and_reasons(app, seed, console_role):
    console_role("operator")
    _seed_rollouts(seed)
    at = app(PAGE)
    at.selectbox(key="deployment_pick").set_value("deploy:credit-underwriting:v2").run()
    assert not at.exception

    assert [s.value for s in at.subheader] == ["credit-underwriting v2"]
    page = _texts(at.markdown)
    assert "State **rolled_back** · strategy `Canary10Percent5Minutes` · target `local` · v2 at **0%** · stable v1" in page
    assert "workflows/deploy%3Acredit-underwriting%3Av2" in page
    assert at.query_params["deployment"] == "deploy:credit-underwriting:v2"  # a link to this rollout
    assert not _deploy_buttons(at)  # an ended rollout takes no signals, whatever the role

    steps = _table(at, "reached_at", "last_verdict")
    assert steps[["step", "weight_pct", "bake_s", "status", "analyses"]].values.tolist() == [
        [1, 10.0, 300.0, "ended here: rolled_back", 2], [2, 100.0, 0.0, "not reached", 0]]
    assert steps["last_verdict"].iloc[0] == "breach" and steps["last_verdict"].isna().iloc[1]

    analyses = _table(at, "analysed_at", "reasons")
    assert analyses[["analysis", "step", "weight_pct", "verdict", "canary_finished", "stable_finished"]].values.tolist() == [
        [1, 1, 10.0, "inconclusive", 5, 400], [2, 1, 10.0, "breach", 40, 400]]
    assert analyses[list(data.CANARY_METRICS)].values.tolist() == [
        ["inconclusive", "inconclusive", "inconclusive", "inconclusive"], ["breach", "breach", "pass", "breach"]]
    assert analyses["reasons"].iloc[0] == ""
    assert analyses["reasons"].iloc[1].startswith("ERROR_RATE 30.0% (12/40 runs, p=")

    errors = [e.value for e in at.error]
    assert errors[0].startswith("Rolled back: ERROR_RATE 30.0%")
    breach = errors[1]
    assert breach.startswith("Analysis #2 (step 1, 10% of traffic): **breach**\n- ERROR_RATE 30.0% (12/40 runs, p=")
    assert "- P99_LATENCY 2400 ms: > 5000 ms or > 1.5 x stable 1200 ms" in breach
    assert "- COST_PER_RUN $0.0040: > 1.5 x stable $0.0020" in breach
    [inconclusive] = at.warning
    assert inconclusive.value.startswith("Analysis #1 (step 1, 10% of traffic): **inconclusive**, too few runs to judge")
    assert "- `error_rate`: significantly > 5.0% (alpha 0.05); needs 20 finished runs, has 5" in inconclusive.value

    charts = chart_rows(at)
    assert set(charts) == {"Traffic weights", "Error rate (%)", "p99 latency (ms)", "Guardrail-violation rate (%)",
                           "Cost per run (USD)"}
    # weights over time: the canary step, then all back on v1 after the rollback
    assert [(r["event"], r["series"], r["weight_pct"]) for r in charts["Traffic weights"]] == [
        ("step 1", "v2 (canary)", 10.0), ("step 1", "v1 (stable)", 90.0),
        ("rolled back", "v2 (canary)", 0.0), ("rolled back", "v1 (stable)", 100.0)]
    # p99: canary against stable per analysis, and the threshold once the stable version had enough runs
    p99 = charts["p99 latency (ms)"]
    bars = [(r["analysis"], r["series"], r["value"], r["colour"]) for r in p99 if "series" in r]
    assert bars == [("#1 · step 1 · 10%", "canary v2", 900.0, "canary: inconclusive"),
                    ("#2 · step 1 · 10%", "canary v2", 2400.0, "canary: breach"),
                    ("#1 · step 1 · 10%", "stable v1", 1200.0, "stable"),
                    ("#2 · step 1 · 10%", "stable v1", 1200.0, "stable")]
    assert [r["threshold_value"] for r in p99 if "threshold_value" in r] == [1800.0, 1800.0]  # 1.5 x 1200 ms
    error_rate = charts["Error rate (%)"]
    assert [r["threshold_value"] for r in error_rate if "threshold_value" in r] == [5.0, 5.0]
    assert [r["value"] for r in error_rate if r.get("series") == "canary v2"] == [0.0, 30.0]


def test_an_in_progress_rollout_shows_where_it_is(app, seed):
    _seed_rollouts(seed)
    at = app(PAGE)
    steps = _table(at, "reached_at", "last_verdict")
    assert steps["status"].tolist() == ["done", "done", "current"] + ["pending"] * 7
    assert steps["weight_pct"].tolist() == [10.0 * i for i in range(1, 11)]
    assert steps["analyses"].tolist()[:3] == [1, 1, 0]
    weights = chart_rows(at)["Traffic weights"]
    canary = [(r["event"], r["weight_pct"]) for r in weights if r["series"] == "v4 (canary)"]
    assert canary == [("step 1", 10.0), ("step 2", 20.0), ("step 3", 30.0), ("now", 30.0)]  # held until now
    assert not at.error and not at.warning


def test_a_succeeded_first_version_has_no_stable_version_and_no_analyses(app, seed):
    _seed_rollouts(seed)
    at = app(PAGE)
    at.selectbox(key="deployment_pick").set_value("deploy:loan-triage:v1").run()
    assert "v1 at **100%** · no stable version" in _texts(at.markdown)
    steps = _table(at, "reached_at", "last_verdict")
    assert steps[["step", "weight_pct", "status"]].values.tolist() == [[1, 100.0, "done"]]
    assert "No canary analyses yet" in _texts(at.caption)
    assert [(r["event"], r["weight_pct"]) for r in chart_rows(at)["Traffic weights"]] == [("step 1", 100.0), ("succeeded", 100.0)]
    events = _table(at, "actor", "action")
    assert events["action"].tolist() == ["deployment.started", "deployment.weights", "deployment.succeeded"]


@pytest.mark.parametrize("role, deploys", [("operator", True), ("admin", True), ("approver", False), ("viewer", False)])
def test_only_a_role_that_deploys_gets_the_buttons(app, seed, console_role, role, deploys):
    console_role(role)
    _seed_rollouts(seed)
    at = app(PAGE)  # the in-progress fraud-detection v4 is picked
    buttons = _deploy_buttons(at)
    if deploys:
        wf = "deploy:fraud-detection:v4"
        assert buttons == {f"deploy_promote:{wf}": ("Promote", False), f"deploy_pause:{wf}": ("Pause", False),
                           f"deploy_resume:{wf}": ("Resume", True), f"deploy_abort:{wf}": ("Abort", False)}
        assert not at.info
    else:
        assert buttons == {}
        assert [i.value for i in at.info] == [
            f"Your role **{role}** cannot promote, pause, resume or abort rollouts; that takes the admin or operator role."]
    # read-only parts are the same for everybody
    assert _table(at, "strategy", "workflow")["agent"].iloc[0] == "fraud-detection"
    assert _table(at, "reached_at", "last_verdict")["status"].iloc[2] == "current"
    assert _table(at, "analysed_at", "reasons")["verdict"].tolist() == ["pass", "pass"]


def test_a_paused_rollout_offers_resume_not_pause(app, seed, console_role):
    console_role("operator")
    seed(Deployment(agent_name="fraud-detection", version=5, strategy="Canary10Percent5Minutes", status=DeploymentState.PAUSED,
                    workflow_id="deploy:fraud-detection:v5", weight_pct=10.0))
    seed(*_chain((T0, "carol@bank.example", "deployment.weights", "agent:fraud-detection:v5",
                  {"weights": {"5": 10.0, "4": 90.0}})))
    at = app(PAGE)
    wf = "deploy:fraud-detection:v5"
    assert {k: disabled for k, (_, disabled) in _deploy_buttons(at).items()} == {
        f"deploy_promote:{wf}": False, f"deploy_pause:{wf}": True, f"deploy_resume:{wf}": False, f"deploy_abort:{wf}": False}
    steps = _table(at, "reached_at", "last_verdict")
    assert steps["status"].tolist() == ["done", "next: paused before it"]


def test_abort_of_a_rollout_whose_workflow_does_not_exist_shows_an_error(app, seed, console_role):
    """The console signals the test Temporal server; no workflow ``deploy:fraud-detection:v4`` exists there."""
    console_role("operator")
    _seed_rollouts(seed)
    at = app(PAGE)
    at.button(key="deploy_abort:deploy:fraud-detection:v4").click().run()

    assert not at.exception
    [flash] = at.error
    assert flash.value.startswith("Could not signal deploy:fraud-detection:v4: ")
    assert not at.success
    assert at.dataframe[0].value["state"].iloc[0] == "in_progress"  # nothing changed
    assert _deploy_buttons(at)  # the page is still there, buttons and all


def test_a_signal_needs_an_operator_name(app, seed, console_role):
    console_role("operator")
    _seed_rollouts(seed)
    at = app(PAGE)
    at.sidebar.text_input(key="operator_name").input("").run()
    at.button(key="deploy_pause:deploy:fraud-detection:v4").click().run()
    assert [e.value for e in at.error] == ["Enter an operator name in the sidebar first."]


def test_threshold_values_are_the_verdicts_limits():
    a = judge(BAD_CANARY, STABLE, CanaryThresholds())
    values = {m.metric: data.threshold_value({**asdict(m), "verdict": str(m.verdict)}) for m in a.metrics}
    assert values == {"error_rate": 0.05, "p99_latency": 1800.0, "violation_rate": pytest.approx(0.03),
                      "cost_per_run": pytest.approx(0.003)}
    few = judge(FEW_RUNS, None, CanaryThresholds(max_p99_ms=4000))
    assert {m.metric: data.threshold_value(asdict(m)) for m in few.metrics} == {
        "error_rate": 0.05, "p99_latency": 4000.0, "violation_rate": pytest.approx(0.02), "cost_per_run": None}


# -- a real rollout, driven by Shipway's worker ----------------------------------------------------
async def _state_becomes(db, agent: str, version: int, state: DeploymentState, timeout_s: float = 60) -> Deployment:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        rows = await db.read(queries.deployments, agent)
        row = next((d for d in rows if d.version == version), None)
        if row is not None and row.status == state:
            return row
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{agent} v{version} stayed {row.status if row else 'unrecorded'}, not {state}")
        await asyncio.sleep(0.2)


async def _signals(db, agent: str, version: int) -> list[tuple[str, str]]:
    """``(action, actor)`` of the signals the rollout recorded in the audit log."""
    return [(e.action, e.actor) for e in await db.read(queries.audit_events, f"agent:{agent}:v{version}", "deployment.signal.")]


async def _signal_recorded(db, agent: str, version: int, n: int, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(await _signals(db, agent, version)) < n:
        assert asyncio.get_running_loop().time() < deadline, await _signals(db, agent, version)
        await asyncio.sleep(0.1)


async def _click(at: AppTest, action: str, wf: str) -> AppTest:
    at.button(key=f"deploy_{action}:{wf}").click()
    return await run_app(at)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_real_rollout_is_paused_promoted_and_resumed_from_the_page(shipway_worker, db, seed, console_role):
    from shipway.settings import CONTROL_TASK_QUEUE
    from workflows.types import DEPLOYMENT_WORKFLOW, DeploymentInput, DeploymentProgress, DeploymentStep

    console_role("operator")
    client, agent = shipway_worker, "canary-demo"
    seed(Agent(name=agent, owner="olivia.owner@bank.example", template="counting_agent:AGENT", live_version=1))
    steps = [{"weight_pct": 10, "bake_s": 3600}, {"weight_pct": 100, "bake_s": 0}]  # a long first bake: held until promoted
    seed(AgentVersion(agent_name=agent, version=1, spec={"name": agent}, status=VersionStatus.LIVE, workflow_id=f"agent:{agent}:v1"),
         AgentVersion(agent_name=agent, version=2, spec={"name": agent, "deployment": {"strategy": "Custom", "steps": steps}},
                      status=VersionStatus.DEPLOYING,
                      workflow_id=f"agent:{agent}:v2"),
         TrafficWeight(agent_name=agent, version=1, weight_pct=100.0))
    wf = deployment_workflow_id(agent, 2)
    handle = await client.start_workflow(
        DEPLOYMENT_WORKFLOW, DeploymentInput(name=agent, version=2, strategy="Custom", actor="carol.approver@bank.example",
                                             steps=[DeploymentStep(**x) for x in steps]),
        id=wf, task_queue=CONTROL_TASK_QUEUE, result_type=DeploymentProgress)
    deadline = asyncio.get_running_loop().time() + 60
    while (await db.read(queries.deployments, agent) or [None])[0] is None or \
            (await db.read(queries.deployments, agent))[0].weight_pct != 10.0:
        assert asyncio.get_running_loop().time() < deadline, "the rollout never reached 10%"
        await asyncio.sleep(0.2)

    at = await open_page(PAGE, OPERATOR)
    assert at.selectbox(key="deployment_pick").value == wf
    await _click(at, "pause", wf)
    assert [s.value for s in at.success] == [
        f"Pause of {agent} v2 sent by {OPERATOR}: the rollout holds before its next step (the current step's bake and "
        "analysis finish first)."]
    # still baking: the pause is pending (once the workflow has recorded it), so Pause is off and Resume would cancel it
    await _signal_recorded(db, agent, 2, 1)
    await run_app(at)
    assert "State **in_progress**" in _texts(at.markdown)
    assert "Pause sent by " + OPERATOR in _texts(at.info)
    assert {k: d for k, (_, d) in _deploy_buttons(at).items()}[f"deploy_pause:{wf}"] is True

    await _click(at, "promote", wf)  # ends the bake: the step is analysed, then the rollout holds before step 2
    assert at.success[0].value.startswith(f"Promote of {agent} v2 sent by {OPERATOR}")
    await _state_becomes(db, agent, 2, DeploymentState.PAUSED)
    await run_app(at)
    assert "State **paused**" in _texts(at.markdown)
    steps = _table(at, "reached_at", "last_verdict")
    assert steps["status"].tolist() == ["done", "next: paused before it"]
    analyses = _table(at, "analysed_at", "reasons")
    assert analyses["verdict"].tolist() == ["inconclusive"]  # no runs at all: promoted past it

    await _click(at, "resume", wf)
    assert at.success[0].value == f"Resume of {agent} v2 sent by {OPERATOR}: the rollout goes on."
    progress = await asyncio.wait_for(handle.result(), timeout=60)
    assert progress.state == DeploymentState.SUCCEEDED, progress
    await run_app(at)
    assert "State **succeeded**" in _texts(at.markdown) and not _deploy_buttons(at)
    weights = chart_rows(at)["Traffic weights"]
    assert [(r["event"], r["weight_pct"]) for r in weights if r["series"] == "v2 (canary)"] == [
        ("step 1", 10.0), ("step 2", 100.0), ("succeeded", 100.0)]

    # a page still showing the buttons of the ended rollout would get the refusal as its flash
    with pytest.raises(ActionRefused, match="has ended"):
        await control.signal_deployment(client, agent, 2, "abort", OPERATOR)
    assert await _signals(db, agent, 2) == [("deployment.signal.pause", OPERATOR), ("deployment.signal.promote", OPERATOR),
                       ("deployment.signal.resume", OPERATOR)]
