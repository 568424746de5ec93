"""The fraud agent's graph: a supervisor routing to enrichment, scoring, triage and, on high
risk, an analyst review that interrupts the run until a human disposition arrives.

    START -> supervisor -> enrichment -> supervisor -> scoring -> supervisor -> triage
          -> supervisor -> [analyst_review (interrupt) -> supervisor] -> END
"""

from __future__ import annotations

from typing import Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from reference_agents.common.llm import get_chat_model, model_from_config, write_narrative
from reference_agents.fraud_detection.analyst import AnalystDecision, settle
from reference_agents.fraud_detection.narrative import case_facts, fallback_summary
from reference_agents.fraud_detection.policy import load_policy
from reference_agents.fraud_detection.schemas import FraudCaseInput
from reference_agents.fraud_detection.state import FraudState
from reference_agents.fraud_detection.tools.anomaly import anomaly_score
from reference_agents.fraud_detection.tools.features import enrich
from reference_agents.fraud_detection.tools.rules import evaluate_rules
from reference_agents.fraud_detection.tools.scoring import combine_risk
from reference_agents.fraud_detection.tools.triage import triage


def next_step(state: FraudState) -> str:
    """The supervisor's deterministic route: the first stage whose result is missing, else END."""
    if "features" not in state:
        return "enrichment"
    if "assessment" not in state:
        return "scoring"
    if "triage" not in state:
        return "triage"
    if state["triage"]["analyst_review"] and "analyst_review" not in state:
        return "analyst_review"
    return END


def build_graph(config: dict) -> StateGraph:
    """The uncompiled graph.

    Args:
        config: fraud-policy overrides (deep-merged into ``policy.yaml``), ``{}`` for defaults.

    Raises:
        ValueError: ``config`` names an unknown policy key or misorders the triage thresholds.
    """
    policy = load_policy(config)

    def supervisor(
        state: FraudState,
    ) -> Command[Literal["enrichment", "scoring", "triage", "analyst_review", "__end__"]]:
        return Command(goto=next_step(state))

    def enrichment(state: FraudState) -> Command[Literal["supervisor"]]:
        case = FraudCaseInput.model_validate(
            {k: state[k] for k in ("transaction", "alert", "history", "account_events") if state.get(k) is not None}
        )
        txn = case.subject.model_dump(mode="json")
        history = [h.model_dump(mode="json") for h in case.history]
        events = [e.model_dump(mode="json") for e in case.account_events]
        return Command(
            goto="supervisor",
            update={
                "transaction": txn,
                "history": history,
                "account_events": events,
                "features": enrich(txn, history, events, policy),
            },
        )

    def scoring(state: FraudState) -> Command[Literal["supervisor"]]:
        hits = evaluate_rules(state["features"], state["transaction"], policy)
        model = anomaly_score(state["transaction"], state["history"], policy["model"])
        return Command(
            goto="supervisor",
            update={"assessment": {"rule_hits": hits, "model": model, **combine_risk(hits, model, policy["model"])}},
        )

    def triage_node(state: FraudState, config: RunnableConfig) -> Command[Literal["supervisor"]]:
        txn, assessment = state["transaction"], state["assessment"]
        result = triage(assessment["risk_score"], txn["channel"], policy["triage"])
        facts = case_facts(txn, state["features"], assessment, result)
        llm = get_chat_model(model_from_config(config))
        fallback = fallback_summary(facts)
        summary = write_narrative(llm, "Card transaction fraud alert", facts, fallback, config=config)
        return Command(
            goto="supervisor",
            update={
                "triage": result,
                "decision": result["action"],
                "narrative": summary,
                # an empty LLM answer falls back to the tools' text: that is not the LLM's
                "narrative_source": "llm" if llm and summary != fallback else "tools",
            },
        )

    def analyst_review(state: FraudState) -> Command[Literal["supervisor"]]:
        assessment = state["assessment"]
        answer = interrupt(
            {
                "kind": "fraud_analyst_review",
                "question": "Is this transaction fraud? Resume with disposition 'fraud' or 'legitimate'.",
                "transaction": state["transaction"],
                "alert_id": (state.get("alert") or {}).get("alert_id"),
                "risk_score": assessment["risk_score"],
                "reasons": assessment["reasons"],
                "rule_hits": assessment["rule_hits"],
                "proposed_action": state["triage"]["action"],
                "summary": state["narrative"],
            }
        )
        review = AnalystDecision.model_validate(answer)
        decision, _ = settle(review)
        return Command(goto="supervisor", update={"analyst_review": review.model_dump(), "decision": decision})

    graph = StateGraph(FraudState)
    graph.add_node("supervisor", supervisor)
    graph.add_node("enrichment", enrichment)
    graph.add_node("scoring", scoring)
    graph.add_node("triage", triage_node)
    graph.add_node("analyst_review", analyst_review)
    graph.add_edge(START, "supervisor")
    return graph
