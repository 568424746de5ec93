"""Token usage of LLM calls.

:class:`UsageCollector` is a LangChain callback handler: pass it in a run's
``config["callbacks"]`` and it records, per LLM call, the model name, the input and
output token counts the provider reported, and the LangGraph node that made the call;
:mod:`shipway.pricing` prices them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

from shipway.pricing import DEFAULT_PRICES, price_usd

@dataclass(frozen=True)
class LlmCall:
    """One LLM call: provider model name as reported in the response, tokens in and out, and the
    LangGraph node that made it (None outside a graph node)."""

    model: str
    tokens_in: int
    tokens_out: int
    node: str | None = None


def _usage_of(response: LLMResult) -> tuple[str, int, int]:
    """Model name and token counts of one ``on_llm_end`` response.

    Prefers the standard ``AIMessage.usage_metadata`` (``input_tokens``/``output_tokens``);
    falls back to the OpenAI-style ``llm_output["token_usage"]``
    (``prompt_tokens``/``completion_tokens``) for models that only report that.
    """
    llm_output = response.llm_output or {}
    model = llm_output.get("model_name") or llm_output.get("model") or ""
    tokens_in = tokens_out = 0
    found = False
    for generations in response.generations:
        for generation in generations:
            message = getattr(generation, "message", None)
            if message is None:
                continue
            meta = message.response_metadata or {}
            model = model or meta.get("model_name") or meta.get("model") or ""
            usage = getattr(message, "usage_metadata", None)
            if usage:
                found = True
                tokens_in += int(usage.get("input_tokens", 0))
                tokens_out += int(usage.get("output_tokens", 0))
    if not found:
        token_usage = llm_output.get("token_usage") or llm_output.get("usage") or {}
        tokens_in = int(token_usage.get("prompt_tokens", token_usage.get("input_tokens", 0)) or 0)
        tokens_out = int(token_usage.get("completion_tokens", token_usage.get("output_tokens", 0)) or 0)
    return model, tokens_in, tokens_out


class UsageCollector(BaseCallbackHandler):
    """Callback handler recording every LLM call's model, token usage and graph node.

    Safe under sync and async runs: it does no I/O and appends under a lock, and
    ``run_inline`` keeps LangChain from moving it to a thread pool in async code.
    The model name is the one the provider's response reports (e.g.
    ``gpt-4o-mini-2024-07-18``), falling back to the name the call was made with. The node is the
    ``langgraph_node`` LangGraph puts in the metadata of every call made with a node's config.
    """

    run_inline = True

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._requested: dict[Any, tuple[str, str | None]] = {}  # run id -> (model asked for, node)
        self.calls: list[LlmCall] = []

    def _started(self, run_id: Any, metadata: dict | None, kwargs: dict) -> None:
        params = kwargs.get("invocation_params") or {}
        name = params.get("model_name") or params.get("model") or ""
        node = (metadata or {}).get("langgraph_node")
        with self._lock:
            self._requested[run_id] = (name, str(node) if node is not None else None)

    def on_chat_model_start(self, serialized: dict, messages: list, *, run_id: Any, metadata: dict | None = None,
                            **kwargs: Any) -> None:
        """Remember the model name the call was made with (in case the response lacks one) and its node."""
        self._started(run_id, metadata, kwargs)

    def on_llm_start(self, serialized: dict, prompts: list, *, run_id: Any, metadata: dict | None = None,
                     **kwargs: Any) -> None:
        """As :meth:`on_chat_model_start`, for completion (non-chat) models."""
        self._started(run_id, metadata, kwargs)

    def on_llm_end(self, response: LLMResult, *, run_id: Any, **kwargs: Any) -> None:
        """Record one finished call."""
        model, tokens_in, tokens_out = _usage_of(response)
        with self._lock:
            requested, node = self._requested.pop(run_id, ("", None))
            self.calls.append(LlmCall(model or requested or "unknown", tokens_in, tokens_out, node))

    def on_llm_error(self, error: BaseException, *, run_id: Any, **kwargs: Any) -> None:
        """Forget a failed call's bookkeeping (no usage is reported for it)."""
        with self._lock:
            self._requested.pop(run_id, None)

    def snapshot(self) -> list[LlmCall]:
        """The calls recorded so far (a copy: calls may still be recorded while it is read)."""
        with self._lock:
            return list(self.calls)

    @property
    def tokens_in(self) -> int:
        """Input (prompt) tokens over all recorded calls."""
        with self._lock:
            return sum(c.tokens_in for c in self.calls)

    @property
    def tokens_out(self) -> int:
        """Output (completion) tokens over all recorded calls."""
        with self._lock:
            return sum(c.tokens_out for c in self.calls)

    def cost_usd(self, prices: dict[str, tuple[float, float]] = DEFAULT_PRICES) -> float:
        """Total price of the recorded calls in US dollars (see :func:`price_usd`).

        Raises:
            KeyError: a recorded model has no price in ``prices``.
        """
        with self._lock:
            calls = list(self.calls)
        return sum(price_usd(c.model, c.tokens_in, c.tokens_out, prices) for c in calls)
