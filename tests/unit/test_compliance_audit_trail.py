"""The audit trail of a screening (list source, dateGenerated and SHA-256 in every output; stale lists
flagged or refused), counterparty screening, and payments to comprehensively sanctioned
jurisdictions held, through the compiled graph (InMemorySaver)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import ValidationError

from reference_agents.compliance_monitoring import AGENT
from reference_agents.compliance_monitoring.policy import PACKAGE_DIR

UN_FILE = PACKAGE_DIR / "data" / "un_sc_consolidated_list_2020-11-24.xml"
UN_SHA256 = "4fe18fb5b972ca2cb51be86acefde0cecb3202ca9370aceac1f92a8d06c7a3ef"


def wire(tx_id: str, amount: float, country: str, name: str | None = None, **extra) -> dict:
    return {"transaction_id": tx_id, "timestamp": "2024-05-02T15:00:00+00:00", "amount_usd": amount,
            "direction": "out", "type": "wire", "counterparty_country": country,
            **({"counterparty_name": name} if name else {}), **extra}


def run(graph, payload: dict, thread: str, answer: dict | None = None) -> dict:
    config = {"configurable": {"thread_id": thread}}
    state = graph.invoke(payload, config)
    if answer is not None:
        assert "__interrupt__" in state
        state = graph.invoke(Command(resume=answer), config)
    return state


@pytest.fixture(scope="module")
def graph():
    return AGENT.build_graph({}).compile(checkpointer=InMemorySaver())


def test_every_output_shows_the_list_version_used(graph):
    out = AGENT.output(run(graph, {"name": "Margaret Thompson"}, "version"))
    (listed,) = out["watchlist"]["lists"]
    assert hashlib.sha256(UN_FILE.read_bytes()).hexdigest() == UN_SHA256
    assert {k: listed[k] for k in ("source", "file", "date_generated", "sha256", "parties")} == {
        "source": "UN", "file": UN_FILE.name, "date_generated": "2020-11-24T20:23:07.617-05:00",
        "sha256": UN_SHA256, "parties": 1018}
    today = datetime.now(timezone.utc).date()
    assert out["watchlist"]["screening_date"] == today.isoformat()
    assert listed["age_days"] == (today - datetime(2020, 11, 24).date()).days


def test_shipped_2020_list_is_flagged_stale_not_passed_off_as_current(graph):
    out = AGENT.output(run(graph, {"name": "Margaret Thompson"}, "stale"))
    assert out["watchlist"]["stale"] is True and out["watchlist"]["lists"][0]["stale"] is True
    assert out["decision"] == "clear" and out["reasons"] == ["WATCHLIST_NO_MATCH", "WATCHLIST_STALE"]
    line = AGENT.summarize([out])
    assert f"UN 2020-11-24 sha256 {UN_SHA256[:12]} STALE" in line


def test_fresh_list_is_not_stale_and_its_own_hash_is_shown(tmp_path):
    today = datetime.now(timezone.utc).date().isoformat()
    fresh = tmp_path / "un_today.xml"
    fresh.write_bytes(UN_FILE.read_bytes().replace(b'dateGenerated="2020-11-24T20:23:07.617-05:00"',
                                                   f'dateGenerated="{today}T06:00:00.000-05:00"'.encode()))
    graph = AGENT.build_graph({"screening": {"un_list_path": str(fresh)}}).compile(checkpointer=InMemorySaver())
    out = AGENT.output(run(graph, {"name": "Margaret Thompson"}, "fresh"))
    (listed,) = out["watchlist"]["lists"]
    assert listed["stale"] is False and listed["age_days"] in (0, 1) and listed["date_generated"].startswith(today)
    assert listed["sha256"] == hashlib.sha256(fresh.read_bytes()).hexdigest() != UN_SHA256
    assert "WATCHLIST_STALE" not in out["reasons"]


def test_stale_list_refused_when_configured():
    graph = AGENT.build_graph({"screening": {"stale_list_action": "refuse"}}).compile(checkpointer=InMemorySaver())
    with pytest.raises(ValueError, match="older than screening.max_list_age_days=31: UN"):
        graph.invoke({"name": "Margaret Thompson"}, {"configurable": {"thread_id": "refuse"}})


def test_counterparty_on_a_transaction_is_screened_and_a_confirmed_match_blocks(graph):
    payload = {"name": "Margaret Thompson", "transactions": [
        wire("W1", 4800, "MA", "Moroccan Islamic Combatant Grp"), wire("W2", 120, "US", "Harbor Street Properties")]}
    config = {"configurable": {"thread_id": "counterparty"}}
    request = graph.invoke(payload, config)["__interrupt__"][0].value
    context = request["context"]
    assert (context["party"], context["transaction_ids"], context["country"]) == ("counterparty", ["W1"], "MA")
    top = context["candidates"][0]
    assert (top["reference_number"], top["country_evidence"], top["party_type"]) == ("QDe.089", "agrees", "entity")
    assert AGENT.resume_value(request, payload)["decision"] == "true_match"
    out = AGENT.output(graph.invoke(Command(resume={"decision": "true_match", "reviewer": "a.kowalski"}), config))
    assert out["decision"] == "blocked"
    assert out["reasons"][:2] == ["WATCHLIST_NO_MATCH", "COUNTERPARTY_CONFIRMED_MATCH"]
    assert out["counterparties"][0]["review"]["reference_number"] == "QDe.089"
    assert out["counterparties"][1] == {"transaction_ids": ["W2"], "country": "US", "candidates": [], "review": None}


def test_dismissed_counterparty_does_not_block(graph):
    payload = {"name": "Margaret Thompson", "transactions": [wire("W1", 4800, "MA", "Moroccan Islamic Combatant Grp")]}
    out = AGENT.output(run(graph, payload, "counterparty-fp", {"decision": "false_positive", "reviewer": "b.osei"}))
    assert out["decision"] == "clear" and "COUNTERPARTY_FALSE_POSITIVE" in out["reasons"]


def test_customer_and_counterparty_are_each_reviewed(graph):
    payload = {"name": "Ri Won Ho", "date_of_birth": "1964-07-17",
               "transactions": [wire("W1", 4800, "MA", "Moroccan Islamic Combatant Group")]}
    config = {"configurable": {"thread_id": "both"}}
    first = graph.invoke(payload, config)["__interrupt__"][0].value
    assert first["context"]["party"] == "customer"
    second = graph.invoke(Command(resume={"decision": "false_positive", "reviewer": "x"}), config)["__interrupt__"][0].value
    assert second["context"]["party"] == "counterparty"
    out = AGENT.output(graph.invoke(Command(resume={"decision": "true_match", "reviewer": "x"}), config))
    assert out["review"]["decision"] == "false_positive" and out["decision"] == "blocked"


@pytest.mark.parametrize(("tx", "held"), [
    (wire("W1", 250, "CU"), True),
    (wire("W1", 250, "IR"), True),
    (wire("W1", 250, "KP"), True),
    (wire("W1", 250, "UA", counterparty_subdivision="UA-43"), True),  # Crimea
    (wire("W1", 250, "UA", counterparty_subdivision="ua-14"), True),  # Donetsk
    (wire("W1", 250, "UA", counterparty_subdivision="UA-30"), False),  # Kyiv
    (wire("W1", 250, "SY"), False),  # program ended 2025-07-01 (EO 14312)
    (wire("W1", 250, "MM"), False),  # FATF call for action: alert, not an OFAC embargo
])
def test_payment_to_a_comprehensively_sanctioned_jurisdiction_is_held(graph, tx, held):
    out = AGENT.output(run(graph, {"name": "Margaret Thompson", "transactions": [tx]}, f"hold-{tx}"))
    assert (out["decision"] == "held") is held
    assert out["held_transaction_ids"] == (["W1"] if held else [])
    assert ("SANCTIONED_JURISDICTION_HOLD" in out["reasons"]) is held
    if held:
        alert = next(a for a in out["alerts"] if a["reason_code"] == "SANCTIONED_JURISDICTION_HOLD")
        assert alert["hold"] is True and "OFAC" in alert["details"]["source"]


def test_cash_type_and_direction_must_agree():
    bad = {"transaction_id": "1", "timestamp": "2024-01-01T00:00:00", "amount_usd": 5, "direction": "out",
           "type": "cash_deposit"}
    with pytest.raises(ValidationError, match="cash_deposit is direction 'in'"):
        AGENT.input_model.model_validate({"name": "Ann Lee", "transactions": [bad]})
