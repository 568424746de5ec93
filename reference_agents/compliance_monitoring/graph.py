"""The Compliance Monitoring graph: supervisor + workers (LangGraph Command pattern).

Route (decided by :func:`next_step` from the state alone):
``intake`` → ``screen`` → [``review`` when a potential match needs an analyst] →
``monitor`` → ``decide`` → end. ``review`` asks the analyst through
:func:`reference_agents.common.hitl.ask_human` (request and answer in :mod:`.review`) and waits
for ``Command(resume={"decision": "true_match"|"false_positive", "reviewer": ..., "note": ...,
"reference_number": optional})``.
"""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from reference_agents.common.hitl import ask_human
from reference_agents.common.narrative import narrate
from reference_agents.compliance_monitoring.inputs import ComplianceInput
from reference_agents.compliance_monitoring.policy import load_policy
from reference_agents.compliance_monitoring.review import answer_model, recorded_review, review_request
from reference_agents.compliance_monitoring.state import ComplianceState
from reference_agents.compliance_monitoring.tools.identifiers import dob_match
from reference_agents.compliance_monitoring.tools.monitoring import run_monitoring
from reference_agents.compliance_monitoring.tools.narrative import fallback_narrative, narrative_facts
from reference_agents.compliance_monitoring.tools.watchlist import get_index, screen_name

INPUT_FIELDS = tuple(ComplianceInput.model_fields)


def next_step(state: ComplianceState) -> str:
    """The worker that runs next, or ``END``; a pure function of the state."""
    if not state.get("validated"):
        return "intake"
    if "screening" not in state:
        return "screen"
    if state["screening"]["candidates"] and state.get("review") is None:
        return "review"
    if "alerts" not in state:
        return "monitor"
    if "decision" not in state:
        return "decide"
    return END


def decide(screening: dict, review: dict | None, alerts: list[dict]) -> tuple[str, list[str]]:
    """``(decision, reason codes)``: ``blocked`` on a watchlist match the analyst confirmed, else
    ``alert`` when a monitoring rule fired, else ``clear``.

    Args:
        screening: the ``screen`` node's result (``candidates``).
        review: the analyst's recorded answer (``decision``), ``None`` without candidates.
        alerts: the monitoring alerts (``reason_code``).
    """
    reasons: list[str] = []
    if not screening["candidates"]:
        reasons.append("WATCHLIST_NO_MATCH")
    elif review and review["decision"] == "true_match":
        reasons.append("WATCHLIST_CONFIRMED_MATCH")
    else:
        reasons.append("WATCHLIST_FALSE_POSITIVE")
    for alert in alerts:
        if alert["reason_code"] not in reasons:
            reasons.append(alert["reason_code"])
    if "WATCHLIST_CONFIRMED_MATCH" in reasons:
        return "blocked", reasons
    return ("alert" if alerts else "clear"), reasons


def build_graph(config: dict) -> StateGraph:
    """The uncompiled graph.

    Args:
        config: the spec's ``config`` mapping, merged over ``policy.yaml`` (e.g.
            ``{"screening": {"review_threshold": 90, "ofac_sdn_csv_path": "/lists/sdn.csv"}}``).

    Raises:
        ValueError: ``config`` names a key ``policy.yaml`` does not have (e.g. an unknown
            monitoring rule), or leaves a review reason without its text.
    """
    policy = load_policy(config)
    screening_policy, monitoring_policy = policy["screening"], policy["monitoring"]

    def supervisor(state: ComplianceState) -> Command:
        """Route to :func:`next_step`."""
        return Command(goto=next_step(state))

    def intake(state: ComplianceState) -> Command:
        """Validate and normalise the run input (``pydantic.ValidationError`` names the field)."""
        # The platform validates run input too; doing it here keeps direct graph callers
        # honest and stores timestamps as ISO strings (JSON-serialisable state).
        clean = ComplianceInput.model_validate({k: state.get(k) for k in INPUT_FIELDS if state.get(k) is not None})
        return Command(goto="supervisor", update={**clean.model_dump(mode="json"), "validated": True})

    def screen(state: ComplianceState) -> Command:
        """Screen the name against the configured lists; flag strong matches and date-of-birth agreement."""
        index = get_index(screening_policy)
        candidates = screen_name(
            state["name"],
            index,
            score_cutoff=screening_policy["review_threshold"],
            limit=screening_policy["max_candidates"],
            subset_weight=screening_policy["subset_weight"],
            party_type=state.get("party_type"),
        )
        for c in candidates:
            c["strong_match"] = c["score"] >= screening_policy["strong_match_threshold"]
            c["dob_match"] = dob_match(state.get("date_of_birth"), c["dates_of_birth"])
        screening = {
            "screened_name": state["name"],
            "normalized_name": index.normalize(state["name"]),
            "candidates": candidates,
            "review_threshold": screening_policy["review_threshold"],
            "strong_match_threshold": screening_policy["strong_match_threshold"],
            "names_indexed": len(index.choices),
            "parties_indexed": len(index.entries),
            "sources": sorted({e.source for e in index.entries}),
        }
        return Command(goto="supervisor", update={"screening": screening})

    def review(state: ComplianceState) -> Command:
        """Ask the analyst about the candidates until a valid answer arrives (:mod:`.review`)."""
        refs = [c["reference_number"] for c in state["screening"]["candidates"]]
        model = answer_model(refs)
        answer = ask_human(review_request(state, policy, model), model)
        return Command(goto="supervisor", update={"review": recorded_review(answer, refs)})

    def monitor(state: ComplianceState) -> Command:
        """Run the policy's transaction monitoring rules."""
        return Command(goto="supervisor", update={"alerts": run_monitoring(state.get("transactions") or [], monitoring_policy)})

    def decide_node(state: ComplianceState, config: RunnableConfig) -> Command:
        """Decide (:func:`decide`) and write the case narrative."""
        decision, reasons = decide(state["screening"], state.get("review"), state["alerts"])
        facts = narrative_facts(decision, reasons, state["screening"]["candidates"], state.get("review"),
                                state["alerts"], len(state.get("transactions") or []))
        narrative, source = narrate(config, "Sanctions screening and transaction monitoring case", facts,
                                    fallback_narrative(facts))
        return Command(goto="supervisor", update={
            "decision": decision, "reasons": reasons, "narrative": narrative, "narrative_source": source,
        })

    graph = StateGraph(ComplianceState)
    graph.add_node("supervisor", supervisor, destinations=("intake", "screen", "review", "monitor", "decide", END))
    graph.add_node("intake", intake, destinations=("supervisor",))
    graph.add_node("screen", screen, destinations=("supervisor",))
    graph.add_node("review", review, destinations=("supervisor",))
    graph.add_node("monitor", monitor, destinations=("supervisor",))
    graph.add_node("decide", decide_node, destinations=("supervisor",))
    graph.add_edge(START, "supervisor")
    return graph
