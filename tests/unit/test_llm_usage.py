"""UsageCollector reads token usage from both places LangChain providers report it."""

from __future__ import annotations

import uuid

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

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
