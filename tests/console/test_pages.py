"""The console's pages rendered by Streamlit's AppTest against a real, migrated PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Literal, TypedDict

import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from streamlit.testing.v1 import AppTest

from console.data import RUNS_TABLE_LIMIT
from reference_agents.common.hitl import ReasonText, ReviewAnswer, build_request
from shipway.db.models import Agent, AgentVersion, Approval, ApprovalRequest, Run, TrafficWeight, WebhookDelivery, utcnow
from shipway.stack.ports import free_port
from tests.console.conftest import APP
from workflows.statuses import ApprovalKind, RunStatus, VersionStatus, WebhookOutcome

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


def _agent_with_versions(seed, **pending) -> None:
    """credit-underwriting: v1 live, v2 awaiting approval (its fields overridden by ``pending``)."""
    seed(Agent(name="credit-underwriting", owner=SPEC["owner"], template=SPEC["template"], description=SPEC["description"], live_version=1))
    seed(
        AgentVersion(agent_name="credit-underwriting", version=1, spec=SPEC, status=VersionStatus.LIVE, artifact_sha256=SHA,
                     submitted_by=SPEC["owner"], workflow_id="agent:credit-underwriting:v1"),
        AgentVersion(**{"agent_name": "credit-underwriting", "version": 2, "spec": {**SPEC, "model": "openai:gpt-4.1-mini"},
                        "status": VersionStatus.AWAITING_APPROVAL, "submitted_by": "dev.bot@bank.example",
                        "workflow_id": "agent:credit-underwriting:v2", **pending}),
        TrafficWeight(agent_name="credit-underwriting", version=1, weight_pct=100.0),
    )


def test_empty_database_shows_no_agents_yet(app):
    at = app("views/agents.py")
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
    at = app("views/agents.py")
    agents, versions, traffic = (d.value for d in at.dataframe)

    row = agents.set_index("name").loc["credit-underwriting"]
    assert (row.owner, row.template, row.live_version, row.versions) == ("alice@bank.example", "credit_underwriting", 1, 2)

    v = versions.set_index("version")
    assert list(v.index) == [2, 1]  # newest first
    assert v.loc[1, "status"] == VersionStatus.LIVE and v.loc[2, "status"] == VersionStatus.AWAITING_APPROVAL
    assert (v.loc[1, "submitted_by"], v.loc[2, "submitted_by"]) == ("alice@bank.example", "dev.bot@bank.example")
    assert (v.loc[1, "status_detail"], v.loc[2, "status_detail"]) == ("", "")
    assert v.loc[1, "artifact_sha256"] == SHA[:12] and v.loc[2, "artifact_sha256"] == ""
    ui = console_env.resolved_temporal_ui_url()
    assert v.loc[1, "workflow"] == f"{ui}/namespaces/default/workflows/agent%3Acredit-underwriting%3Av1"

    assert traffic[["agent", "version", "weight_pct"]].values.tolist() == [["credit-underwriting", 1, 100.0]]
    assert f"[Temporal UI]({ui}/namespaces/default/workflows)" in _texts(at.sidebar.markdown)


def test_ended_versions_show_why_on_the_agents_page(app, seed):
    _agent_with_versions(seed)
    ended = {
        3: (VersionStatus.FAILED, "scaffold failed: generated tests failed (2 of 9)"),
        4: (VersionStatus.REJECTED, "rejected by carol@bank.example: PD model not validated"),
        5: (VersionStatus.ROLLED_BACK, "canary error rate 12% above 5%"),
    }
    seed(*(AgentVersion(agent_name="credit-underwriting", version=n, spec=SPEC, status=status, status_detail=detail,
                        workflow_id=f"agent:credit-underwriting:v{n}") for n, (status, detail) in ended.items()))
    at = app("views/agents.py")
    versions = at.dataframe[1].value.set_index("version")
    for n, (status, detail) in ended.items():
        assert (versions.loc[n, "status"], versions.loc[n, "status_detail"]) == (status, detail)


def test_approvals_page_shows_pending_version_spec_and_refused_attempts_with_channel(app, seed, console_role):
    console_role("approver")
    _agent_with_versions(seed)
    seed(Approval(agent_name="credit-underwriting", version=2, decision=ApprovalKind.APPROVE, approver="alice@bank.example",
                  reason="looks good", accepted=False, refusal_reason="approver is the agent's owner", channel="console"),
         Approval(agent_name="credit-underwriting", version=1, decision=ApprovalKind.APPROVE, approver="bob@bank.example",
                  reason="fine", accepted=True, channel="console"))
    at = app("views/approvals.py")

    assert [s.value for s in at.subheader] == ["credit-underwriting v2"]  # v1 is live, not pending
    page = _texts(at.markdown)
    for shown in ("alice@bank.example", "dev.bot@bank.example", "credit_underwriting", "openai:gpt-4.1-mini", "confidential",
                  SPEC["description"]):
        assert shown in page
    assert "workflows/agent%3Acredit-underwriting%3Av2" in page
    [refused] = at.warning  # only the refused attempt of the pending version
    assert "Refused approve by alice@bank.example (via console)" in refused.value
    assert "approver is the agent's owner" in refused.value
    assert {b.label for b in at.button} == {"Approve", "Reject"}
    assert "You act as **operator** (role approver)" in _texts(at.caption)


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_the_console_hides_approve_from_a_viewer(app, seed, console_role, role):
    console_role(role)  # an operator deploys, but does not approve either
    _agent_with_versions(seed)
    at = app("views/approvals.py")
    assert [s.value for s in at.subheader] == ["credit-underwriting v2"]  # the pending version is listed...
    assert "Refused" not in _texts(at.warning)
    assert not at.button and not at.text_area  # ...without a decision form
    assert [i.value for i in at.info] == [
        f"Your role **{role}** cannot approve or reject versions; that takes the admin or approver role."]
    assert f"You act as **operator** (role {role})" in _texts(at.caption)


def test_decision_without_reason_is_not_sent(app, seed, console_role):
    console_role("approver")
    _agent_with_versions(seed)
    at = app("views/approvals.py")
    at.button(key="approve:credit-underwriting:2").click().run()
    assert "Give a reason" in _texts(at.error)


def _request(**fields) -> ApprovalRequest:
    """The approval request of credit-underwriting v2 (as the workflow opens it), with ``fields``."""
    return ApprovalRequest(**{"agent_name": "credit-underwriting", "version": 2, "workflow_id": "agent:credit-underwriting:v2",
                              "owner": SPEC["owner"], **fields})


def test_a_pending_card_shows_how_long_it_waits_its_jira_issue_and_the_diff_against_the_previous_version(app, seed):
    _agent_with_versions(seed, updated_at=utcnow() - timedelta(hours=3, minutes=12, seconds=30))
    seed(_request(jira_key="APPR-12", jira_url="https://bank.atlassian.net/browse/APPR-12"))
    at = app("views/approvals.py")

    page = _texts(at.markdown)
    assert "Waiting 3 h 12 min (since " in page
    assert "Jira [APPR-12](https://bank.atlassian.net/browse/APPR-12)" in page
    assert "Approvals:" not in page  # confidential data: one approver, no count shown
    assert not at.warning and not at.error
    assert "No spec guard findings." in _texts(at.caption)
    [expander] = at.expander
    assert expander.label == "Diff against v1"
    [spec_diff] = expander.code  # v2 is not built in this seed: the specs only
    assert spec_diff.language == "diff"
    assert "-model: openai:gpt-4o-mini\n+model: openai:gpt-4.1-mini\n" in spec_diff.value
    assert "v2 has no artifact yet (status: awaiting_approval): only the specs are compared." in _texts(expander.caption)


def test_a_first_version_has_nothing_to_compare_and_a_missing_artifact_is_shown_not_raised(app, seed, console_role):
    console_role("approver")
    seed(Agent(name="fraud-detection", owner=SPEC["owner"], template=SPEC["template"], description=SPEC["description"]))
    seed(AgentVersion(agent_name="fraud-detection", version=1, spec={**SPEC, "name": "fraud-detection"}, artifact_sha256=SHA,
                      status=VersionStatus.AWAITING_APPROVAL, workflow_id="agent:fraud-detection:v1"))
    _agent_with_versions(seed, artifact_sha256="e" * 64)  # built, but neither artifact is in the store
    at = app("views/approvals.py")

    first, second = at.expander  # fraud-detection v1 was seeded first: it has waited longer
    assert (first.label, second.label) == ("Diff against the previous version", "Diff against v1")
    assert "First version: nothing to compare." in _texts(first.caption)
    [error] = second.error
    assert error.value.startswith("Cannot compare v1 and v2: ") and SHA in error.value
    assert {b.key for b in at.button} == {f"{verb}:{key}" for verb in ("approve", "reject")
                                          for key in ("fraud-detection:1", "credit-underwriting:2")}


def test_without_jira_the_card_names_no_issue_and_with_jira_it_says_none_yet(app, seed, monkeypatch):
    from shipway.settings import get_settings

    _agent_with_versions(seed)
    seed(_request())
    assert "Jira" not in _texts(app("views/approvals.py").markdown)

    for name, value in {"SHIPWAY_JIRA_URL": "https://bank.atlassian.net", "SHIPWAY_JIRA_EMAIL": "shipway@bank.example",
                        "SHIPWAY_JIRA_API_TOKEN": "token"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    assert "no Jira issue yet" in _texts(app("views/approvals.py").markdown)


def test_jira_unreachable_is_a_visible_warning_on_the_card(app, seed):
    _agent_with_versions(seed)
    seed(_request(jira_unreachable_since=datetime(2026, 5, 4, 9, 30, 5, tzinfo=UTC),
                  jira_error="POST /rest/api/3/issue: 503 Service Unavailable"))
    at = app("views/approvals.py")
    [warning] = at.warning
    assert warning.value == ("Jira unreachable since 2026-05-04 09:30:05 UTC: POST /rest/api/3/issue: 503 Service Unavailable; "
                             "the workflow keeps retrying.")
    assert "no Jira issue yet" in _texts(at.markdown)


def test_a_restricted_version_shows_its_approvals_so_far_and_the_guard_findings(app, seed, console_role):
    console_role("approver")
    _agent_with_versions(seed, spec={**SPEC, "data_classification": "restricted"})
    findings = [{"field": "description", "entity": "PERSON", "start": 40, "end": 52, "score": 0.41},
                {"field": "system_prompt", "entity": "EMAIL_ADDRESS", "start": 3, "end": 21, "score": 0.35}]
    seed(_request(required_approvers=2, guard_findings=findings),
         Approval(agent_name="credit-underwriting", version=2, decision=ApprovalKind.APPROVE, approver="bob@bank.example",
                  reason="MRM-112 passed", accepted=True, channel="jira"),
         Approval(agent_name="credit-underwriting", version=2, decision=ApprovalKind.APPROVE, approver="bob@bank.example",
                  reason="again", accepted=False, refusal_reason="bob@bank.example already approved", channel="console"))
    at = app("views/approvals.py")

    assert ("Approvals: 1 of 2 (bob@bank.example); restricted data needs 2 different approvers."
            in [m.value for m in at.markdown])
    [table] = at.dataframe
    assert table.value.to_dict("records") == findings
    [refused] = at.warning
    assert "Refused approve by bob@bank.example (via console)" in refused.value
    assert {b.label for b in at.button} == {"Approve", "Reject"}  # still waiting for a second approver


def test_a_restricted_version_without_a_request_row_yet_still_needs_two(app, seed):
    _agent_with_versions(seed, spec={**SPEC, "data_classification": "restricted"})
    at = app("views/approvals.py")
    assert "Approvals: 0 of 2; restricted data needs 2 different approvers." in [m.value for m in at.markdown]


# A Jira webhook moving APPR-999 to Approved: a verified delivery, stored whole for a replay.
ISSUE_UPDATED = {
    "timestamp": 1777886400000,
    "webhookEvent": "jira:issue_updated",
    "issue_event_type_name": "issue_generic",
    "user": {"accountId": "712020:dana", "displayName": "Dana Approver"},
    "issue": {"id": "10999", "key": "APPR-999", "fields": {"summary": "Approve agent fraud-detection v4"}},
    "changelog": {"id": "20001", "items": [{"field": "status", "fieldtype": "jira", "from": "10001",
                                            "fromString": "Awaiting approval", "to": "10002", "toString": "Approved"}]},
}


def _dead_letter(issue_key: str = "APPR-999", **fields) -> WebhookDelivery:
    body = json.dumps({**ISSUE_UPDATED, "issue": {**ISSUE_UPDATED["issue"], "key": issue_key}})
    return WebhookDelivery(**{"identifier": f"wh-{issue_key}", "body": body, "body_bytes": len(body), "signature_valid": True,
                              "outcome": WebhookOutcome.DEAD_LETTER, "event": "jira:issue_updated", "issue_key": issue_key,
                              "decision": ApprovalKind.APPROVE, "jira_account_id": "712020:dana", "approver": "dana@bank.example",
                              "workflow_id": "agent:fraud-detection:v4", "attempts": 3,
                              "detail": "could not signal agent:fraud-detection:v4: workflow not found", **fields})


@pytest.mark.parametrize("role, replays", [("operator", True), ("admin", True), ("approver", False), ("viewer", False)])
def test_dead_letters_are_listed_and_only_an_operator_gets_replay_buttons(app, seed, console_role, role, replays):
    console_role(role)
    seed(_dead_letter("APPR-7"), _dead_letter("APPR-8", approver=None, jira_account_id="712020:unknown"),
         WebhookDelivery(identifier="wh-ok", signature_valid=True, outcome=WebhookOutcome.SIGNALLED, issue_key="APPR-6"))
    at = app("views/approvals.py")

    assert [h.value for h in at.header] == ["Webhook dead letters"]
    [table] = at.dataframe  # no pending versions: the dead letters' table is the only one
    rows = table.value
    assert list(rows.columns) == ["id", "received", "issue", "decision", "Jira account -> approver", "attempts", "detail"]
    assert rows["id"].tolist() == [2, 1]  # newest first; the signalled delivery is not a dead letter
    assert rows["Jira account -> approver"].tolist() == ["712020:unknown -> (unmapped)", "712020:dana -> dana@bank.example"]
    assert rows.loc[1, ["issue", "decision", "attempts"]].tolist() == ["APPR-7", "approve", 3]
    assert rows.loc[1, "detail"] == "could not signal agent:fraud-detection:v4: workflow not found"
    replay_buttons = {b.key: b.label for b in at.button if b.key.startswith("replay")}
    if replays:
        assert replay_buttons == {"replay:2": "Replay #2", "replay:1": "Replay #1", "replay_all": "Replay all"}
    else:
        assert replay_buttons == {}
        assert (f"Your role **{role}** cannot replay dead letters; that takes the admin or operator role."
                in [i.value for i in at.info])


def test_no_dead_letters_says_so(app):
    at = app("views/approvals.py")
    assert "No agent versions are waiting for approval." in [i.value for i in at.info]
    assert "No dead letters." in _texts(at.caption)
    assert not at.dataframe and not at.button


def test_replaying_a_dead_letter_for_an_issue_shipway_did_not_open_settles_it_as_ignored(app, seed, console_role):
    """The console connects to the test Temporal server; the delivery reaches no workflow, so no worker is needed."""
    console_role("operator")
    seed(_dead_letter("APPR-999"))
    at = app("views/approvals.py")
    at.button(key="replay:1").click().run()

    assert not at.exception
    [flash] = at.success
    assert flash.value == "Replayed 1 dead letter(s):\n- #1: ignored: APPR-999 is not an approval issue Shipway opened"
    assert "No dead letters." in _texts(at.caption)
    assert not [b for b in at.button if b.key.startswith("replay")]


class ReferralAnswer(ReviewAnswer):
    decision: Literal["refer", "decline"]
    desk: Literal["retail", "sme"] | None = None


# What a credit agent stores in runs.interrupt, asked again after an answer without a reviewer.
REFERRAL = {
    **build_request("credit_referral", "Refer to an underwriter?", ReferralAnswer, {"loan_amnt": 48000, "dti_pct": 47.2},
                    [ReasonText(code="DTI_HIGH", text="Debt-to-income above 45% needs an underwriter.")]).model_dump(mode="json"),
    "error": "reviewer: Field required",
}


def _runs(seed) -> list[Run]:
    t0 = utcnow()
    runs = [
        Run(id="r-ok", agent_name="credit-underwriting", version=1, thread_id="th-ok", tenant="bank-a", status=RunStatus.SUCCEEDED,
            input={"loan_amnt": 12000}, output={"decision": "approve", "reasons": []}, workflow_id="run:r-ok",
            started_at=t0 - timedelta(minutes=3), latency_ms=820.0, cost_usd=0.0012),
        Run(id="r-fail", agent_name="fraud-detection", version=3, thread_id="th-fail", tenant="bank-b", status=RunStatus.FAILED,
            input={"amount": 99.5}, error="input guard: PII in free text", workflow_id="run:r-fail",
            started_at=t0 - timedelta(minutes=2), latency_ms=40.0, cost_usd=0.0),
        Run(id="r-wait", agent_name="credit-underwriting", version=1, thread_id="th-wait", tenant="bank-a",
            status=RunStatus.INTERRUPTED, input={"loan_amnt": 48000}, interrupt=REFERRAL, workflow_id="run:r-wait",
            started_at=t0 - timedelta(minutes=1), cost_usd=0.0030),
    ]
    seed(*runs)
    return runs


def test_runs_page_lists_runs_with_totals_and_filters(app, seed):
    _runs(seed)
    at = app("views/runs.py")
    runs = at.dataframe[0].value
    assert runs["run_id"].tolist() == ["r-wait", "r-fail", "r-ok"]  # newest first
    assert runs.set_index("run_id").loc["r-ok", ["agent", "version", "status", "latency_ms", "tenant"]].tolist() == \
        ["credit-underwriting", 1, RunStatus.SUCCEEDED, 820.0, "bank-a"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Runs": "3", "Cost (USD)": "$0.0042",
                       "Mean latency (ms)": "430",  # (820 + 40) / 2: the interrupted run has no latency yet
                       "p95 latency (ms)": "781"}  # 40 + 0.95 * (820 - 40), interpolated like percentile_cont
    captions = _texts(at.caption)
    assert "failed: 1 · interrupted: 1 · succeeded: 1" in captions
    assert "newest 3 of 3 matching runs" in captions

    at.selectbox(key="runs_agent").set_value("credit-underwriting").run()
    assert set(at.dataframe[0].value["agent"]) == {"credit-underwriting"}
    assert {m.label: m.value for m in at.metric}["Runs"] == "2"
    at.selectbox(key="runs_status").set_value(RunStatus.FAILED).run()
    assert "No runs match" in _texts(at.info)
    at.selectbox(key="runs_agent").set_value("(all)").run()
    assert at.dataframe[0].value["run_id"].tolist() == ["r-fail"]


def test_a_console_of_one_tenant_shows_and_opens_only_that_tenants_runs(app, seed, monkeypatch):
    from shipway.settings import get_settings

    _runs(seed)
    monkeypatch.setenv("SHIPWAY_CONSOLE_TENANT", "bank-b")
    get_settings.cache_clear()
    at = app("views/runs.py")
    assert at.dataframe[0].value["run_id"].tolist() == ["r-fail"]
    assert {m.label: m.value for m in at.metric}["Runs"] == "1"
    assert "tenant `bank-b`" in " ".join(m.value for m in at.sidebar.markdown)
    # a bank-a run named in the URL is not opened for bank-b
    at.query_params["run"] = "r-ok"
    at.run()
    assert at.selectbox(key="run_pick").value == "r-fail"


def test_runs_totals_and_percentiles_cover_every_matching_run_beyond_the_table(app, seed):
    t0 = utcnow()
    recent = [Run(id=f"fast-{i:03}", agent_name="fraud-detection", version=1, thread_id=f"fast-{i:03}", status=RunStatus.SUCCEEDED,
                  workflow_id=f"run:fast-{i:03}", started_at=t0 - timedelta(seconds=i), latency_ms=100.0, cost_usd=0.001)
              for i in range(RUNS_TABLE_LIMIT)]
    older = [Run(id=f"slow-{i:03}", agent_name="fraud-detection", version=1, thread_id=f"slow-{i:03}", status=RunStatus.FAILED,
                 workflow_id=f"run:slow-{i:03}", started_at=t0 - timedelta(days=1, seconds=i), latency_ms=10000.0, cost_usd=0.001)
             for i in range(40)]
    seed(*recent, *older)
    at = app("views/runs.py")

    assert len(at.dataframe[0].value) == RUNS_TABLE_LIMIT
    assert set(at.dataframe[0].value["status"]) == {RunStatus.SUCCEEDED}  # the table holds only the newest runs...
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Runs": "540", "Cost (USD)": "$0.5400",
                       "Mean latency (ms)": "833",  # (500 * 100 + 40 * 10,000) / 540
                       "p95 latency (ms)": "10,000"}  # ...the totals all of them: the 95th percentile is a slow one
    captions = _texts(at.caption)
    assert f"newest {RUNS_TABLE_LIMIT} of 540 matching runs" in captions
    assert "failed: 40 · succeeded: 500" in captions


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


def test_run_detail_shows_checkpoint_history_and_an_empty_form_built_from_the_request(app, seed, console_env, console_role):
    console_role("operator")  # an operator answers any interrupted run of the tenant
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

    page = _texts(at.markdown)
    assert "**Refer to an underwriter?**" in page
    assert "- `DTI_HIGH`: Debt-to-income above 45% needs an underwriter." in page
    assert "The previous answer was refused: reviewer: Field required" in _texts(at.warning)
    assert {"loan_amnt": 48000, "dti_pct": 47.2} in [json.loads(j.value) for j in at.json]
    inputs = {t.key: t for t in at.text_input if t.key.startswith("answer:")}
    assert {k: (t.label, t.value) for k, t in inputs.items()} == {
        "answer:r-wait:reviewer": ("Reviewer (required)", ""),
        "answer:r-wait:note": ("Note", ""),
    }
    desk = at.selectbox(key="answer:r-wait:desk")
    assert (desk.label, desk.options, desk.value) == ("Desk", ["", "retail", "sme"], None)
    buttons = [b for b in at.button if b.key.startswith("decide:r-wait:")]
    assert [(b.key, b.label) for b in buttons] == [("decide:r-wait:refer", "refer"), ("decide:r-wait:decline", "decline")]
    assert "Sent as **operator**" in _texts(at.caption)

    at.selectbox(key="run_pick").set_value("r-ok").run()
    assert "No LangGraph checkpoints for thread `th-ok`" in _texts(at.info)
    assert not [t for t in at.text_input if t.key.startswith("answer:")]  # only interrupted runs are answered
    assert not [b for b in at.button if b.key.startswith("decide:")]


def test_a_viewer_reads_the_pending_request_but_gets_no_answer_form(app, seed, console_role):
    console_role("viewer")
    _runs(seed)
    at = app("views/runs.py")
    assert at.selectbox(key="run_pick").value == "r-wait"
    assert "**Refer to an underwriter?**" in _texts(at.markdown)
    assert not [t for t in at.text_input if t.key.startswith("answer:")]
    assert not [s for s in at.selectbox if s.key.startswith("answer:")]
    assert not at.button
    assert "Your role **viewer** cannot answer interrupted runs; that takes the admin, operator or approver role." in _texts(at.info)


def test_a_caller_key_role_does_not_read_the_tenants_runs(app, seed, console_role):
    console_role("caller")
    _runs(seed)
    at = app("views/runs.py")
    assert not at.dataframe and not at.metric
    assert [i.value for i in at.info] == ["Your role **caller** cannot read the tenant's runs; that takes the admin, operator, "
                                          "approver or viewer role."]


def test_an_interrupt_that_is_not_a_request_gets_no_form(app, seed):
    seed(Run(id="r-legacy", agent_name="credit-underwriting", version=1, thread_id="th-legacy", status=RunStatus.INTERRUPTED,
             interrupt={"question": "Refer?", "allowed_decisions": ["refer", "decline"]}, workflow_id="run:r-legacy"))
    at = app("views/runs.py")
    assert "not an InterruptRequest" in _texts(at.error) and "answer_schema" in _texts(at.error)
    assert not [b for b in at.button if b.key.startswith("decide:")]
