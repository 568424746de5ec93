"""The credit-underwriting graph: a supervisor routing to intake, risk scoring, policy, referral and memo.

Every worker returns ``Command(goto="supervisor", update=...)``; the supervisor reads the
state and sends the run to the next missing step (deterministic, no LLM: each step needs
the previous one's result, so there is never more than one valid next step to choose). A
referred application stops at ``interrupt()`` in ``underwriter_review`` until the platform
resumes the thread with ``Command(resume={"decision", "underwriter", "note"})``; a malformed
resume value brings the same interrupt back with an ``"error"`` naming the field. Once
decided, ``narrative`` writes the underwriting memo: by the configured LLM from the
decision's facts, else from a template; the decision never depends on it.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from reference_agents.common.llm import get_chat_model, model_from_config, write_narrative
from reference_agents.credit_underwriting.application import CreditApplication
from reference_agents.credit_underwriting.memo import MEMO_TITLE, memo_facts, rules_memo
from reference_agents.credit_underwriting.state import ApplicationInput, UnderwritingState
from reference_agents.credit_underwriting.tools.policy import load_policy
from reference_agents.credit_underwriting.tools.review import (
    InvalidUnderwriterDecision,
    parse_underwriter_decision,
    referral_payload,
)
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


def risk_scoring(state: UnderwritingState) -> Command[Literal["supervisor"]]:
    """PD (percent), points and top risk factors from the fitted scorecard."""
    return Command(goto="supervisor", update={"assessment": fitted_scorecard().assess(state)})


def underwriter_review(state: UnderwritingState) -> Command[Literal["supervisor"]]:
    """Ask a human underwriter (``interrupt``) and record the validated answer.

    A malformed resume value (e.g. an unknown decision) does not end the run: the node
    interrupts again with the same payload plus ``"error"`` (the validation message naming the
    field), so the thread stays resumable. Raising instead would leave the bad value recorded
    as the interrupt's answer, and every later resume of the thread would replay it.
    """
    payload = referral_payload(state)
    while True:
        try:
            answer = parse_underwriter_decision(interrupt(payload))
            break
        except InvalidUnderwriterDecision as exc:
            payload = {**payload, "error": str(exc)}
    return Command(
        goto="supervisor",
        update={
            "underwriter_review": answer,
            "decision": answer["decision"],
            "reasons": ["UNDERWRITER_APPROVED" if answer["decision"] == "approve" else "UNDERWRITER_DECLINED"],
            "decided_by": "underwriter",
        },
    )


def build_graph(config: dict) -> StateGraph:
    """The uncompiled graph.

    Args:
        config: the spec's ``config``, deep-merged over ``policy.yaml`` (e.g.
            ``{"thresholds": {"pd_decline_cutoff_pct": 60}}``); ``{}`` for the default policy.

    Raises:
        pydantic.ValidationError: the merged policy is invalid.
    """
    policy = load_policy(config)
    fitted_scorecard()  # fit once per process now, not inside the first run

    def policy_decision(state: UnderwritingState) -> Command[Literal["supervisor"]]:
        """Walk the policy decision tree; approve/decline end the run, refer goes to an underwriter."""
        facts = {**state, **state["assessment"]}
        result = policy.decide(facts)
        update: dict = {"policy_result": result}
        if result["decision"] != "refer":
            update.update(decision=result["decision"], reasons=result["reasons"], decided_by="policy")
        return Command(goto="supervisor", update=update)

    def narrative(state: UnderwritingState, config: RunnableConfig) -> Command[Literal["supervisor"]]:
        """The underwriting memo: LLM-written from :func:`memo_facts` when a model is configured,
        else :func:`rules_memo` (no LLM object is created then)."""
        facts = memo_facts(state, policy)
        fallback = rules_memo(facts)
        llm = get_chat_model(model_from_config(config))
        text = write_narrative(llm, MEMO_TITLE, facts, fallback, config=config)
        # write_narrative falls back on an empty answer; say so rather than crediting the LLM.
        source = "llm" if llm is not None and text != fallback else "tools"
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
