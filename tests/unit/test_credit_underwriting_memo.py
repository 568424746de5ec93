"""The underwriting memo: from the template without a model, from the LLM (real OpenAI client
against a loopback server) with one, never carrying protected attributes, never changing the decision."""

from __future__ import annotations

import json

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from activities.llm_usage import DEFAULT_PRICES, UsageCollector
from reference_agents.common import llm as common_llm
from reference_agents.credit_underwriting import AGENT
from reference_agents.credit_underwriting.memo import memo_facts, rules_memo
from reference_agents.credit_underwriting.policy import load_policy
from reference_agents.credit_underwriting.tools.data import PROTECTED_ATTRIBUTES
from tests.support.openai_stub import OpenAIStub, use_stub

MODEL = "openai:gpt-4o-mini"
MEMO_TEXT = "Approved after referral: PD in the grey band, underwriter signed off."
FACT_KEYS = {"decision", "decided_by", "reasons", "reason_descriptions", "pd_pct", "score_points", "top_risk_factors",
             "purpose", "credit_amount_dm", "duration_months", "amount_per_month_dm", "policy_version"}


@pytest.fixture(scope="module")
def graph():
    return AGENT.build_graph({}).compile(checkpointer=InMemorySaver())


def _start(graph, run_input: dict, thread_id: str, **config):
    config = {"configurable": {"thread_id": thread_id, **config.pop("configurable", {})}, **config}
    return graph.invoke(AGENT.input_model.model_validate(run_input).model_dump(mode="json"), config), config


def _facts_sent(request: dict) -> dict:
    """The facts JSON of a narrative request (the user message after ``Facts (JSON):``)."""
    return json.loads(request["messages"][-1]["content"].split("Facts (JSON):\n", 1)[1])


def test_without_a_model_the_memo_is_built_from_the_decision_and_no_llm_is_created(graph, monkeypatch):
    def no_model(name):
        raise AssertionError(f"a chat model was built without a configured model: {name!r}")

    monkeypatch.setattr(common_llm, "_cached_model", no_model)
    # 6,948 DM over 36 months; overdrawn (corrected meaning of the input's "0 <= ... < 200 DM"), no savings
    approve, decline = AGENT.sample_inputs(8)[0], AGENT.sample_inputs(8)[7]
    out = AGENT.output(_start(graph, approve, "memo-approve")[0])
    assert out["narrative_source"] == "tools" and out["decision"] == "approve"
    memo = out["narrative"]
    assert memo.startswith("Decision: approve by policy (credit policy 2025.1).")
    assert "1,169 DM over 6 months" in memo and f"PD {out['pd_pct']:.1f}%" in memo
    assert "POLICY_CHECKS_PASSED" in memo
    assert out["top_risk_factors"] and all(f.replace("_", " ") in memo for f in out["top_risk_factors"])
    declined = AGENT.output(_start(graph, decline, "memo-decline")[0])
    assert declined["decision"] == "decline"
    assert all(code in declined["narrative"] for code in declined["reasons"])
    assert "Overdrawn current account" in declined["narrative"]  # the policy's wording of the code
    assert "for car (new)" in declined["narrative"]  # the input's "car (used)" in its corrected meaning
    # the principal reasons the applicant is given, in rank order
    texts = [r["text"] for r in declined["adverse_action_reasons"]]
    assert texts and declined["narrative"].endswith(" ".join(f"({i}) {t}" for i, t in enumerate(texts, 1)))


def test_memo_waits_for_the_underwriter_and_then_cites_the_referral(graph):
    run_input = AGENT.sample_inputs(4)[3]  # PD in the grey band: referred
    state, config = _start(graph, run_input, "memo-refer")
    pending = AGENT.output(state)
    assert (pending["narrative"], pending["narrative_source"]) == ("", "pending")
    out = AGENT.output(graph.invoke(Command(resume={"decision": "decline", "reviewer": "uw-9",
                                                    "note": "applicant aged 33, verified"}), config))
    memo = out["narrative"]
    assert "decline by underwriter" in memo and "UNDERWRITER_DECLINED" in memo
    assert "Referred by the policy for PD_IN_REFERRAL_BAND" in memo
    assert "aged 33" not in memo  # the underwriter's free-text note stays out of the memo


