"""A three-node test agent whose nodes log each execution to a file, so tests can count
how many times a node ran (worker killed mid-graph) and exercise interrupt/resume.

Input: ``{"log_path": str, "delay_s": float, "ask": bool}``. Node ``b`` interrupts when
``ask`` is true and records the human's answer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from pydantic import BaseModel, Field

from reference_agents.base import AgentDefinition


class CountingInput(BaseModel):
    log_path: str
    delay_s: float = Field(default=0.0, ge=0, le=30)
    ask: bool = False


class CountingState(TypedDict, total=False):
    log_path: str
    delay_s: float
    ask: bool
    visited: list[str]
    answer: dict


def _visit(state: CountingState, node: str) -> list[str]:
    with Path(state["log_path"]).open("a") as fh:
        fh.write(node + "\n")
    time.sleep(state.get("delay_s", 0.0))
    return [*state.get("visited", []), node]


def _a(state: CountingState) -> Command:
    return Command(goto="b", update={"visited": _visit(state, "a")})


def _b(state: CountingState) -> Command:
    answer = interrupt({"question": "continue?", "allowed": ["yes", "no"]}) if state.get("ask") else {}
    return Command(goto="c", update={"visited": _visit(state, "b"), "answer": answer})


def _c(state: CountingState) -> Command:
    return Command(goto=END, update={"visited": _visit(state, "c")})


def build_graph(config: dict) -> StateGraph:
    g = StateGraph(CountingState)
    g.add_node("a", _a)
    g.add_node("b", _b)
    g.add_node("c", _c)
    g.add_edge(START, "a")
    return g


AGENT = AgentDefinition(
    template="counting",
    title="Counting test agent",
    build_graph=build_graph,
    input_model=CountingInput,
    output=lambda s: {"decision": "done", "reasons": [], "visited": s.get("visited", []), "answer": s.get("answer", {})},
    sample_inputs=lambda n: [],
    resume_value=lambda payload, inp: {"answer": "yes"},
    summarize=lambda outs: f"{len(outs)} runs",
    package_dir=Path(__file__).parent / "counting_pkg",
    extra={},
)
