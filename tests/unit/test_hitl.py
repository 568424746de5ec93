"""The shared human-in-the-loop contract: the request carries decisions and the answer's JSON Schema;
a bad answer is re-asked naming the field, on a real LangGraph graph with a checkpointer."""

from __future__ import annotations

from typing import Literal, TypedDict

import jsonschema
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from reference_agents.common.hitl import ReasonText, ReviewAnswer, ask_human, build_request, decisions_of, parse_answer


class LoanAnswer(ReviewAnswer):
    decision: Literal["approve", "decline"]


class State(TypedDict, total=False):
    answer: dict


def review(state: State) -> dict:
    request = build_request("loan_review", "Approve?", LoanAnswer, {"amount": 1000},
                            [ReasonText(code="PD_IN_GREY_BAND", text="PD between 40% and 55% is referred")])
    return {"answer": ask_human(request, LoanAnswer).model_dump()}


def graph():
    g = StateGraph(State)
    g.add_node("review", review)
    g.add_edge(START, "review")
    g.add_edge("review", END)
    return g.compile(checkpointer=InMemorySaver())


def test_request_names_decisions_schema_and_reasons():
    request = build_request("k", "q?", LoanAnswer, {"a": 1}, [ReasonText(code="C", text="t")])
    assert request.decisions == ["approve", "decline"]
    assert request.answer_schema["properties"]["decision"]["enum"] == ["approve", "decline"]
    assert set(request.answer_schema["required"]) == {"decision", "reviewer"}
    jsonschema.validate({"decision": "approve", "reviewer": "uma"}, request.answer_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"decision": "maybe", "reviewer": "uma"}, request.answer_schema)


def test_decision_must_be_a_literal():
    with pytest.raises(TypeError):
        decisions_of(ReviewAnswer)


def test_parse_answer_names_the_field():
    with pytest.raises(ValueError, match="decision"):
        parse_answer(LoanAnswer, {"decision": "aprove", "reviewer": "uma"})
    with pytest.raises(ValueError, match="reviewer"):
        parse_answer(LoanAnswer, {"decision": "approve"})
    with pytest.raises(ValueError, match="answer"):
        parse_answer(LoanAnswer, "approve")


def test_bad_answer_is_reasked_then_a_good_one_completes():
    g, config = graph(), {"configurable": {"thread_id": "t1"}}
    first = g.invoke({}, config)["__interrupt__"][0].value
    assert first["kind"] == "loan_review" and first["error"] is None
    assert first["reasons"] == [{"code": "PD_IN_GREY_BAND", "text": "PD between 40% and 55% is referred"}]
    again = g.invoke(Command(resume={"decision": "aprove", "reviewer": "uma"}), config)["__interrupt__"][0].value
    assert "decision" in again["error"] and again["question"] == "Approve?"
    done = g.invoke(Command(resume={"decision": "approve", "reviewer": "uma", "note": "ok"}), config)
    assert done["answer"] == {"decision": "approve", "reviewer": "uma", "note": "ok"}