def test_memo_facts_are_whitelisted_for_every_application_kind(graph):
    policy = load_policy()
    for i, run_input in enumerate(AGENT.sample_inputs(40)):
        state, config = _start(graph, run_input, f"facts-{i}")
        if "__interrupt__" in state:
            state = graph.invoke(Command(resume=AGENT.resume_value(state["__interrupt__"][0].value, run_input)), config)
        facts = memo_facts(state, policy)
        expected = (FACT_KEYS | ({"referral_reasons"} if state["decided_by"] == "underwriter" else set())
                    | ({"adverse_action_reasons"} if state["decision"] == "decline" else set()))
        assert set(facts) == expected
        assert not set(PROTECTED_ATTRIBUTES) & set(json.dumps(facts).replace('"', " ").split())
        assert set(facts["reason_descriptions"]) == set(facts["reasons"]) | set(facts.get("referral_reasons", []))
        assert state["narrative"] == rules_memo(facts)


def test_llm_writes_the_memo_from_the_decision_facts_with_usage_recorded(graph, monkeypatch):
    run_input = {**AGENT.sample_inputs(4)[3], "personal_status_and_sex": "female : divorced/separated/married",
                 "age_in_years": 77, "foreign_worker": "no"}
    baseline, _ = _start(graph, run_input, "memo-rules")
    baseline = AGENT.output(graph.invoke(Command(resume={"decision": "approve", "reviewer": "uw-1", "note": ""}),
                                         {"configurable": {"thread_id": "memo-rules"}}))
    with OpenAIStub(text=MEMO_TEXT) as stub:
        use_stub(monkeypatch, stub)
        usage = UsageCollector()
        state, config = _start(graph, run_input, "memo-llm", configurable={"model": MODEL}, callbacks=[usage])
        assert state["__interrupt__"][0].value["kind"] == "credit_referral"
        assert stub.requests == []  # the policy decided to refer without any LLM call
        state = graph.invoke(Command(resume={"decision": "approve", "reviewer": "uw-1", "note": ""}), config)
    out = AGENT.output(state)
    assert (out["narrative"], out["narrative_source"]) == (MEMO_TEXT, "llm")
    # the LLM writes prose; the tools, the policy and the underwriter decide
    for key in ("decision", "reasons", "decided_by", "pd_pct", "top_risk_factors", "referral_reasons"):
        assert out[key] == baseline[key]
    (request,) = stub.requests
    assert request["model"] == "gpt-4o-mini" and "tools" not in request
    facts = _facts_sent(request)
    assert facts["decision"] == "approve" and facts["reasons"] == ["UNDERWRITER_APPROVED"]
    assert facts["referral_reasons"] == ["PD_IN_REFERRAL_BAND"] and facts["pd_pct"] == out["pd_pct"]
    assert facts["top_risk_factors"] == out["top_risk_factors"]
    sent = json.dumps(request)
    assert not [a for a in PROTECTED_ATTRIBUTES if a in sent]
    assert "divorced" not in sent and "77" not in sent
    assert [c.model for c in usage.calls] == ["gpt-4o-mini"]
    assert usage.tokens_in == stub.usages[0]["prompt_tokens"] > 0
    assert usage.tokens_out == stub.usages[0]["completion_tokens"] == len(MEMO_TEXT.split())
    assert usage.cost_usd(DEFAULT_PRICES) == pytest.approx((usage.tokens_in * 0.15 + usage.tokens_out * 0.60) / 1e6)


def test_policy_decision_with_llm_gets_one_memo_call_and_an_empty_answer_falls_back(graph, monkeypatch):
    run_input = AGENT.sample_inputs(1)[0]  # approved by the policy
    with OpenAIStub(text="") as stub:
        use_stub(monkeypatch, stub)
        state, _ = _start(graph, run_input, "memo-empty", configurable={"model": MODEL})
    out = AGENT.output(state)
    assert len(stub.requests) == 1 and _facts_sent(stub.requests[0])["decision"] == "approve"
    assert out["narrative_source"] == "tools" and out["narrative"].startswith("Decision: approve by policy")
