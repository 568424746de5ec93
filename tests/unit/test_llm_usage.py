"""UsageCollector reads token usage from both places LangChain providers report it, and the graph
node of each call."""

from __future__ import annotations

import uuid
from typing import TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from activities.llm_usage import UsageCollector


def test_usage_metadata_is_preferred_and_summed_over_generations():
    usage = UsageCollector()
    gens = [
        ChatGeneration(message=AIMessage("a", usage_metadata={"input_tokens": 10, "output_tokens": 3, "total_tokens": 13},
                                         response_metadata={"model_name": "gpt-4o-mini-2024-07-18"})),
        ChatGeneration(message=AIMessage("b", usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15})),
    ]
    # llm_output repeats the totals; it must not be added a second time
    result = LLMResult(generations=[gens], llm_output={"token_usage": {"prompt_tokens": 20, "completion_tokens": 8}})
    usage.on_llm_end(result, run_id=uuid.uuid4())
    (call,) = usage.calls
    assert (call.model, call.tokens_in, call.tokens_out) == ("gpt-4o-mini-2024-07-18", 20, 8)


def test_token_usage_from_llm_output_and_requested_model_name():
    usage = UsageCollector()
    run_id = uuid.uuid4()
    usage.on_chat_model_start({}, [[]], run_id=run_id, invocation_params={"model": "claude-3-5-haiku-20241022"})
    result = LLMResult(
        generations=[[ChatGeneration(message=AIMessage("x"))]],
        llm_output={"token_usage": {"prompt_tokens": 1200, "completion_tokens": 300}},
    )
    usage.on_llm_end(result, run_id=run_id)
    assert usage.calls[0].model == "claude-3-5-haiku-20241022"
    assert (usage.tokens_in, usage.tokens_out) == (1200, 300)
    # claude-3-5-haiku list price 0.80 / 4.00 USD per million tokens
    assert abs(usage.cost_usd() - (1200 * 0.80 + 300 * 4.00) / 1e6) < 1e-12


def test_failed_call_records_nothing():
    usage = UsageCollector()
    run_id = uuid.uuid4()
    usage.on_chat_model_start({}, [[]], run_id=run_id, invocation_params={"model": "gpt-4o"})
    usage.on_llm_error(RuntimeError("rate limited"), run_id=run_id)
    assert usage.calls == [] and usage.cost_usd() == 0


def _fake_chat(tokens: int) -> GenericFakeChatModel:
    reply = AIMessage("ok", usage_metadata={"input_tokens": tokens, "output_tokens": tokens, "total_tokens": 2 * tokens},
                      response_metadata={"model_name": "gpt-4o-mini"})
    return GenericFakeChatModel(messages=iter([reply]))


def test_each_call_records_the_graph_node_that_made_it():
    """LangGraph puts ``langgraph_node`` in the metadata of calls made with a node's config; a call
    outside any node has none."""

    class State(TypedDict, total=False):
        n: int

    def node(tokens: int):
        def run(state: State, config: RunnableConfig) -> dict:
            _fake_chat(tokens).invoke([HumanMessage("hi")], config)
            return {"n": state.get("n", 0) + 1}
        return run

    g = StateGraph(State)
    g.add_node("plan", node(3))
    g.add_node("write", node(5))
    g.add_edge(START, "plan")
    g.add_edge("plan", "write")
    g.add_edge("write", END)
    usage = UsageCollector()
    g.compile().invoke({}, {"callbacks": [usage]})
    _fake_chat(7).invoke([HumanMessage("outside")], {"callbacks": [usage]})
    assert [(c.node, c.tokens_in) for c in usage.snapshot()] == [("plan", 3), ("write", 5), (None, 7)]


def test_completion_models_record_their_node_and_requested_model_too():
    usage = UsageCollector()
    run_id = uuid.uuid4()
    usage.on_llm_start({}, ["prompt"], run_id=run_id, metadata={"langgraph_node": "summarise"},
                       invocation_params={"model_name": "gpt-3.5-turbo-instruct"})
    usage.on_llm_end(LLMResult(generations=[[]], llm_output={"token_usage": {"prompt_tokens": 4, "completion_tokens": 2}}),
                     run_id=run_id)
    (call,) = usage.snapshot()
    assert (call.model, call.node, call.tokens_in, call.tokens_out) == ("gpt-3.5-turbo-instruct", "summarise", 4, 2)
