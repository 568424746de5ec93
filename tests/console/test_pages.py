"""The console's pages rendered by Streamlit's AppTest against a real, migrated PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TypedDict

from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from streamlit.testing.v1 import AppTest

from shipway.db.models import Agent, AgentVersion, Approval, Run, TrafficWeight, utcnow
from shipway.stack.ports import free_port
from tests.console.conftest import APP

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SPEC = {
    "name": "credit-underwriting",
    "owner": "alice@bank.example",
    "description": "Scores consumer credit applications against the lending policy.",
    "template": "credit_underwriting",
    "model": "openai:gpt-4o-mini",
    "data_classification": "confidential",
}


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _agent_with_versions(seed) -> None:
    seed(Agent(name="credit-underwriting", owner=SPEC["owner"], template=SPEC["template"], description=SPEC["description"], live_version=1))
    seed(
        AgentVersion(agent_name="credit-underwriting", version=1, spec=SPEC, status="live", artifact_sha256=SHA,
                     workflow_id="agent:credit-underwriting:v1"),
        AgentVersion(agent_name="credit-underwriting", version=2, spec={**SPEC, "model": "openai:gpt-4.1-mini"},
                     status="awaiting_approval", workflow_id="agent:credit-underwriting:v2"),
        TrafficWeight(agent_name="credit-underwriting", version=1, weight_pct=100.0),
    )


def test_empty_database_shows_no_agents_yet(app):
    at = app()
    assert "No agents yet" in _texts(at.info)
    assert len(at.dataframe) == 0
    assert not at.error


def test_unreachable_database_says_to_run_shipway_up(console_env, monkeypatch):
    from shipway.db.engine import sync_engine
    from shipway.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", f"postgresql://shipway@127.0.0.1:{free_port()}/shipway")
    get_settings.cache_clear()
    sync_engine.cache_clear()
    for page in ("views/agents.py", "views/approvals.py", "views/runs.py"):
        at = AppTest.from_file(str(APP), default_timeout=60).run()
        at.switch_page(page).run()
        assert not at.exception, page
        assert "not available" in _texts(at.error), page
        assert "shipway up" in _texts(at.info), page


def test_agents_page_lists_versions_with_status_hash_and_temporal_link(app, seed, console_env):
    _agent_with_versions(seed)
    at = app()
    agents, versions, traffic = (d.value for d in at.dataframe)

    row = agents.set_index("name").loc["credit-underwriting"]
    assert (row.owner, row.template, row.live_version, row.versions) == ("alice@bank.example", "credit_underwriting", 1, 2)

    v = versions.set_index("version")
    assert list(v.index) == [2, 1]  # newest first
    assert v.loc[1, "status"] == "live" and v.loc[2, "status"] == "awaiting_approval"
    assert v.loc[1, "artifact_sha256"] == SHA[:12] and v.loc[2, "artifact_sha256"] == ""
    ui = console_env.resolved_temporal_ui_url()
    assert v.loc[1, "workflow"] == f"{ui}/namespaces/default/workflows/agent%3Acredit-underwriting%3Av1"

    assert traffic[["agent", "version", "weight_pct"]].values.tolist() == [["credit-underwriting", 1, 100.0]]
    assert f"[Temporal UI]({ui}/namespaces/default/workflows)" in _texts(at.sidebar.markdown)


def test_approvals_page_shows_pending_version_spec_and_refused_attempt(app, seed):
    _agent_with_versions(seed)
    seed(Approval(agent_name="credit-underwriting", version=2, decision="approve", approver="alice@bank.example",
                  reason="looks good", accepted=False, refusal_reason="the owner may not approve their own agent"))
    at = app("views/approvals.py")

    assert [s.value for s in at.subheader] == ["credit-underwriting v2"]  # v1 is live, not pending
    page = _texts(at.markdown)
    for shown in ("alice@bank.example", "credit_underwriting", "openai:gpt-4.1-mini", "confidential", SPEC["description"]):
        assert shown in page
    assert "workflows/agent%3Acredit-underwriting%3Av2" in page
    assert "the owner may not approve their own agent" in _texts(at.warning)
    assert "alice@bank.example" in _texts(at.warning)
    assert {b.label for b in at.button} == {"Approve", "Reject"}
    assert "You act as **operator**" in _texts(at.caption)


def test_decision_without_reason_is_not_sent(app, seed):
    _agent_with_versions(seed)
    at = app("views/approvals.py")
    at.button(key="approve:credit-underwriting:2").click().run()
    assert "Give a reason" in _texts(at.error)


def test_signed_in_user_is_who_the_console_acts_as(console_env, seed):
    _agent_with_versions(seed)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "carol@bank.example", "name": "Carol"}
    at.run()
    # AppTest keeps the entrypoint's sidebar only on the default page's run, so check it there.
    assert "Signed in as **carol@bank.example**" in _texts(at.sidebar.markdown)
    assert len(at.sidebar.text_input) == 0
    at.switch_page("views/approvals.py").run()
    assert "You act as **carol@bank.example**" in _texts(at.caption)


def _runs(seed) -> list[Run]:
    t0 = utcnow()
    runs = [
        Run(id="r-ok", agent_name="credit-underwriting", version=1, thread_id="th-ok", tenant="bank-a", status="succeeded",
            input={"loan_amnt": 12000}, output={"decision": "approve", "reasons": []}, workflow_id="run:r-ok",
            started_at=t0 - timedelta(minutes=3), latency_ms=820.0, cost_usd=0.0012),
        Run(id="r-fail", agent_name="fraud-detection", version=3, thread_id="th-fail", tenant="bank-b", status="failed",
            input={"amount": 99.5}, error="input guard: PII in free text", workflow_id="run:r-fail",
            started_at=t0 - timedelta(minutes=2), latency_ms=40.0, cost_usd=0.0),
        Run(id="r-wait", agent_name="credit-underwriting", version=1, thread_id="th-wait", tenant="bank-a", status="interrupted",
            input={"loan_amnt": 48000}, interrupt={"value": {"question": "Refer to an underwriter?", "allowed_decisions": ["refer", "decline"]}},
            workflow_id="run:r-wait", started_at=t0 - timedelta(minutes=1), cost_usd=0.0030),
    ]
    seed(*runs)
    return runs


def test_runs_page_lists_runs_with_totals_and_filters(app, seed):
    _runs(seed)
    at = app("views/runs.py")
    runs = at.dataframe[0].value
    assert runs["run_id"].tolist() == ["r-wait", "r-fail", "r-ok"]  # newest first
    assert runs.set_index("run_id").loc["r-ok", ["agent", "version", "status", "latency_ms", "tenant"]].tolist() == \
        ["credit-underwriting", 1, "succeeded", 820.0, "bank-a"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Runs"] == "3"
    assert metrics["Cost (USD)"] == "$0.0042"
    assert metrics["Mean latency (ms)"] == "430"  # (820 + 40) / 2: the interrupted run has no latency yet

    at.selectbox(key="runs_agent").set_value("credit-underwriting").run()
    assert set(at.dataframe[0].value["agent"]) == {"credit-underwriting"}
    at.selectbox(key="runs_status").set_value("failed").run()
    assert "No runs match" in _texts(at.info)
    at.selectbox(key="runs_agent").set_value("(all)").run()
    assert at.dataframe[0].value["run_id"].tolist() == ["r-fail"]


class _LoanState(TypedDict, total=False):
    amount: int
    score: int
    decision: str


def _score(state: _LoanState) -> dict:
    return {"score": 700 if state["amount"] < 20000 else 580}


def _review(state: _LoanState) -> dict:
    answer = interrupt({"question": "Refer to an underwriter?", "score": state["score"], "allowed_decisions": ["refer", "decline"]})
    return {"decision": answer["decision"]}


def _checkpointed_thread(database_url: str, thread_id: str) -> None:
    """Run a real three-node LangGraph graph with PostgresSaver until it interrupts in ``review``."""
    graph = StateGraph(_LoanState)
    graph.add_node("score", _score)
    graph.add_node("review", _review)
    graph.add_node("decide", lambda s: {"decision": s["decision"]})
    graph.add_edge(START, "score")
    graph.add_edge("score", "review")
    graph.add_edge("review", "decide")
    graph.add_edge("decide", END)
    with PostgresSaver.from_conn_string(database_url) as saver:
        result = graph.compile(checkpointer=saver).invoke({"amount": 48000}, {"configurable": {"thread_id": thread_id}})
    assert "__interrupt__" in result


def test_run_detail_shows_json_checkpoint_history_and_prefilled_resume(app, seed, console_env):
    _runs(seed)
    _checkpointed_thread(console_env.resolved_database_url(), "th-wait")
    at = app("views/runs.py")
    assert at.selectbox(key="run_pick").value == "r-wait"  # newest run is shown first

    history = at.dataframe[1].value
    assert history["step"].tolist() == [1, 0, -1]
    assert history["source"].tolist() == ["loop", "loop", "input"]
    assert history["next"].tolist() == ["review", "score", "__start__"]
    assert "__interrupt__" in history.loc[0, "writes"]  # review interrupted from the step-1 checkpoint
    assert "score" in history.loc[1, "writes"]
    assert history["checkpoint_id"].is_unique
    assert "workflows/run%3Ar-wait" in _texts(at.markdown)

    editor = at.text_area(key="resume_value:r-wait")
    assert json.loads(editor.value) == {"decision": "refer"}
    assert at.button(key="resume:r-wait").label == "Resume as operator"

    at.selectbox(key="run_pick").set_value("r-ok").run()
    assert "No LangGraph checkpoints for thread `th-ok`" in _texts(at.info)
    assert len(at.text_area) == 0  # only interrupted runs can be resumed


def test_resume_rejects_invalid_json_before_calling_temporal(app, seed):
    _runs(seed)
    at = app("views/runs.py")
    at.text_area(key="resume_value:r-wait").input("{decision: refer")
    at.button(key="resume:r-wait").click().run()
    assert "Not valid JSON" in _texts(at.error)
