"""A three-node test agent whose every node makes one chat-model call: ``outline`` → ``draft`` →
``polish``, each adding the model's answer to ``notes``; ``polish`` also writes the ``summary``.

The model is the run's (``config["configurable"]["model"]``, e.g. ``openai:gpt-4o-mini`` against
``tests/support/openai_stub.py``), built per call so a test's loopback server is always the one
called; each prompt is a fixed sentence, so every call reports the same token counts. Without a
model a node writes a fixed note instead (the scaffolded package's own test runs that way).

Input: ``{"topic": str, "fail_in": str}``: the node named by ``fail_in`` raises ``RuntimeError``
after its call (a retried failure). The output function needs the ``summary`` only the last node
writes, so it does not build from a partial state (a run stopped part-way returns its state values).
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from langchain.chat_models import init_chat_model
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

from reference_agents.base import AgentDefinition

NODES = ("outline", "draft", "polish")


class ChainInput(BaseModel):
    topic: str = "quarterly results"
    fail_in: str = ""


class ChainState(TypedDict, total=False):
    topic: str
    fail_in: str
    notes: list[str]
    summary: str


def _node(name: str):
    def run(state: ChainState, config: RunnableConfig) -> dict:
        model = (config.get("configurable") or {}).get("model")
        if model:
            answer = init_chat_model(model).invoke([HumanMessage(f"Write the {name} of a short note on the topic.")], config)
            note = f"{name}: {answer.content}"
        else:
            note = f"{name}: no model"
        if state.get("fail_in") == name:
            raise RuntimeError(f"llm chain agent was asked to fail in node {name}")
        update: dict = {"notes": [*state.get("notes", []), note]}
        if name == NODES[-1]:
            update["summary"] = " | ".join(update["notes"])
        return update

    return run


def build_graph(config: dict) -> StateGraph:
    g = StateGraph(ChainState)
    for name in NODES:
        g.add_node(name, _node(name))
    g.add_edge(START, NODES[0])
    for a, b in zip(NODES, NODES[1:]):
        g.add_edge(a, b)
    g.add_edge(NODES[-1], END)
    return g


def _output(state: ChainState) -> dict:
    return {"decision": "done", "reasons": [], "summary": state["summary"], "notes": state["notes"]}


AGENT = AgentDefinition(
    template="llm_chain",
    title="LLM chain test agent",
    build_graph=build_graph,
    input_model=ChainInput,
    output=_output,
    sample_inputs=lambda n: [],
    resume_value=lambda request, inp: {},
    summarize=lambda outs: f"{len(outs)} runs",
    package_dir=Path(__file__).parent / "llm_chain_pkg",
)
