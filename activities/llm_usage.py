"""Token usage of LLM calls and its price.

:class:`UsageCollector` is a LangChain callback handler: pass it in a run's
``config["callbacks"]`` and it records, per LLM call, the model name and the input and
output token counts the provider reported. :func:`price_usd` prices a call from a table of
US dollars per million tokens; :data:`DEFAULT_PRICES` (from ``model_prices.yaml``) seeds the
``model_prices`` table.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

PRICES_FILE = Path(__file__).with_name("model_prices.yaml")


@dataclass(frozen=True)
class LlmCall:
    """One LLM call: provider model name as reported in the response, tokens in and out."""

    model: str
    tokens_in: int
    tokens_out: int


def load_prices(path: Path = PRICES_FILE) -> dict[str, tuple[float, float]]:
    """Read a price file: ``{provider: {model: {input: usd_per_mtok, output: usd_per_mtok}}}``.

    Returns:
        ``{model: (input_usd_per_million_tokens, output_usd_per_million_tokens)}``.

    Raises:
        OSError: the file cannot be read.
        KeyError, TypeError, ValueError: an entry lacks a numeric ``input`` or ``output``.
    """
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        model: (float(entry["input"]), float(entry["output"]))
        for models in raw.values()
        for model, entry in models.items()
    }


DEFAULT_PRICES: dict[str, tuple[float, float]] = load_prices()


def resolve_price_key(model: str, prices: dict[str, tuple[float, float]]) -> str | None:
    """The key of ``prices`` that prices ``model``, or ``None``.

    ``openai:gpt-4o-mini`` is looked up as ``gpt-4o-mini``; a dated snapshot such as
    ``gpt-4o-mini-2024-07-18`` takes the longest key it starts with followed by ``-``
    (so ``gpt-4o-mini-...`` is never priced as ``gpt-4o``).
    """
    name = model.split(":", 1)[1] if ":" in model else model
    for candidate in (model, name):
        if candidate in prices:
            return candidate
    prefixes = [key for key in prices if name.startswith(key + "-")]
    return max(prefixes, key=len) if prefixes else None


def price_usd(model: str, tokens_in: int, tokens_out: int, prices: dict[str, tuple[float, float]]) -> float:
    """Cost of a call in US dollars: ``(tokens_in * input + tokens_out * output) / 1e6``.

    Args:
        model: model name, with or without ``provider:`` prefix or snapshot date suffix.
        tokens_in, tokens_out: token counts (non-negative).
        prices: ``{model: (input_usd_per_million_tokens, output_usd_per_million_tokens)}``.

    Raises:
        KeyError: no price is known for ``model`` (the caller decides whether that is fatal).
        ValueError: a negative token count.
    """
    if tokens_in < 0 or tokens_out < 0:
        raise ValueError(f"token counts must be non-negative, got {tokens_in}, {tokens_out}")
    key = resolve_price_key(model, prices)
    if key is None:
        raise KeyError(f"no price for model {model!r}; known: {', '.join(sorted(prices))}")
    usd_in, usd_out = prices[key]
    return (tokens_in * usd_in + tokens_out * usd_out) / 1_000_000


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
    """Callback handler recording every LLM call's model and token usage.

    Safe under sync and async runs: it does no I/O and appends under a lock, and
    ``run_inline`` keeps LangChain from moving it to a thread pool in async code.
    The model name is the one the provider's response reports (e.g.
    ``gpt-4o-mini-2024-07-18``), falling back to the name the call was made with.
    """

    run_inline = True

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._requested: dict[Any, str] = {}
        self.calls: list[LlmCall] = []

    def on_chat_model_start(self, serialized: dict, messages: list, *, run_id: Any, **kwargs: Any) -> None:
        """Remember the model name the call was made with, in case the response lacks one."""
        params = kwargs.get("invocation_params") or {}
        name = params.get("model_name") or params.get("model") or ""
        with self._lock:
            self._requested[run_id] = name

    def on_llm_end(self, response: LLMResult, *, run_id: Any, **kwargs: Any) -> None:
        """Record one finished call."""
        model, tokens_in, tokens_out = _usage_of(response)
        with self._lock:
            requested = self._requested.pop(run_id, "")
            self.calls.append(LlmCall(model or requested or "unknown", tokens_in, tokens_out))

    def on_llm_error(self, error: BaseException, *, run_id: Any, **kwargs: Any) -> None:
        """Forget a failed call's bookkeeping (no usage is reported for it)."""
        with self._lock:
            self._requested.pop(run_id, None)

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
