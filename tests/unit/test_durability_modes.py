"""Choosing an agent version's checkpoint durability (shipway.durability) and the spec fields behind it."""

from __future__ import annotations

import pytest

from shipway.durability import resolve_durability, spec_durability
from shipway.spec import SpecError, parse_spec
from shipway.stack.agent_workers import default_agent_processes

SPEC = {"name": "durable-agent", "owner": "o@bank.example", "description": "An agent for the durability tests.",
        "template": "counting_agent:AGENT"}


@pytest.mark.parametrize("declared, model, external, budgeted, expected", [
    ("auto", None, False, False, "exit"),  # deterministic: one checkpoint, the step runs again whole after a crash
    (None, None, False, False, "exit"),
    ("auto", "openai:gpt-4o-mini", False, False, "async"),  # an LLM call must not run twice
    ("auto", None, True, False, "async"),  # nor a call to an external system
    ("auto", None, False, True, "async"),  # a per-run budget: only LLM calls spend it
    ("exit", "openai:gpt-4o-mini", False, False, "exit"),  # what the spec says wins
    ("sync", None, False, False, "sync"),
])
def test_auto_checkpoints_per_node_only_where_a_node_has_effects_outside_the_graph(declared, model, external, budgeted, expected):
    assert resolve_durability(declared, model=model, external_calls=external, budgeted=budgeted) == expected


def test_a_stored_spec_decides_with_the_platform_model_where_it_names_none():
    assert spec_durability({}, None) == "exit"
    assert spec_durability({}, "openai:gpt-4o-mini") == "async"  # SHIPWAY_LLM: its nodes may call it
    assert spec_durability({"max_cost_usd": 0.5}, None) == "async"
    assert spec_durability({"external_calls": True, "durability": "auto"}, None) == "async"
    assert spec_durability({"durability": "exit", "model": "openai:gpt-4o-mini"}, None) == "exit"


def test_an_unknown_durability_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="unknown durability 'often'; one of auto, exit, async, sync"):
        resolve_durability("often", model=None)
    with pytest.raises(SpecError, match="durability"):
        parse_spec({**SPEC, "durability": "often"})


def test_the_spec_carries_durability_and_external_calls():
    spec = parse_spec({**SPEC, "durability": "sync", "external_calls": True})
    assert (spec.durability, spec.external_calls) == ("sync", True)
    assert (parse_spec(SPEC).durability, parse_spec(SPEC).external_calls) == ("auto", False)


@pytest.mark.parametrize("cpus, extra", [(1, 0), (2, 1), (4, 3), (64, 3)])
def test_one_extra_agent_worker_per_core_beyond_the_first_at_most_three(cpus, extra):
    assert default_agent_processes(cpus) == extra
