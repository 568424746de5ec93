"""The Compliance Monitoring graph: supervisor + workers (LangGraph Command pattern).

Route (decided by :func:`next_step` from the state alone):
``intake`` → ``screen`` → [``review`` when a potential match needs an analyst] →
``monitor`` → ``decide`` → end. ``review`` calls ``interrupt()`` with the candidates and
waits for ``Command(resume={"disposition": "true_match"|"false_positive", "analyst": ...,
"note": ...})``.

Every potential match — including strong/exact ones — goes to an analyst: sanctions
practice requires a human to confirm a true match before assets are blocked, and an
exact name alone is not identity (namesakes); the candidate's ``strong_match`` flag and
``dob_match`` help the analyst.
"""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from pydantic import ValidationError

from reference_agents.common import get_chat_model, model_from_config, write_narrative
from reference_agents.compliance_monitoring.schemas import ComplianceInput, Disposition
from reference_agents.compliance_monitoring.state import ComplianceState
from reference_agents.compliance_monitoring.tools.identifiers import dob_match
from reference_agents.compliance_monitoring.tools.monitoring import run_monitoring
from reference_agents.compliance_monitoring.tools.policy import load_policy
from reference_agents.compliance_monitoring.tools.watchlist import get_index, screen_name

INPUT_FIELDS = tuple(ComplianceInput.model_fields)


def next_step(state: ComplianceState) -> str:
    """The worker that runs next, or ``END``; a pure function of the state."""
    if not state.get("validated"):
        return "intake"
    if "screening" not in state:
        return "screen"
    if state["screening"]["candidates"] and state.get("disposition") is None:
        return "review"
    if "alerts" not in state:
        return "monitor"
    if "decision" not in state:
        return "decide"
    return END


def decide(screening: dict, disposition: dict | None, alerts: list[dict]) -> tuple[str, list[str]]:
    """``(decision, reason codes)``: ``blocked`` on a confirmed watchlist match, else
    ``alert`` when a monitoring rule fired, else ``clear``."""
    reasons: list[str] = []
    if not screening["candidates"]:
        reasons.append("WATCHLIST_NO_MATCH")
    elif disposition and disposition["disposition"] == "true_match":
        reasons.append("WATCHLIST_CONFIRMED_MATCH")
    else:
        reasons.append("WATCHLIST_FALSE_POSITIVE")
    for alert in alerts:
        if alert["reason_code"] not in reasons:
            reasons.append(alert["reason_code"])
    if "WATCHLIST_CONFIRMED_MATCH" in reasons:
        return "blocked", reasons
    return ("alert" if alerts else "clear"), reasons


def parse_disposition(answer: object, candidate_refs: list[str]) -> dict:
    """The analyst's resume value as a recorded disposition.

    Returns:
        :class:`Disposition` fields plus ``candidate_reference_numbers``; a ``true_match``
        without ``reference_number`` confirms the best candidate (``candidate_refs[0]``).

    Raises:
        ValueError: not a valid disposition (message names the fields), or
            ``reference_number`` is not one of the candidates.
    """
    try:
        disposition = Disposition.model_validate(answer).model_dump()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"invalid disposition ({problems})") from exc
    if disposition["reference_number"] is not None and disposition["reference_number"] not in candidate_refs:
        raise ValueError(
            f"reference_number {disposition['reference_number']!r} is not a candidate ({', '.join(candidate_refs)})"
        )
    if disposition["disposition"] == "true_match" and disposition["reference_number"] is None:
        disposition["reference_number"] = candidate_refs[0]
    disposition["candidate_reference_numbers"] = candidate_refs
    return disposition


def build_graph(config: dict) -> StateGraph:
    """The uncompiled graph.

    Args:
        config: the spec's ``config`` mapping, merged over ``policy.yaml`` (e.g.
            ``{"screening": {"review_threshold": 90, "ofac_sdn_csv_path": "/lists/sdn.csv"}}``).

    Raises:
        ValueError: ``config`` names an unknown policy section, key or monitoring rule.
    """
    policy = load_policy(config)
    screening_policy, monitoring_policy = policy["screening"], policy["monitoring"]

    def supervisor(state: ComplianceState) -> Command:
        return Command(goto=next_step(state))

    def intake(state: ComplianceState) -> Command:
        # The platform validates run input too; doing it here keeps direct graph callers
        # honest and stores timestamps as ISO strings (JSON-serialisable state).
        clean = ComplianceInput.model_validate({k: state.get(k) for k in INPUT_FIELDS if state.get(k) is not None})
        return Command(goto="supervisor", update={**clean.model_dump(mode="json"), "validated": True})

    def screen(state: ComplianceState) -> Command:
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
        screening = state["screening"]
        refs = [c["reference_number"] for c in screening["candidates"]]
        prompt = {
            "kind": "watchlist_potential_match",
            "question": "Is the screened party the listed party? Reply with disposition "
            "'true_match' or 'false_positive', your name as analyst, and a note.",
            "customer_id": state.get("customer_id"),
            "screened_name": screening["screened_name"],
            "date_of_birth": state.get("date_of_birth"),
            "nationality": state.get("nationality"),
            "candidates": screening["candidates"],
            "allowed_dispositions": ["true_match", "false_positive"],
        }
        # An invalid answer asks again (a new interrupt carrying the error) instead of
        # failing: a resume value is kept in the thread, so raising would wedge the run.
        while True:
            try:
                disposition = parse_disposition(interrupt(prompt), refs)
                break
            except ValueError as exc:
                prompt = {**prompt, "error": str(exc)}
        return Command(goto="supervisor", update={"disposition": disposition})

    def monitor(state: ComplianceState) -> Command:
        return Command(goto="supervisor", update={"alerts": run_monitoring(state.get("transactions") or [], monitoring_policy)})

    def decide_node(state: ComplianceState, config: RunnableConfig) -> Command:
        decision, reasons = decide(state["screening"], state.get("disposition"), state["alerts"])
        facts = {
            "decision": decision,
            "reasons": reasons,
            "watchlist_candidates": [
                {k: c[k] for k in ("reference_number", "list_type", "score", "matched_name_kind", "dob_match")}
                for c in state["screening"]["candidates"]
            ],
            "disposition": (state.get("disposition") or {}).get("disposition"),
            "alerts": [{k: a[k] for k in ("reason_code", "amount_usd")} | {"transactions": len(a["transaction_ids"])}
                       for a in state["alerts"]],
            "transactions_monitored": len(state.get("transactions") or []),
        }
        fallback = (
            f"Decision {decision}: {', '.join(reasons)}. "
            f"{len(facts['watchlist_candidates'])} watchlist candidate(s), "
            f"{len(state['alerts'])} monitoring alert(s) over {facts['transactions_monitored']} transaction(s)."
        )
        llm = get_chat_model(model_from_config(config))
        narrative = write_narrative(
            llm, "Sanctions screening and transaction monitoring case", facts, fallback, config=config,
        )
        # write_narrative falls back on an empty answer; say so rather than crediting the LLM.
        source = "llm" if llm is not None and narrative != fallback else "tools"
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
