"""The Compliance Monitoring graph: supervisor + workers (LangGraph Command pattern).

Route (decided by :func:`next_step` from the state alone):
``intake`` → ``screen`` (the customer and every transaction counterparty) → [``review``, once per
screened party with potential matches: the customer first, then each counterparty] →
``monitor`` → ``decide`` → end. ``review`` asks the analyst through
:func:`reference_agents.common.hitl.ask_human` (request and answer in :mod:`.review`) and waits
for ``Command(resume={"decision": "true_match"|"false_positive", "reviewer": ..., "note": ...,
"reference_number": optional})``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from reference_agents.common.hitl import ask_human
from reference_agents.common.narrative import narrate
from reference_agents.compliance_monitoring.inputs import ComplianceInput
from reference_agents.compliance_monitoring.policy import load_policy
from reference_agents.compliance_monitoring.review import answer_model, recorded_review, review_request
from reference_agents.compliance_monitoring.state import ComplianceState
from reference_agents.compliance_monitoring.tools.list_versions import check_staleness, version_status
from reference_agents.compliance_monitoring.tools.monitoring import run_monitoring
from reference_agents.compliance_monitoring.tools.narrative import fallback_narrative, narrative_facts
from reference_agents.compliance_monitoring.tools.watchlist import WatchlistIndex, get_index, screen_name

INPUT_FIELDS = tuple(ComplianceInput.model_fields)


def pending_review(state: ComplianceState) -> str | None:
    """The next screened party whose potential matches await the analyst: ``"customer"``, a
    counterparty's index in ``counterparty_screening`` (as a string), or ``None``."""
    if state["screening"]["candidates"] and state.get("review") is None:
        return "customer"
    done = state.get("counterparty_reviews") or {}
    for i, party in enumerate(state.get("counterparty_screening") or []):
        if party["candidates"] and str(i) not in done:
            return str(i)
    return None


def next_step(state: ComplianceState) -> str:
    """The worker that runs next, or ``END``; a pure function of the state."""
    if not state.get("validated"):
        return "intake"
    if "screening" not in state:
        return "screen"
    if pending_review(state) is not None:
        return "review"
    if "alerts" not in state:
        return "monitor"
    if "decision" not in state:
        return "decide"
    return END


def decide(screening: dict, review: dict | None, alerts: list[dict], counterparties: list[dict] | None = None,
           counterparty_reviews: dict | None = None) -> tuple[str, list[str]]:
    """``(decision, reason codes)``.

    Decision, first that applies: ``blocked`` (the analyst confirmed a watchlist match of the
    customer or of a counterparty), ``held`` (an alert stops its payments: a comprehensively
    sanctioned jurisdiction), ``alert`` (another monitoring rule fired), ``clear``.

    Reasons: the customer's ``WATCHLIST_NO_MATCH`` | ``WATCHLIST_FALSE_POSITIVE`` |
    ``WATCHLIST_CONFIRMED_MATCH``; ``COUNTERPARTY_CONFIRMED_MATCH`` / ``COUNTERPARTY_FALSE_POSITIVE``
    when counterparties were reviewed; ``WATCHLIST_STALE`` when a list was older than the policy
    allows; then the alerts' codes.

    Args:
        screening: the ``screen`` node's customer result (``candidates``, ``stale``).
        review: the analyst's recorded answer on the customer, ``None`` without candidates.
        alerts: the monitoring alerts (``reason_code``, ``hold``).
        counterparties: the counterparty screenings (``candidates``).
        counterparty_reviews: the analyst's answers, keyed by counterparty index (string).
    """
    reasons: list[str] = []
    if not screening["candidates"]:
        reasons.append("WATCHLIST_NO_MATCH")
    elif review and review["decision"] == "true_match":
        reasons.append("WATCHLIST_CONFIRMED_MATCH")
    else:
        reasons.append("WATCHLIST_FALSE_POSITIVE")
    answers = [r["decision"] for r in (counterparty_reviews or {}).values()]
    if "true_match" in answers:
        reasons.append("COUNTERPARTY_CONFIRMED_MATCH")
    if "false_positive" in answers:
        reasons.append("COUNTERPARTY_FALSE_POSITIVE")
    if screening.get("stale"):
        reasons.append("WATCHLIST_STALE")
    for alert in alerts:
        if alert["reason_code"] not in reasons:
            reasons.append(alert["reason_code"])
    if {"WATCHLIST_CONFIRMED_MATCH", "COUNTERPARTY_CONFIRMED_MATCH"} & set(reasons):
        return "blocked", reasons
    if any(a.get("hold") for a in alerts):
        return "held", reasons
    return ("alert" if alerts else "clear"), reasons


