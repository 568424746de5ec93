"""Helpers shared by the reference agents: the optional LLM path (routing and narrative)."""

from reference_agents.common.llm import (
    choose_next,
    clear_model_cache,
    get_chat_model,
    model_from_config,
    write_narrative,
)

__all__ = ["choose_next", "clear_model_cache", "get_chat_model", "model_from_config", "write_narrative"]
