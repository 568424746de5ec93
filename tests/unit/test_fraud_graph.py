"""The fraud agent's compiled graph (InMemorySaver): routing, output, analyst interrupt and
resume, upstream-alert input, policy overrides, the LLM narrative, and bad input."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import ValidationError

from reference_agents.fraud_detection import AGENT
from reference_agents.fraud_detection.demo import DEMO_SEED
from reference_agents.fraud_detection.generator import generate_cases
from reference_agents.fraud_detection.graph import next_step
from reference_agents.fraud_detection.policy import load_policy
from reference_agents.fraud_detection.review import AnalystAnswer
from reference_agents.registry import get_agent
from tests.support.openai_stub import OpenAIStub, use_stub


@pytest.fixture(scope="module")
def cases():
    all_cases = generate_cases(seed=DEMO_SEED)
    first = {}
    for case in all_cases:
        first.setdefault(case["pattern"], case)
    return first


def run(graph, run_input, thread="t1", config_extra=None):
    config = {"configurable": {"thread_id": thread, **(config_extra or {})}}
    return graph.invoke(run_input, config), config


def test_registry_finds_the_agent():
    assert get_agent("fraud_detection") is AGENT
    assert AGENT.spec_path.exists() and (AGENT.template_dir / "{{ package }}" / "agent.py.j2").exists()


def test_supervisor_routes_in_order_from_the_state():
    assert next_step({}) == "enrichment"
    assert next_step({"features": {}}) == "scoring"
    assert next_step({"features": {}, "assessment": {}}) == "triage"
    done = {"features": {}, "assessment": {}, "triage": {"analyst_review": False}}
    assert next_step(done) == "__end__"
    assert next_step({**done, "triage": {"analyst_review": True}}) == "analyst_review"
    assert next_step({**done, "triage": {"analyst_review": True}, "analyst_review": {}}) == "__end__"


def test_normal_transaction_is_auto_closed_without_interrupt(cases):
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    state, _ = run(graph, cases[None]["input"])
    assert "__interrupt__" not in state
    out = AGENT.output(state)
    assert out["decision"] == "auto_close" and out["risk_score"] < 30
    assert out["analyst_review"] is None and out["narrative_source"] == "tools"
    assert out["transaction_id"] == cases[None]["input"]["transaction"]["transaction_id"]
    assert out["model"]["n_estimators"] == 100
    assert out["features"]["history_txn_count"] == len(cases[None]["input"]["history"])
    json.dumps(out)  # the platform stores it as JSON


async def test_astream_updates_visit_the_workers_through_the_supervisor(cases):
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "stream"}}
    nodes = [next(iter(u)) async for u in graph.astream(cases[None]["input"], config, stream_mode="updates")]
    assert nodes == ["supervisor", "enrichment", "supervisor", "scoring", "supervisor", "triage", "supervisor"]


@pytest.mark.parametrize(("answer", "decision", "code"), [
    ("fraud", "block", "ANALYST_CONFIRMED_FRAUD"),
    ("legitimate", "release", "ANALYST_CONFIRMED_LEGITIMATE"),
])
def test_high_risk_interrupts_for_an_analyst_and_resumes(cases, answer, decision, code):
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    run_input = cases["account_takeover"]["input"]
    state, config = run(graph, run_input, thread=f"ato-{answer}")
    (pending,) = state["__interrupt__"]
    request = pending.value
    assert (request["kind"], request["decisions"], request["error"]) == ("fraud_analyst_review", ["fraud", "legitimate"], None)
    context = request["context"]
    assert set(context) == {"transaction", "alert_id", "risk_score", "rule_hits", "proposed_action", "summary"}
    assert context["risk_score"] >= 70 and context["proposed_action"] == "block"
    assert context["transaction"]["transaction_id"] == run_input["transaction"]["transaction_id"]
    assert context["summary"].startswith(f"{run_input['transaction']['amount']:.2f}")
    codes = [r["code"] for r in request["reasons"]]
    assert "ACCOUNT_TAKEOVER" in codes or "AMOUNT_SPIKE" in codes
    # The reasons are the risk score's codes, each with the policy's text.
    assert codes == state["assessment"]["reasons"]
    texts = load_policy()["reasons"]
    assert all(r["text"] == texts[r["code"]] for r in request["reasons"])
    json.dumps(request)
    given = {"decision": answer, "reviewer": "a.analyst", "note": "called"}
    jsonschema.validate(given, request["answer_schema"])
    resumed = graph.invoke(Command(resume=given), config)
    out = AGENT.output(resumed)
    assert out["decision"] == decision and out["proposed_action"] == "block"
    assert out["reasons"][-1] == code
    assert out["analyst_review"] == given


@pytest.mark.parametrize(("bad", "field"), [
    ({"decision": "fraudd", "reviewer": "a.analyst"}, "decision"),
    ({"decision": "fraud"}, "reviewer"),
    ({"decision": "fraud", "reviewer": "   "}, "reviewer"),
    ({"decision": "fraud", "reviewer": "a.analyst", "disposition": "fraud"}, "disposition"),
])
def test_bad_answer_is_reasked_naming_the_field_and_the_run_stays_resumable(cases, bad, field):
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    state, config = run(graph, cases["account_takeover"]["input"], thread=f"bad-{field}-{len(bad)}")
    first = state["__interrupt__"][0].value
    again = graph.invoke(Command(resume=bad), config)
    request = again["__interrupt__"][0].value
    assert field in request["error"]
    assert {**request, "error": None} == first  # the same request, re-asked
    assert "analyst_review" not in graph.get_state(config).values
    out = AGENT.output(graph.invoke(Command(resume={"decision": "legitimate", "reviewer": "a.analyst"}), config))
    assert out["decision"] == "release" and out["reasons"][-1] == "ANALYST_CONFIRMED_LEGITIMATE"
    assert out["analyst_review"] == {"decision": "legitimate", "reviewer": "a.analyst", "note": ""}


def test_policy_override_moves_the_review_threshold(cases):
    graph = AGENT.build_graph({"triage": {"analyst_review_min_score": 100}}).compile(checkpointer=InMemorySaver())
    state, _ = run(graph, cases["account_takeover"]["input"])
    out = AGENT.output(state)
    assert "__interrupt__" not in state and out["decision"] == "block" and out["analyst_review"] is None
    with pytest.raises(ValueError, match="unknown policy key.*triage.threshold"):
        AGENT.build_graph({"triage": {"threshold": 1}})


def test_upstream_alert_wrapping_a_transaction(cases):
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    run_input = copy.deepcopy(cases["account_takeover"]["input"])
    txn = run_input.pop("transaction")
    run_input["alert"] = {"alert_id": "ALERT-1", "source_system": "scheme-monitor", "transaction": txn}
    # As the platform does: validate, then run on the JSON dump (which carries "transaction": null).
    dumped = AGENT.input_model.model_validate(run_input).model_dump(mode="json")
    assert dumped["transaction"] is None
    state, config = run(graph, dumped)
    context = state["__interrupt__"][0].value["context"]
    assert context["alert_id"] == "ALERT-1"
    assert context["transaction"]["transaction_id"] == txn["transaction_id"]
    bare, _ = run(AGENT.build_graph({}).compile(checkpointer=InMemorySaver()), cases["account_takeover"]["input"])
    assert context["risk_score"] == bare["__interrupt__"][0].value["context"]["risk_score"]
    out = AGENT.output(graph.invoke(Command(resume={"decision": "fraud", "reviewer": "a"}), config))
    assert out["alert_id"] == "ALERT-1" and out["transaction_id"] == txn["transaction_id"]


def test_llm_writes_the_case_narrative_when_a_model_is_configured(cases, monkeypatch):
    with OpenAIStub(text="Likely account takeover: new device right after a password reset.") as stub:
        use_stub(monkeypatch, stub)
        graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
        run_input = cases["account_takeover"]["input"]
        state, _ = run(graph, run_input, config_extra={"model": "openai:gpt-4o-mini"})
        assert state["__interrupt__"][0].value["context"]["summary"] == stub.text
        assert state["narrative_source"] == "llm"
        (request,) = stub.requests
        prompt = request["messages"][-1]["content"]
        assert "risk_score_0_100" in prompt
        # No identifiers leave for the LLM.
        assert run_input["transaction"]["customer_id"] not in prompt
        assert run_input["transaction"]["transaction_id"] not in prompt


def test_demo_inputs_resume_rule_and_summary():
    inputs = AGENT.sample_inputs(8)
    assert len(inputs) == 8 and AGENT.sample_inputs(0) == []
    for run_input in inputs:
        AGENT.input_model.model_validate(run_input)
    assert sum("alert" in i for i in inputs) == 2
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    outputs = []
    for n, run_input in enumerate(inputs):
        state, config = run(graph, run_input, thread=f"demo-{n}")
        if "__interrupt__" in state:
            value = AGENT.resume_value(state["__interrupt__"][0].value, run_input)
            AnalystAnswer.model_validate(value)
            state = graph.invoke(Command(resume=value), config)
        outputs.append(AGENT.output(state))
    assert any(o["risk_score"] >= 70 for o in outputs) and any(o["decision"] == "auto_close" for o in outputs)
    line = AGENT.summarize(outputs)
    assert line.startswith("fraud detection: 8 alerts") and "analyst reviews" in line
    assert AGENT.summarize([]) == "fraud detection: no alerts"


def _request(risk_score: float, codes: list[str]) -> dict:
    """The parts of an analyst-review request the demo rule reads."""
    return {"context": {"risk_score": risk_score}, "reasons": [{"code": c, "text": "..."} for c in codes]}


def test_demo_analyst_rule():
    strong = _request(72.0, ["ACCOUNT_TAKEOVER", "NEW_DEVICE", "MODEL_ANOMALY"])
    rules_only = _request(72.0, ["IMPOSSIBLE_TRAVEL", "NEW_COUNTRY", "HIGH_RISK_MCC"])
    certain = _request(90.0, ["NEW_DEVICE", "NEW_COUNTRY"])
    assert AGENT.resume_value(strong, {})["decision"] == "fraud"
    assert AGENT.resume_value(rules_only, {})["decision"] == "legitimate"
    assert AGENT.resume_value(certain, {})["decision"] == "fraud"
    assert AGENT.resume_value(strong, {})["reviewer"] == "demo-analyst"
    assert AGENT.resume_value(strong, {})["note"] == "rule: score 72, patterns ACCOUNT_TAKEOVER"


def _bad(run_input, path, value=None, delete=False):
    bad = copy.deepcopy(run_input)
    *parents, leaf = path
    target = bad
    for key in parents:
        target = target[key]
    if delete:
        del target[leaf]
    else:
        target[leaf] = value
    return bad


@pytest.mark.parametrize(("path", "value", "delete", "field"), [
    (("transaction", "amount"), -12.5, False, "transaction.amount"),
    (("transaction", "amount"), 0, False, "transaction.amount"),
    (("transaction", "currency"), "XYZ", False, "transaction.currency"),
    (("transaction", "currency"), "eur", False, "transaction.currency"),
    (("transaction", "merchant_id"), None, True, "transaction.merchant_id"),
    (("transaction", "timestamp"), None, True, "transaction.timestamp"),
    (("transaction", "timestamp"), "2024-03-10T12:00:00", False, "transaction.timestamp"),
    (("transaction", "latitude"), 95.0, False, "transaction.latitude"),
    (("transaction", "longitude"), -181.0, False, "transaction.longitude"),
    (("transaction", "mcc"), "0001", False, "transaction.mcc"),
    (("transaction", "merchant_country"), "XX", False, "transaction.merchant_country"),
    (("transaction", "channel"), "fax", False, "transaction.channel"),
    (("history", 0, "latitude"), -91.0, False, "history.0.latitude"),
    (("account_events", 0, "type"), "coffee", False, "account_events.0.type"),
])
def test_bad_input_is_rejected_naming_the_field(cases, path, value, delete, field):
    run_input = copy.deepcopy(cases["account_takeover"]["input"])
    assert run_input["account_events"]
    with pytest.raises(ValidationError) as err:
        AGENT.input_model.model_validate(_bad(run_input, path, value, delete))
    locations = [".".join(str(p) for p in e["loc"]) for e in err.value.errors()]
    assert field in locations


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda i: i["history"][3].update(customer_id="C9999"), "history[3].customer_id"),
    (lambda i: i["history"][2].update(timestamp="2030-01-01T00:00:00+00:00"), "history[2].timestamp"),
    (lambda i: i["history"][1].update(currency="JPY" if i["history"][1]["currency"] != "JPY" else "EUR"),
     "history[1].currency"),
    (lambda i: i.update(alert={"alert_id": "A", "source_system": "s", "transaction": i["transaction"]}), "exactly one"),
    (lambda i: i.pop("transaction"), "exactly one"),
])
def test_inconsistent_case_is_rejected_naming_the_field(cases, mutate, message):
    run_input = copy.deepcopy(cases[None]["input"])
    mutate(run_input)
    with pytest.raises(ValidationError, match=message.replace("[", r"\[")):
        AGENT.input_model.model_validate(run_input)
