"""The optional LLM path of the reference agents: supervisor routing and narrative text.

Agents compute with their tools; an LLM, when one is configured (``provider:model`` in
``config["configurable"]["model"]``), only chooses among routes the graph already allows
and writes prose around facts the tools produced. Without an LLM nothing here calls one.

Models are built with LangChain's ``init_chat_model``; the provider's client reads its own
standard environment variables (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
``ANTHROPIC_API_KEY``, ...).
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Literal

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from pydantic import Field, ValidationError, create_model

log = logging.getLogger(__name__)

ROUTE_TOOL = "route"

_ROUTER_PROMPT = (
    "You are the supervisor of a financial agent's workflow. Decide which step runs next. "
    "Answer only by calling the `route` tool with one of the allowed steps."
)
_NARRATIVE_PROMPT = (
    "You write short, factual summaries for financial professionals. Use only the facts given; "
    "do not invent numbers, names or events; keep units; no advice beyond what the facts state. "
    "Plain prose, at most 150 words."
)


@lru_cache(maxsize=32)
def _cached_model(model: str) -> BaseChatModel:
    return init_chat_model(model)


def get_chat_model(model: str | None) -> BaseChatModel | None:
    """The chat model named ``provider:model`` (e.g. ``openai:gpt-4o-mini``), or ``None``.

    Instances are cached per name; call :func:`clear_model_cache` after changing the
    provider's environment (tests pointing ``OPENAI_BASE_URL`` at a local server do).

    Returns:
        ``None`` when ``model`` is ``None`` or empty, else a LangChain ``BaseChatModel``.

    Raises:
        ValueError: the provider is unknown to ``init_chat_model``.
        ImportError: the provider's integration package is not installed.
        Exception: the provider client refused to build (e.g. no API key in its env var).
    """
    if not model:
        return None
    return _cached_model(model)


def clear_model_cache() -> None:
    """Forget the cached chat models so the next :func:`get_chat_model` rebuilds them."""
    _cached_model.cache_clear()


def model_from_config(config: RunnableConfig | None) -> str | None:
    """The ``provider:model`` name in ``config["configurable"]["model"]``, or ``None``."""
    if not config:
        return None
    model = (config.get("configurable") or {}).get("model")
    return model or None


def choose_next(
    llm: BaseChatModel | None,
    task: str,
    options: list[str],
    default: str,
    context: dict,
    *,
    config: RunnableConfig | None = None,
) -> str:
    """Let the LLM pick the next step among ``options`` through a forced ``route`` tool call.

    The tool's single argument ``next`` is a JSON-schema enum of ``options``, and the
    answer is validated against it again here.

    Fail safe: with ``llm`` ``None``, when the model errors, returns no tool call, or names a
    step outside ``options``, the result is ``default`` (a warning is logged) -- routing by
    the LLM can never take the graph somewhere the deterministic supervisor would not allow.

    Args:
        llm: chat model supporting tool calling, or ``None``.
        task: what is being decided, in one sentence.
        options: allowed next steps (node names); must include ``default``.
        default: the deterministic supervisor's choice.
        context: JSON-serialisable facts the decision may use.
        config: the node's ``RunnableConfig``, passed on so its callbacks (usage, tracing) see the call.

    Returns:
        One element of ``options``.

    Raises:
        ValueError: ``options`` is empty or does not contain ``default`` (a programming error).
    """
    if not options or default not in options:
        raise ValueError(f"default {default!r} must be one of the options {options!r}")
    if llm is None:
        return default
    route = create_model(
        ROUTE_TOOL,
        __doc__="Choose the next step of the workflow.",
        next=(Literal[tuple(options)], Field(description="The step to run next.")),
    )
    messages = [
        SystemMessage(_ROUTER_PROMPT),
        HumanMessage(
            f"Task: {task}\nAllowed steps: {', '.join(options)}\n"
            f"Context (JSON):\n{json.dumps(context, default=str, sort_keys=True)}"
        ),
    ]
    try:
        answer = llm.bind_tools([route], tool_choice=ROUTE_TOOL).invoke(messages, config=config)
        calls = [c for c in answer.tool_calls if c["name"] == ROUTE_TOOL]
        if not calls:
            log.warning("LLM router returned no %s tool call; using default %r", ROUTE_TOOL, default)
            return default
        return route.model_validate(calls[0]["args"]).next
    except ValidationError as exc:
        log.warning("LLM router chose an invalid step (%s); using default %r", exc.errors()[0]["msg"], default)
    except Exception as exc:  # noqa: BLE001 - any provider failure must fall back, see docstring
        log.warning("LLM router failed (%s: %s); using default %r", type(exc).__name__, exc, default)
    return default


def write_narrative(
    llm: BaseChatModel | None,
    title: str,
    facts: dict,
    fallback: str,
    *,
    config: RunnableConfig | None = None,
) -> str:
    """A short prose summary of ``facts`` written by the LLM, or ``fallback`` without one.

    Args:
        llm: chat model, or ``None``.
        title: what the narrative is about (e.g. ``"AAPL 2012-01-03..2012-12-31"``).
        facts: JSON-serialisable results of the agent's tools; the only source the LLM may use.
        fallback: deterministic text built from the same facts.
        config: the node's ``RunnableConfig``, passed on so its callbacks see the call.

    Returns:
        The LLM's text, or ``fallback`` when ``llm`` is ``None`` or the answer is empty.

    Raises:
        Exception: the provider's own errors (rate limit, network) propagate so that the
            platform's retry policy applies to the run's activity.
    """
    if llm is None:
        return fallback
    answer = llm.invoke(
        [
            SystemMessage(_NARRATIVE_PROMPT),
            HumanMessage(f"{title}\nFacts (JSON):\n{json.dumps(facts, default=str, sort_keys=True)}"),
        ],
        config=config,
    )
    text = answer.text.strip()
    return text or fallback
