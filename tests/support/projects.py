"""LangGraph projects written by tests, in the LangGraph CLI's layout (``langgraph.json`` + ``shipway.yaml``)."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import yaml

from tests.support.lifecycle import OWNER

GRAPH = '''\
"""A two-node graph: ``assess`` records which version ran and how many runs this process has seen
(module-level state); ``review`` asks a person when the amount is large."""

from typing import Literal, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, Field

from loan_agent.state import LABEL, next_run


class LoanInput(BaseModel):
    amount: float = Field(gt=0, description="Requested amount, EUR.")
    purpose: Literal["car", "education", "furniture"]
    log_path: str = ""


class Answer(BaseModel):
    decision: Literal["approve", "decline"]
    reviewer: str = Field(min_length=1)
    note: str = ""


class LoanContext(TypedDict, total=False):
    branch: str


class LoanState(TypedDict, total=False):
    amount: float
    purpose: str
    log_path: str
    label: str
    run_number: int
    decision: str
    reviewer: str
    branch: str
    channel: str


def assess(state: LoanState, config: RunnableConfig, runtime: Runtime[LoanContext]) -> dict:
    if state.get("log_path"):
        with open(state["log_path"], "a") as fh:
            fh.write("assess\\n")
    return {"label": LABEL, "run_number": next_run(), "branch": (runtime.context or {}).get("branch", ""),
            "channel": config["configurable"].get("channel", "")}


def review(state: LoanState) -> dict:
    if state["amount"] <= 1000:
        return {"decision": "approve", "reviewer": "policy"}
    request = {"kind": "large_loan", "question": "Approve this loan?", "decisions": ["approve", "decline"],
               "answer_schema": Answer.model_json_schema(), "context": {"amount": state["amount"]},
               "reasons": [{"code": "LARGE_AMOUNT", "text": "Amounts above 1,000 EUR need a person."}], "error": None}
    answer = Answer.model_validate(interrupt(request))
    return {"decision": answer.decision, "reviewer": answer.reviewer}


builder = StateGraph(LoanState, context_schema=LoanContext, input_schema=LoanInput)
builder.add_node("assess", assess)
builder.add_node("review", review)
builder.add_edge(START, "assess")
builder.add_edge("assess", "review")
builder.add_edge("review", END)
graph = builder.compile()
'''

STATE = '''\
"""Module-level state: a per-process run counter and this version's label."""

import itertools

LABEL = {label!r}
_RUNS = itertools.count(1)


def next_run() -> int:
    return next(_RUNS)
'''

TEST = '''\
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from loan_agent.graph import builder
from loan_agent.state import LABEL


def test_small_loans_pass_and_large_ones_ask():
    graph = builder.compile(checkpointer=InMemorySaver())
    small = graph.invoke({"amount": 500, "purpose": "car"}, {"configurable": {"thread_id": "s"}})
    assert small["decision"] == "approve" and small["label"] == LABEL
    config = {"configurable": {"thread_id": "l"}}
    asked = graph.invoke({"amount": 5000, "purpose": "car"}, config)
    assert asked["__interrupt__"][0].value["decisions"] == ["approve", "decline"]
    done = graph.invoke(Command(resume={"decision": "decline", "reviewer": "uma"}), config)
    assert done["decision"] == "decline"
'''


def write_project(root: Path, label: str = "one", name: str | None = None, dependencies: list[str] | None = None,
                  failing_test: bool = False) -> dict:
    """Write the test project into ``root``; returns its ``shipway.yaml``."""
    (root / "loan_agent").mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(exist_ok=True)
    (root / "loan_agent" / "__init__.py").write_text("")
    (root / "loan_agent" / "graph.py").write_text(GRAPH)
    (root / "loan_agent" / "state.py").write_text(STATE.format(label=label))
    (root / "tests" / "test_graph.py").write_text(TEST + ("\n\ndef test_fails():\n    assert False, 'on purpose'\n" if failing_test else ""))
    (root / "langgraph.json").write_text(json.dumps({
        "dependencies": dependencies or ["."], "graphs": {"loan": "./loan_agent/graph.py:graph"},
        "env": {"LOAN_AGENT_MODE": "test"}}, indent=2))
    governance = {"name": name or f"loan-{uuid.uuid4().hex[:8]}", "owner": OWNER, "data_classification": "internal",
                  "description": textwrap.dedent("A two-node loan graph written by the tests: it asks a person about large amounts.")}
    (root / "shipway.yaml").write_text(yaml.safe_dump(governance))
    return governance
