"""The credit-underwriting graph on all 1,000 German Credit applications (InMemorySaver)."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import ValidationError

from reference_agents.credit_underwriting import AGENT, labels
from reference_agents.credit_underwriting.tools.review import InvalidUnderwriterDecision, parse_underwriter_decision
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

    Returns ``(policy outcome per application_id, final output per application_id, payloads, seconds per run)``.
    """
    outcome, outputs, payloads = {}, {}, {}
    inputs = AGENT.sample_inputs(10_000)
    started = time.perf_counter()
    for run_input in inputs:
        app_id = run_input["application_id"]
        state, config = _start(graph, run_input, f"all-{app_id}")
        if "__interrupt__" in state:
            outcome[app_id] = "refer"
            payloads[app_id] = state["__interrupt__"][0].value
            state = graph.invoke(Command(resume=AGENT.resume_value(payloads[app_id], run_input)), config)
        outputs[app_id] = AGENT.output(state)
        outcome.setdefault(app_id, outputs[app_id]["decision"])
    return outcome, outputs, payloads, (time.perf_counter() - started) / len(inputs)


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
        assert 0.0 < out["pd_pct"] < 100.0
        assert out["amount_per_month_dm"] == pytest.approx(out["credit_amount_dm"] / out["duration_months"], abs=0.01)
        json.dumps(out)  # the run output crosses Temporal as JSON


def test_referrals_are_decided_by_the_underwriter_and_keep_referral_reasons(all_runs):
    outcome, outputs, payloads, _ = all_runs
    for app_id, payload in payloads.items():
        out = outputs[app_id]
        assert out["decided_by"] == "underwriter" and out["underwriter"] == "demo-underwriter-01"
        assert out["referral_reasons"] == payload["referral_reasons"] and out["referral_reasons"]
        assert out["reasons"] == ["UNDERWRITER_APPROVED" if out["decision"] == "approve" else "UNDERWRITER_DECLINED"]
        # The demo underwriter's documented rule: approve below 45 % PD.
        assert (out["decision"] == "approve") == (payload["pd_pct"] < 45.0)
    assert all(outputs[i]["decided_by"] == "policy" for i in outcome if outcome[i] != "refer")


def test_referral_payload_has_what_an_underwriter_needs_and_no_protected_attributes(all_runs):
    _, _, payloads, _ = all_runs
    payload = next(iter(payloads.values()))
    assert payload["allowed_decisions"] == ["approve", "decline"]
    assert {"application_summary", "pd_pct", "score_points", "referral_reasons"} <= set(payload)
    assert not {"age_in_years", "personal_status_and_sex", "foreign_worker"} & set(payload["application_summary"])
    json.dumps(payload)


def test_a_run_takes_milliseconds(all_runs):
    *_, seconds_per_run = all_runs
    assert seconds_per_run < 0.05


def test_summary_reports_mix_and_label_comparison(all_runs):
    _, outputs, *_ = all_runs
    line = AGENT.summarize(list(outputs.values()))
    assert line.startswith("1000 applications: policy approve ")
    assert "decline rate bad" in line and "pending 0" in line


def test_interrupt_then_resume_records_the_underwriters_decision(graph):
    run_input = AGENT.sample_inputs(2)[1]  # 5,951 DM over 48 months: PD in the grey band
    state, config = _start(graph, run_input, "resume-1")
    payload = state["__interrupt__"][0].value
    assert payload["referral_reasons"] == ["PD_IN_REFERRAL_BAND"]
    assert graph.get_state(config).next == ("underwriter_review",)
    out = AGENT.output(graph.invoke(Command(resume={"decision": "approve", "underwriter": "uw-42", "note": "collateral seen"}), config))
    assert out["decision"] == "approve" and out["decided_by"] == "underwriter"
    assert (out["underwriter"], out["underwriter_note"]) == ("uw-42", "collateral seen")
    assert out["referral_reasons"] == ["PD_IN_REFERRAL_BAND"]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"decision": "maybe", "underwriter": "uw-1", "note": ""}, "decision"),
        ({"decision": "approve", "underwriter": "  ", "note": ""}, "underwriter"),
        ({"decision": "approve", "note": ""}, "underwriter"),
        ({"decision": "approve", "underwriter": "uw-1", "limit": 5000}, "limit"),
    ],
)
def test_bad_resume_value_is_refused_and_the_referral_stays_open(graph, value, field):
    state, config = _start(graph, AGENT.sample_inputs(2)[1], f"bad-resume-{field}-{len(value)}")
    with pytest.raises(InvalidUnderwriterDecision, match=field):
        parse_underwriter_decision(value)
    again = graph.invoke(Command(resume=value), config)
    assert field in again["__interrupt__"][0].value["error"]
    assert "decision" not in graph.get_state(config).values
    out = AGENT.output(graph.invoke(Command(resume={"decision": "decline", "underwriter": "uw-2", "note": ""}), config))
    assert (out["decision"], out["underwriter"]) == ("decline", "uw-2")


def test_resume_value_must_be_a_mapping():
    with pytest.raises(InvalidUnderwriterDecision, match="mapping"):
        parse_underwriter_decision("approve")


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
    strict = AGENT.build_graph({"thresholds": {"pd_decline_cutoff_pct": 5.0}}).compile(checkpointer=InMemorySaver())
    state, _ = _start(strict, AGENT.sample_inputs(1)[0], "strict")  # PD about 8.5 %
    assert AGENT.output(state)["reasons"] == ["PD_ABOVE_DECLINE_CUTOFF"]


def test_graph_input_schema_is_the_application(graph):
    assert set(graph.get_input_jsonschema()["properties"]) == set(AGENT.input_model.model_fields)


async def test_streams_updates_and_interrupt_like_the_platform(graph):
    config = {"configurable": {"thread_id": "astream-1", "model": None}}
    run_input = AGENT.input_model.model_validate(AGENT.sample_inputs(2)[1]).model_dump(mode="json")
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
