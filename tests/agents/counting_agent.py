"""A three-node test agent whose nodes log each execution to a file, so tests can count
how many times a node ran (worker killed mid-graph) and exercise interrupt/resume.

Input: ``{"log_path": str, "delay_s": float, "ask": bool, "fail": bool, "message": str, "reply": str,
"decline": bool, "leak": bool, "seq": int}``. Node ``b`` asks a human through the shared HITL contract when ``ask`` is true
(decision ``yes``/``no``) and raises when ``fail`` is true. The output echoes ``message`` and
``reply`` (free text for the run guards) and decides ``decline`` (without reasons, which the
agent's output check refuses) when ``decline`` is true, and an e-mail address it was never given
when ``leak`` is true. Spec ``config``: ``{"fail_runs": true}`` makes every run of the version fail in
node ``b`` (a bad canary); ``{"fail_generated_tests": true}`` makes the scaffolded package's own
tests fail.

Canary knobs (spec ``config``, so one version misbehaves while another does not; all off by default),
deterministic per run through the input field ``seq`` (int, default 0, which a traffic generator
increments; a run *hits* a ratio when ``(seq % 100) < ratio * 100``):

- ``fail_ratio`` (0-1): a hit run fails in node ``b``, at once: the failure is deterministic (the same
  ``seq`` fails again), so it is raised as a non-retryable error instead of being retried with backoff.
- ``violate_ratio`` (0-1): a hit run decides ``decline`` without reasons, which the agent's output
  check refuses: the run guards withhold it (status ``withheld``, a guardrail violation).
- ``llm_tokens`` (int): node ``b`` calls a fake LangChain chat model answering with that many input
  and output tokens (``usage_metadata``) of model ``llm_model`` (default ``gpt-4o-mini``, priced in
  ``shipway/model_prices.yaml``), through the run's callbacks: Shipway records it in ``llm_usage``
  and the run's ``cost_usd`` is proportional to ``llm_tokens``.

The ratios apply to runs whose state carries ``seq``: every run through Shipway (the input model
fills in 0), but not the scaffolded package's own test, which invokes the graph without it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command
from pydantic import BaseModel, Field
from temporalio.exceptions import ApplicationError

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
    seq: int = Field(default=0, ge=0, le=2**31 - 1)


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
    seq: int
    visited: list[str]
    answer: dict


def _visit(state: CountingState, node: str) -> list[str]:
    with Path(state["log_path"]).open("a") as fh:
        fh.write(node + "\n")
    time.sleep(state.get("delay_s", 0.0))
    return [*state.get("visited", []), node]


def _a(state: CountingState) -> Command:
    return Command(goto="b", update={"visited": _visit(state, "a")})


def _hits(state: CountingState, ratio: float) -> bool:
    """Whether this run is one of the ``ratio`` (0-1) share picked by its ``seq``."""
    seq = state.get("seq")
    return seq is not None and ratio > 0 and (seq % 100) < ratio * 100


def _call_llm(tokens: int, model: str, config: RunnableConfig) -> None:
    """One chat-model call reporting ``tokens`` input and output tokens of ``model``, with the run's
    callbacks (``config``), as a real provider's response would."""
    reply = AIMessage(content="counted", response_metadata={"model_name": model},
                      usage_metadata={"input_tokens": tokens, "output_tokens": tokens, "total_tokens": 2 * tokens})
    GenericFakeChatModel(messages=iter([reply])).invoke([HumanMessage("count the nodes")], config)


def _node_b(spec_config: dict):
    fail_runs, fail_ratio = bool(spec_config.get("fail_runs")), float(spec_config.get("fail_ratio", 0.0))
    violate_ratio, llm_tokens = float(spec_config.get("violate_ratio", 0.0)), int(spec_config.get("llm_tokens", 0))
    llm_model = str(spec_config.get("llm_model", "gpt-4o-mini"))

    def _b(state: CountingState, config: RunnableConfig) -> Command:
        if state.get("fail") or fail_runs:
            raise RuntimeError("counting agent was asked to fail in node b")
        if _hits(state, fail_ratio):
            raise ApplicationError(f"counting agent failed run seq={state['seq']} in node b (fail_ratio {fail_ratio:g})",
                                   type="CountingFailure", non_retryable=True)
        if llm_tokens > 0:
            _call_llm(llm_tokens, llm_model, config)
        answer = {}
        if state.get("ask"):
            request = build_request("counting_continue", "Continue to node c?", CountingAnswer, {"visited": state.get("visited", [])},
                                    [ReasonText(code="ASKED", text="the run input asked for a human step")])
            answer = ask_human(request, CountingAnswer).model_dump()
        update = {"visited": _visit(state, "b"), "answer": answer}
        if _hits(state, violate_ratio):
            update["decline"] = True  # without reasons: the output check refuses it
        return Command(goto="c", update=update)

    return _b


def _c(state: CountingState) -> Command:
    return Command(goto=END, update={"visited": _visit(state, "c")})


def build_graph(config: dict) -> StateGraph:
    g = StateGraph(CountingState)
    g.add_node("a", _a)
    g.add_node("b", _node_b(config))
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
