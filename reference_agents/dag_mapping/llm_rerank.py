"""The optional LLM re-rank of a second-pass node: the model chooses among the node's candidate
spans through a forced tool call, and the call is priced from the provider's reported usage with
the price book (:mod:`shipway.pricing`), so a job can stop calling once it reaches its cost cap.

Fail safe, as :func:`reference_agents.common.llm.choose_next`: no answer, an invalid one, or a
provider error keeps the structural choice (candidate 0)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from pydantic import Field, ValidationError, create_model

from shipway.pricing import DEFAULT_PRICES, price_usd

log = logging.getLogger(__name__)

TOOL = "choose_span"
_PROMPT = (
    "You map one operator of a query execution plan to the code that produced it. The candidates are "
    "code spans ranked by a structural matcher, best first. Choose the span that produced the operator. "
    "Answer only by calling the `choose_span` tool."
)


@dataclass(frozen=True)
class LlmChoice:
    """One re-rank call: the candidate chosen (index into the candidates; 0 when the answer was
    unusable), whether the model's answer was used, and the call's ``cost_usd`` (0 when the
    provider reported no usage or the model has no price; ``model`` as the provider named it)."""

    choice: int
    answered: bool
    cost_usd: float
    model: str


def choose_candidate(
    llm: BaseChatModel, model_name: str, node: dict, candidates: list[dict], *, config: RunnableConfig | None = None
) -> LlmChoice:
    """Ask ``llm`` which of ``candidates`` (``{"path", "symbol", "start_line", "end_line", "code"?}``,
    at least two) produced ``node`` (a plan row: operator, kind, tables, columns, constants,
    aggregates). ``model_name`` (``provider:model``) prices the call when the response names no
    model. ``config`` is passed on so the run's callbacks (usage, tracing) see the call."""
    tool = create_model(
        TOOL,
        __doc__="Choose the code span that produced the plan operator.",
        candidate=(Literal[tuple(range(len(candidates)))], Field(description="The number of the chosen candidate.")),
    )
    facts = {k: node.get(k) for k in ("operator", "kind", "tables", "columns", "constants", "aggregates")}
    listing = "\n\n".join(
        f"Candidate {i}: {c['path']} {c['symbol']} lines {c['start_line']}-{c['end_line']}\n{c.get('code', '')}"
        for i, c in enumerate(candidates)
    )
    messages = [
        SystemMessage(_PROMPT),
        HumanMessage(f"Plan operator (JSON): {json.dumps(facts, sort_keys=True)}\n\n{listing}"),
    ]
    try:
        answer = llm.bind_tools([tool], tool_choice=TOOL).invoke(messages, config=config)
    except Exception as exc:  # noqa: BLE001 - any provider failure keeps the structural choice
        log.warning("LLM re-rank failed (%s: %s); keeping the structural choice", type(exc).__name__, exc)
        return LlmChoice(0, False, 0.0, model_name)
    model, cost = _cost(answer, model_name)
    calls = [c for c in answer.tool_calls if c["name"] == TOOL]
    try:
        return LlmChoice(tool.model_validate(calls[0]["args"]).candidate, True, cost, model)
    except (IndexError, ValidationError):
        log.warning("LLM re-rank gave no valid %s call; keeping the structural choice", TOOL)
        return LlmChoice(0, False, cost, model)


def _cost(answer: AIMessage, model_name: str) -> tuple[str, float]:
    """The model the provider answered with and the call's price in USD (0 without usage or price)."""
    meta = answer.response_metadata or {}
    model = meta.get("model_name") or meta.get("model") or model_name
    usage = answer.usage_metadata or {}
    try:
        return model, price_usd(model, int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)), DEFAULT_PRICES)
    except KeyError:
        log.warning("no price for model %r: its calls do not count against the job's cost cap", model)
        return model, 0.0
