"""The credit-underwriting graph on all 1,000 German Credit applications (InMemorySaver)."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import ValidationError

from reference_agents.common.hitl import parse_answer
from reference_agents.credit_underwriting import AGENT
from reference_agents.credit_underwriting.policy import load_policy
from reference_agents.credit_underwriting.review import UnderwriterAnswer
from reference_agents.credit_underwriting.tools.data import PROTECTED_ATTRIBUTES, labels
from reference_agents.registry import get_agent


@pytest.fixture(scope="module")
def graph():
    return AGENT.build_graph({}).compile(checkpointer=InMemorySaver())


def _start(graph, run_input: dict, thread_id: str):
    """Validate like the platform does, then run until the end or the first interrupt."""
    config = {"configurable": {"thread_id": thread_id, "model": None}}
    return graph.invoke(AGENT.input_model.model_validate(run_input).model_dump(mode="json"), config), config


@pytest.fixture(scope="module")
def all_runs(graph):
    """Every application through the graph; referrals answered by the demo underwriter.

    Returns ``(policy outcome per application_id, final output per application_id, interrupt requests)``.
    """
    outcome, outputs, requests = {}, {}, {}
    for run_input in AGENT.sample_inputs(10_000):
        app_id = run_input["application_id"]
        state, config = _start(graph, run_input, f"all-{app_id}")
        if "__interrupt__" in state:
            outcome[app_id] = "refer"
            requests[app_id] = state["__interrupt__"][0].value
            state = graph.invoke(Command(resume=AGENT.resume_value(requests[app_id], run_input)), config)
        outputs[app_id] = AGENT.output(state)
        outcome.setdefault(app_id, outputs[app_id]["decision"])
    return outcome, outputs, requests


def test_agent_is_registered():
    assert get_agent("credit_underwriting") is AGENT
    assert AGENT.spec_path.exists() and AGENT.template_dir.is_dir()


def test_sample_inputs_are_the_real_applications_without_label():
    inputs = AGENT.sample_inputs(1000)
    assert len(inputs) == 1000 and len(AGENT.sample_inputs(3)) == 3
    assert all("creditability" not in i for i in inputs)
    assert inputs[0]["credit_amount"] == 1169 and inputs[0]["duration_in_month"] == 6
    assert Counter(labels().values()) == {"good": 700, "bad": 300}


def test_decision_mix_on_all_applications_is_realistic(all_runs):
    outcome, *_ = all_runs
    mix = Counter(outcome.values())
    assert sum(mix.values()) == 1000
    assert 500 <= mix["approve"] <= 750
    assert 100 <= mix["decline"] <= 350
    assert 50 <= mix["refer"] <= 200


def test_policy_declines_bad_applications_far_more_often_than_good(all_runs):
    outcome, outputs, *_ = all_runs
    label = labels()
    rate = {lab: sum(outcome[i] == "decline" for i in outcome if label[i] == lab) / sum(l == lab for l in label.values())
            for lab in ("good", "bad")}
    assert rate["bad"] > 3 * rate["good"]
    final = {lab: sum(outputs[i]["decision"] == "decline" for i in outputs if label[i] == lab) for lab in ("good", "bad")}
    assert final["bad"] / 300 > 2 * final["good"] / 700


def test_every_decision_is_final_with_reasons_and_units(all_runs):
    _, outputs, *_ = all_runs
    for out in outputs.values():
        assert out["decision"] in ("approve", "decline")
        assert out["reasons"] and all(r.isupper() and " " not in r for r in out["reasons"])
        assert (len(out["adverse_action_reasons"]) > 0) == (out["decision"] == "decline")
        assert 0.0 < out["pd_pct"] < 100.0
        assert out["amount_per_month_dm"] == pytest.approx(out["credit_amount_dm"] / out["duration_months"], abs=0.01)
        json.dumps(out)  # the run output crosses Temporal as JSON


def test_referrals_are_decided_by_the_underwriter_and_keep_referral_reasons(all_runs):
    outcome, outputs, requests = all_runs
    for app_id, request in requests.items():
        out = outputs[app_id]
        assert out["decided_by"] == "underwriter" and out["underwriter_review"]["reviewer"] == "demo-underwriter-01"
        assert out["referral_reasons"] == [r["code"] for r in request["reasons"]] and out["referral_reasons"]
        assert out["reasons"] == ["UNDERWRITER_APPROVED" if out["decision"] == "approve" else "UNDERWRITER_DECLINED"]
        assert out["underwriter_review"]["decision"] == out["decision"]
        # The demo underwriter's documented rule: approve below 9 % PD.
        assert (out["decision"] == "approve") == (request["context"]["pd_pct"] < 9.0)
    for app_id in (i for i in outcome if outcome[i] != "refer"):
        out = outputs[app_id]
        assert (out["decided_by"], out["underwriter_review"], out["referral_reasons"]) == ("policy", None, [])


def test_referral_request_has_what_an_underwriter_needs_and_no_protected_attributes(all_runs):
    _, outputs, requests = all_runs
    wording = load_policy().reason_descriptions()
    for app_id, request in requests.items():
        assert (request["kind"], request["decisions"], request["error"]) == ("credit_referral", ["approve", "decline"], None)
        assert set(request["context"]) == {"application_summary", "pd_pct", "score_points", "top_risk_factors",
                                           "adverse_action_reasons", "policy_version"}
        assert request["context"]["pd_pct"] == outputs[app_id]["pd_pct"]
        # what the applicant is told if the underwriter declines is what a decline then carries
        if outputs[app_id]["decision"] == "decline":
            assert request["context"]["adverse_action_reasons"] == outputs[app_id]["adverse_action_reasons"]
        assert not set(PROTECTED_ATTRIBUTES) & set(json.dumps(request["context"]).replace('"', " ").split())
        # Each reason code that caused the referral, with the policy's wording of it.
        assert request["reasons"] == [{"code": c, "text": wording[c]} for c in outputs[app_id]["referral_reasons"]]
        jsonschema.validate(AGENT.resume_value(request, {}), request["answer_schema"])
    codes = Counter(r["code"] for request in requests.values() for r in request["reasons"])
    assert set(codes) == {"PD_IN_REFERRAL_BAND", "AMOUNT_ABOVE_AUTHORITY_LIMIT", "UNEMPLOYED_APPLICANT"}


def test_summary_reports_mix_and_label_comparison(all_runs):
    _, outputs, _ = all_runs
    line = AGENT.summarize(list(outputs.values()))
    assert line.startswith("1000 applications: policy approve ")
    assert "decline rate bad" in line and "pending 0" in line


def test_interrupt_then_resume_records_the_underwriters_answer(graph):
    run_input = AGENT.sample_inputs(4)[3]  # 7,882 DM over 42 months: PD in the grey band
    state, config = _start(graph, run_input, "resume-1")
    request = state["__interrupt__"][0].value
    assert [r["code"] for r in request["reasons"]] == ["PD_IN_REFERRAL_BAND"]
    summary = request["context"]["application_summary"]
    assert summary["credit_amount"] == 7882
    # the underwriter reads corrected meanings, not the Statlog labels of the input
    assert run_input["status_of_existing_checking_account"] == "... < 0 DM"
    assert summary["status_of_existing_checking_account"] == "no checking account"
    assert summary["credit_history"] == "no credits taken/all credits paid back duly"
    assert graph.get_state(config).next == ("underwriter_review",)
    answer = {"decision": "approve", "reviewer": "uw-42", "note": "collateral seen"}
    out = AGENT.output(graph.invoke(Command(resume=answer), config))
    assert out["decision"] == "approve" and out["decided_by"] == "underwriter"
    assert out["underwriter_review"] == answer
    assert out["referral_reasons"] == ["PD_IN_REFERRAL_BAND"]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"decision": "maybe", "reviewer": "uw-1", "note": ""}, "decision"),
        ({"decision": "approve", "reviewer": "  ", "note": ""}, "reviewer"),
        ({"decision": "approve", "note": ""}, "reviewer"),
        ({"decision": "approve", "underwriter": "uw-1"}, "underwriter"),  # the old field name is refused
        ({"decision": "approve", "reviewer": "uw-1", "limit": 5000}, "limit"),
        ("approve", "answer"),  # not a JSON object at all
    ],
)
def test_bad_answer_is_reasked_naming_the_field_and_the_referral_stays_open(graph, value, field):
    state, config = _start(graph, AGENT.sample_inputs(4)[3], f"bad-resume-{field}-{len(value)}")
    first = state["__interrupt__"][0].value
    with pytest.raises(ValueError, match=field):
        parse_answer(UnderwriterAnswer, value)
    again = graph.invoke(Command(resume=value), config)
    request = again["__interrupt__"][0].value
    assert field in request["error"] and {**request, "error": None} == first
    assert "decision" not in graph.get_state(config).values
    out = AGENT.output(graph.invoke(Command(resume={"decision": "decline", "reviewer": "uw-2"}), config))
    assert (out["decision"], out["underwriter_review"]) == ("decline", {"decision": "decline", "reviewer": "uw-2", "note": ""})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"purpose": "yacht"}, "purpose"),
        ({"credit_amount": -5}, "credit_amount"),
        ({"duration_in_month": 0}, "duration_in_month"),
        ({"installment_rate_in_percentage_of_disposable_income": 7}, "installment_rate_in_percentage_of_disposable_income"),
        ({"age_in_years": 12}, "age_in_years"),
        ({"creditability": "good"}, "creditability"),
    ],
)
def test_malformed_application_is_rejected_naming_the_field(change, field):
    with pytest.raises(ValidationError) as err:
        AGENT.input_model.model_validate({**AGENT.sample_inputs(1)[0], **change})
    assert [e["loc"][0] for e in err.value.errors()] == [field]


def test_graph_intake_rejects_a_missing_field_even_without_the_platform(graph):
    run_input = {k: v for k, v in AGENT.sample_inputs(1)[0].items() if k != "credit_history"}
    with pytest.raises(ValidationError, match="credit_history"):
        graph.invoke(run_input, {"configurable": {"thread_id": "missing-field"}})


def test_spec_config_overrides_the_policy():
    strict = AGENT.build_graph({"thresholds": {"pd_decline_cutoff_pct": 0.5}}).compile(checkpointer=InMemorySaver())
    state, _ = _start(strict, AGENT.sample_inputs(1)[0], "strict")  # PD about 1 %
    assert AGENT.output(state)["reasons"] == ["PD_ABOVE_DECLINE_CUTOFF"]
    with pytest.raises(ValueError, match="thresholds.pd_decline_cutof"):
        AGENT.build_graph({"thresholds": {"pd_decline_cutof": 5.0}})


def test_graph_input_schema_is_the_application(graph):
    assert set(graph.get_input_jsonschema()["properties"]) == set(AGENT.input_model.model_fields)


async def test_streams_updates_and_interrupt_like_the_platform(graph):
    config = {"configurable": {"thread_id": "astream-1", "model": None}}
    run_input = AGENT.input_model.model_validate(AGENT.sample_inputs(4)[3]).model_dump(mode="json")
    nodes, interrupts = [], []
    async for chunk in graph.astream(run_input, config, stream_mode="updates"):
        for node, update in chunk.items():
            if node == "__interrupt__":
                interrupts.append(update)
            else:
                nodes.append(node)
    assert len(interrupts) == 1 and interrupts[0][0].value["kind"] == "credit_referral"
    assert nodes == ["supervisor", "intake", "supervisor", "risk_scoring", "supervisor", "policy_decision", "supervisor"]
    resumed = [c async for c in graph.astream(Command(resume=AGENT.resume_value(interrupts[0][0].value, run_input)),
                                               config, stream_mode="updates")]
    assert [next(iter(c)) for c in resumed] == ["underwriter_review", "supervisor", "narrative", "supervisor"]
    out = AGENT.output((await graph.aget_state(config)).values)
    assert out["decided_by"] == "underwriter" and out["narrative_source"] == "tools"
