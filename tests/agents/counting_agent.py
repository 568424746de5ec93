"""A three-node test agent whose nodes log each execution to a file, so tests can count
how many times a node ran (worker killed mid-graph) and exercise interrupt/resume.

Input: ``{"log_path": str, "delay_s": float, "ask": bool, "fail": bool, "message": str, "reply": str,
"decline": bool, "leak": bool}``. Node ``b`` asks a human through the shared HITL contract when ``ask`` is true
(decision ``yes``/``no``) and raises when ``fail`` is true. The output echoes ``message`` and
``reply`` (free text for the run guards) and decides ``decline`` (without reasons, which the
agent's output check refuses) when ``decline`` is true, and an e-mail address it was never given
when ``leak`` is true. Spec ``config``: ``{"fail_runs": true}`` makes every run of the version fail in
node ``b`` (a bad canary); ``{"fail_generated_tests": true}`` makes the scaffolded package's own
tests fail.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command
from pydantic import BaseModel, Field

from reference_agents.base import AgentDefinition
from reference_agents.common.hitl import ReasonText, ReviewAnswer, ask_human, build_request


class CountingInput(BaseModel):
    log_path: str
    delay_s: float = Field(default=0.0, ge=0, le=30)
    ask: bool = False
    fail: bool = False
    message: str = ""
    reply: str = ""
    decline: bool = False
    leak: bool = False


class CountingAnswer(ReviewAnswer):
    decision: Literal["yes", "no"]


class CountingState(TypedDict, total=False):
    log_path: str
    delay_s: float
    ask: bool
    fail: bool
    message: str
    reply: str
    decline: bool
    leak: bool
    visited: list[str]
    answer: dict


def _visit(state: CountingState, node: str) -> list[str]:
    with Path(state["log_path"]).open("a") as fh:
        fh.write(node + "\n")
    time.sleep(state.get("delay_s", 0.0))
    return [*state.get("visited", []), node]


def _a(state: CountingState) -> Command:
    return Command(goto="b", update={"visited": _visit(state, "a")})


def _node_b(fail_runs: bool):
    def _b(state: CountingState) -> Command:
        if state.get("fail") or fail_runs:
            raise RuntimeError("counting agent was asked to fail in node b")
        answer = {}
        if state.get("ask"):
            request = build_request("counting_continue", "Continue to node c?", CountingAnswer, {"visited": state.get("visited", [])},
                                    [ReasonText(code="ASKED", text="the run input asked for a human step")])
            answer = ask_human(request, CountingAnswer).model_dump()
        return Command(goto="c", update={"visited": _visit(state, "b"), "answer": answer})

    return _b


def _c(state: CountingState) -> Command:
    return Command(goto=END, update={"visited": _visit(state, "c")})


def build_graph(config: dict) -> StateGraph:
    g = StateGraph(CountingState)
    g.add_node("a", _a)
    g.add_node("b", _node_b(bool(config.get("fail_runs"))))
    g.add_node("c", _c)
    g.add_edge(START, "a")
    return g


def _output(state: CountingState) -> dict:
    return {"decision": "decline" if state.get("decline") else "done", "reasons": [], "visited": state.get("visited", []),
            "answer": state.get("answer", {}), "message": state.get("message", ""), "reply": state.get("reply", ""),
            # an address the run never received, as a model might invent one
            "contact": "records.officer@counting-bank.com" if state.get("leak") else ""}


def check_decline_has_reasons(output: dict) -> list[str]:
    """A declined decision must carry its reasons (as a credit decline carries adverse-action reasons)."""
    return ["a declined decision must carry reasons"] if output.get("decision") == "decline" and not output.get("reasons") else []


AGENT = AgentDefinition(
    template="counting",
    title="Counting test agent",
    build_graph=build_graph,
    input_model=CountingInput,
    output=_output,
    sample_inputs=lambda n: [],
    resume_value=lambda request, inp: {"decision": "yes", "reviewer": "test.reviewer"},
    summarize=lambda outs: f"{len(outs)} runs",
    package_dir=Path(__file__).parent / "counting_pkg",
    extra={},
    output_checks=(check_decline_has_reasons,),
)