def screen_counterparties(transactions: list[dict], customer_name: str, index: WatchlistIndex,
                          screening_policy: dict) -> list[dict]:
    """Screen each distinct counterparty name of the transactions (not the customer's own name).

    Returns:
        One dict per distinct normalised counterparty name, in order of first appearance:
        ``counterparty_name`` (first spelling seen), ``counterparty_country`` (first given, used
        as the country identifier), ``transaction_ids`` and ``candidates`` (as
        :func:`~reference_agents.compliance_monitoring.tools.watchlist.screen_name`).
    """
    own = index.normalize(customer_name)
    parties: dict[str, dict] = {}
    for t in transactions:
        name = t.get("counterparty_name")
        key = index.normalize(name) if name else ""
        if not key or key == own:
            continue
        party = parties.setdefault(key, {"counterparty_name": name, "counterparty_country": None, "transaction_ids": []})
        party["counterparty_country"] = party["counterparty_country"] or t.get("counterparty_country")
        party["transaction_ids"].append(t["transaction_id"])
    for party in parties.values():
        party["candidates"] = screen_name(party["counterparty_name"], index, screening_policy,
                                          country=party["counterparty_country"])
    return list(parties.values())


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
        """Screen the customer and the counterparties against the configured lists, with the lists'
        versions and staleness on the screening date (:class:`StaleWatchlistError` under ``refuse``)."""
        index = get_index(screening_policy)
        today = datetime.now(timezone.utc).date()
        lists = [version_status(v, today, screening_policy["max_list_age_days"]) for v in index.versions]
        stale = check_staleness(lists, screening_policy["stale_list_action"], screening_policy["max_list_age_days"])
        candidates = screen_name(state["name"], index, screening_policy, party_type=state.get("party_type"),
                                 date_of_birth=state.get("date_of_birth"), country=state.get("nationality"))
        screening = {
            "screened_name": state["name"],
            "normalized_name": index.normalize(state["name"]),
            "candidates": candidates,
            "review_threshold": screening_policy["review_threshold"],
            "strong_match_threshold": screening_policy["strong_match_threshold"],
            "names_indexed": len(index.choices),
            "parties_indexed": len(index.entries),
            "sources": sorted({e.source for e in index.entries}),
            "screening_date": today.isoformat(),
            "lists": lists,
            "stale": stale,
            "stale_list_action": screening_policy["stale_list_action"],
        }
        counterparties = screen_counterparties(state.get("transactions") or [], state["name"], index, screening_policy)
        return Command(goto="supervisor", update={"screening": screening, "counterparty_screening": counterparties,
                                                   "counterparty_reviews": {}})

    def review(state: ComplianceState) -> Command:
        """Ask the analyst about the next party's candidates until a valid answer arrives (:mod:`.review`)."""
        target = pending_review(state)
        party = None if target == "customer" else state["counterparty_screening"][int(target)]
        candidates = (party or state["screening"])["candidates"]
        refs = [c["reference_number"] for c in candidates]
        model = answer_model(refs)
        answer = recorded_review(ask_human(review_request(state, party, policy, model), model), refs)
        if party is None:
            return Command(goto="supervisor", update={"review": answer})
        done = {**(state.get("counterparty_reviews") or {}), target: answer}
        return Command(goto="supervisor", update={"counterparty_reviews": done})

    def monitor(state: ComplianceState) -> Command:
        """Run the policy's transaction monitoring rules."""
        return Command(goto="supervisor", update={"alerts": run_monitoring(state.get("transactions") or [], monitoring_policy)})

    def decide_node(state: ComplianceState, config: RunnableConfig) -> Command:
        """Decide (:func:`decide`) and write the case narrative."""
        counterparties = state.get("counterparty_screening") or []
        decision, reasons = decide(state["screening"], state.get("review"), state["alerts"], counterparties,
                                   state.get("counterparty_reviews"))
        facts = narrative_facts(decision, reasons, state["screening"]["candidates"], state.get("review"),
                                state["alerts"], len(state.get("transactions") or []), counterparties)
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
