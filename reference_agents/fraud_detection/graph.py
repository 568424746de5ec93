"""The fraud agent's graph: a supervisor routing to enrichment, scoring, triage and, on high
risk, an analyst review that interrupts the run until a valid analyst answer arrives.

    START -> supervisor -> enrichment -> supervisor -> scoring -> supervisor -> triage
          -> supervisor -> [analyst_review (interrupt) -> supervisor] -> END

The review uses the shared human-in-the-loop contract (:func:`reference_agents.common.hitl.ask_human`,
request built by :func:`~reference_agents.fraud_detection.review.analyst_request`): an invalid
answer brings the same request back with ``error`` naming the field, and the run stays resumable.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from reference_agents.common.hitl import ask_human
from reference_agents.common.narrative import narrate
from reference_agents.fraud_detection.case_summary import SUMMARY_TITLE, case_facts, fallback_summary
from reference_agents.fraud_detection.inputs import FraudCaseInput
from reference_agents.fraud_detection.policy import load_policy
from reference_agents.fraud_detection.review import AnalystAnswer, analyst_request, settle
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
        ValueError: ``config`` names an unknown policy key, misorders the triage thresholds or
            empties a reason's text (see :func:`~reference_agents.fraud_detection.policy.load_policy`).
    """
    policy = load_policy(config)

    def supervisor(
        state: FraudState,
    ) -> Command[Literal["enrichment", "scoring", "triage", "analyst_review", "__end__"]]:
        """Route to :func:`next_step`."""
        return Command(goto=next_step(state))

    def enrichment(state: FraudState) -> Command[Literal["supervisor"]]:
        """Validate the case (raises ``pydantic.ValidationError`` naming the field), take the transaction
        out of an upstream alert, and compute the features against the customer's history."""
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
        """Rule hits, the IsolationForest result and their combination into a 0-100 risk score."""
        hits = evaluate_rules(state["features"], state["transaction"], policy)
        model = anomaly_score(state["transaction"], state["history"], policy["model"])
        return Command(
            goto="supervisor",
            update={"assessment": {"rule_hits": hits, "model": model, **combine_risk(hits, model, policy["model"])}},
        )

    def triage_node(state: FraudState, config: RunnableConfig) -> Command[Literal["supervisor"]]:
        """The policy's action for the risk score, and the case summary (LLM prose with a model)."""
        txn, assessment = state["transaction"], state["assessment"]
        result = triage(assessment["risk_score"], txn["channel"], policy["triage"])
        facts = case_facts(txn, state["features"], assessment, result)
        summary, source = narrate(config, SUMMARY_TITLE, facts, fallback_summary(facts))
        return Command(
            goto="supervisor",
            update={"triage": result, "decision": result["action"], "narrative": summary, "narrative_source": source},
        )

    def analyst_review(state: FraudState) -> Command[Literal["supervisor"]]:
        """Ask a fraud analyst until a valid answer arrives; the answer settles the action."""
        answer = ask_human(analyst_request(state, policy), AnalystAnswer)
        decision, _ = settle(answer)
        return Command(goto="supervisor", update={"analyst_review": answer.model_dump(), "decision": decision})

    graph = StateGraph(FraudState)
    graph.add_node("supervisor", supervisor)
    graph.add_node("enrichment", enrichment)
    graph.add_node("scoring", scoring)
    graph.add_node("triage", triage_node)
    graph.add_node("analyst_review", analyst_review)
    graph.add_edge(START, "supervisor")
    return graph
