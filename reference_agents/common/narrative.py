"""The narrative every reference agent writes at the end: the LLM's prose when a model is configured,
the tools' template text otherwise, and which of the two it is."""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig

from reference_agents.common.llm import get_chat_model, model_from_config, write_narrative


def narrate(config: RunnableConfig | None, title: str, facts: dict, fallback: str) -> tuple[str, str]:
    """The narrative of ``facts`` and its source.

    Args:
        config: the node's ``RunnableConfig`` (names the model in ``configurable.model``).
        title: what the narrative is about.
        facts: JSON-serialisable results of the agent's tools, the only facts the LLM may use.
        fallback: deterministic text built from the same facts.

    Returns:
        ``(text, source)``: ``source`` is ``"llm"`` only when the model's answer is used, ``"tools"``
        for the template (no model configured, or the model answered nothing).

    Raises:
        Exception: the provider's own errors propagate, so the platform's retry policy applies.
    """
    llm = get_chat_model(model_from_config(config))
    text = write_narrative(llm, title, facts, fallback, config=config)
    return text, ("llm" if llm is not None and text != fallback else "tools")
