"""The credit-underwriting graph: a supervisor routing to intake, risk scoring, policy, referral and memo.

Every worker returns ``Command(goto="supervisor", update=...)``; the supervisor reads the
state and sends the run to the next missing step (deterministic, no LLM: each step needs
the previous one's result, so there is never more than one valid next step to choose). A
referred application stops in ``underwriter_review`` at the shared human-in-the-loop interrupt
(:func:`reference_agents.common.hitl.ask_human`, request built by
:func:`~reference_agents.credit_underwriting.review.referral_request`) until the platform resumes
the thread with a valid :class:`~reference_agents.credit_underwriting.review.UnderwriterAnswer`;
an invalid one brings the same request back with ``error`` naming the field. Every decline, by
the policy or by the underwriter, carries up to four principal reasons for the adverse-action
notice (:mod:`~reference_agents.credit_underwriting.adverse_action`). Once decided, ``narrative``
writes the underwriting memo: by the configured LLM from the decision's facts, else from a
template; the decision never depends on it.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from reference_agents.common.hitl import ask_human
from reference_agents.common.narrative import narrate
from reference_agents.credit_underwriting.adverse_action import principal_reasons
from reference_agents.credit_underwriting.inputs import CreditApplication
from reference_agents.credit_underwriting.memo import MEMO_TITLE, memo_facts, rules_memo
from reference_agents.credit_underwriting.policy import load_policy, policy_facts
from reference_agents.credit_underwriting.review import UnderwriterAnswer, referral_request, settle
from reference_agents.credit_underwriting.state import ApplicationInput, UnderwritingState
from reference_agents.credit_underwriting.tools.scorecard import fitted_scorecard

_APPLICATION_FIELDS = tuple(CreditApplication.model_fields)


def supervisor(state: UnderwritingState) -> Command[Literal["intake", "risk_scoring", "policy_decision", "underwriter_review", "narrative", "__end__"]]:
    """Route to the first step whose result is missing from the state; end once the memo is written."""
    if "amount_per_month_dm" not in state:
        return Command(goto="intake")
    if "assessment" not in state:
        return Command(goto="risk_scoring")
    if "policy_result" not in state:
        return Command(goto="policy_decision")
    if "decision" not in state:
        return Command(goto="underwriter_review")
    if "narrative" not in state:
        return Command(goto="narrative")
    return Command(goto=END)


def intake(state: UnderwritingState) -> Command[Literal["supervisor"]]:
    """Validate the application (raises ``pydantic.ValidationError`` naming the field) and derive
    the monthly amount, DM per month."""
    app = CreditApplication.model_validate({k: state[k] for k in _APPLICATION_FIELDS if k in state})
    return Command(goto="supervisor", update={"amount_per_month_dm": round(app.credit_amount / app.duration_in_month, 2)})


def build_graph(config: dict) -> StateGraph:
    """The uncompiled graph.

    Args:
        config: the spec's ``config``, deep-merged over ``policy.yaml`` (e.g.
            ``{"thresholds": {"pd_decline_cutoff_pct": 60}}``); ``{}`` for the default policy.

    Raises:
        ValueError: ``config`` names a key the policy does not have, or the merged policy is
            invalid (``pydantic.ValidationError``).
    """
    policy = load_policy(config)
    scorecard = fitted_scorecard()  # fit once per process now, not inside the first run
    population_bad_rate = policy.population_bad_rate_pct / 100

    def risk_scoring(state: UnderwritingState) -> Command[Literal["supervisor"]]:
        """PD (percent, at the policy's population prior), points, top risk factors and principal factors."""
        return Command(goto="supervisor", update={"assessment": scorecard.assess(state, population_bad_rate)})

    def policy_decision(state: UnderwritingState) -> Command[Literal["supervisor"]]:
        """Walk the policy decision tree; approve/decline end the run, refer goes to an underwriter."""
        result = policy.decide(policy_facts(state, state["assessment"]))
        update: dict = {"policy_result": result}
        if result["decision"] != "refer":
            update.update(decision=result["decision"], reasons=result["reasons"], decided_by="policy")
        if result["decision"] == "decline":
            update["adverse_action_reasons"] = principal_reasons(policy, result["reasons"], state["assessment"], state)
        return Command(goto="supervisor", update=update)

    def underwriter_review(state: UnderwritingState) -> Command[Literal["supervisor"]]:
        """Ask a human underwriter until a valid answer arrives, and record it as the decision."""
        answer = ask_human(referral_request(state, policy), UnderwriterAnswer)
        decision, reason = settle(answer)
        update = {"underwriter_review": answer.model_dump(), "decision": decision, "reasons": [reason],
                  "decided_by": "underwriter"}
        if decision == "decline":
            update["adverse_action_reasons"] = principal_reasons(
                policy, state["policy_result"]["reasons"], state["assessment"], state)
        return Command(goto="supervisor", update=update)

    def narrative(state: UnderwritingState, config: RunnableConfig) -> Command[Literal["supervisor"]]:
        """The underwriting memo: LLM-written from :func:`memo_facts` when a model is configured,
        else :func:`rules_memo` (no LLM object is created then)."""
        facts = memo_facts(state, policy)
        text, source = narrate(config, MEMO_TITLE, facts, rules_memo(facts))
        return Command(goto="supervisor", update={"narrative": text, "narrative_source": source})

    builder = StateGraph(UnderwritingState, input_schema=ApplicationInput)
    builder.add_node("supervisor", supervisor)
    builder.add_node("intake", intake)
    builder.add_node("risk_scoring", risk_scoring)
    builder.add_node("policy_decision", policy_decision)
    builder.add_node("underwriter_review", underwriter_review)
    builder.add_node("narrative", narrative)
    builder.add_edge(START, "supervisor")
    return builder
