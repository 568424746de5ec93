"""Run output of the DAG -> code mapping agent: the decision, its reason codes and one mapping per
plan node."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

DECISIONS = ("mapped", "mapped_with_review", "cost_capped", "pending_review")
REASONS = {
    "ALL_ACCEPTED": "Every node was mapped with confidence >= 0.8.",
    "SECOND_PASS": "Some nodes took the wider second pass (confidence in [0.5, 0.8)); alternatives kept.",
    "LLM_RERANKED": "An LLM chose among the candidates of second-pass nodes.",
    "HUMAN_REVIEWED": "A person placed or rejected the nodes with confidence < 0.5.",
    "NODES_REJECTED": "A person found no code for some nodes (e.g. operators the optimiser made).",
    "AWAITING_REVIEW": "Nodes with confidence < 0.5 wait for a person.",
    "COST_CAP_REACHED": "The job's LLM cost reached its cap; later nodes were mapped without the LLM.",
}


def mapping_row(result: Mapping, children: list[str]) -> dict:
    """One node's mapping as the output lists it: ``node_id``, ``children`` (the node ids under it
    in the plan: its edges, for drawing the DAG), ``operator``, ``kind``, ``path``,
    ``symbol``, ``start_line``/``end_line`` (1-based, inclusive; ``None`` when unplaced),
    ``confidence`` in [0, 1] (1 once a person placed it), ``band`` (``accept``, ``second_pass``,
    ``review``, ``reviewed``, ``rejected``), ``explanation``, ``alternatives`` (the other candidate
    spans, best first, each with its re-ranking ``score`` in [0, 1]), ``source`` (``mapper``,
    ``llm_rerank``, ``human``) and ``reviewed_by`` (the reviewer, else ``None``)."""
    chosen = (result["path"], result["start_line"], result["end_line"])
    alternatives = [
        {k: c[k] for k in ("path", "symbol", "start_line", "end_line", "score")}
        for c in result["candidates"]
        if (c["path"], c["start_line"], c["end_line"]) != chosen
    ]
    return {
        "node_id": result["node_id"],
        "children": list(children),
        **{k: result[k] for k in ("operator", "kind", "path", "symbol", "start_line", "end_line")},
        "confidence": round(result["confidence"], 4),
        "band": result["band"],
        "explanation": result["explanation"],
        "alternatives": alternatives,
        "source": result["source"],
        "reviewed_by": result.get("reviewed_by"),
    }


def output(state: Mapping) -> dict:
    """The JSON output of one run from its final (or interrupted) state.

    Returns:
        ``decision``: ``cost_capped`` when the LLM cost cap was reached, else ``mapped_with_review``
        when a person settled nodes, else ``mapped``; ``pending_review`` while a person is awaited.
        ``reasons``: codes of :data:`REASONS`. ``mappings``: :func:`mapping_row` per node, plan order.
        ``bands``: node count per band. ``analysis_id``, ``content_hash`` (of the code indexed),
        ``nodes``, ``waves`` (dispatched), ``max_parallel_nodes``, ``llm_calls``, ``cost_usd``
        (US dollars) and ``max_job_cost_usd``.
    """
    results = state.get("results") or {}
    rows = state.get("code_mappings")
    finished = rows is not None
    if rows is None:
        rows = [mapping_row(results[r["node_id"]], r["children"]) for r in state.get("nodes") or [] if r["node_id"] in results]
    bands = Counter(row["band"] for row in rows)
    capped = bool(state.get("cost_capped"))
    reasons = []
    if rows and bands["accept"] == len(rows):
        reasons.append("ALL_ACCEPTED")
    if any(r.get("second_pass") for r in results.values()):
        reasons.append("SECOND_PASS")
    if any(r.get("llm") in ("chose", "kept") for r in results.values()):
        reasons.append("LLM_RERANKED")
    if bands["reviewed"] or bands["rejected"]:
        reasons.append("HUMAN_REVIEWED")
    if bands["rejected"]:
        reasons.append("NODES_REJECTED")
    if not finished and bands["review"]:
        reasons.append("AWAITING_REVIEW")
    if capped:
        reasons.append("COST_CAP_REACHED")
    if not finished and bands["review"]:
        decision = "pending_review"
    elif capped:
        decision = "cost_capped"
    else:
        decision = "mapped_with_review" if "HUMAN_REVIEWED" in reasons else "mapped"
    return {
        "analysis_id": state.get("analysis_id"),
        "decision": decision,
        "reasons": reasons,
        "mappings": rows,
        "bands": dict(sorted(bands.items())),
        "content_hash": (state.get("index") or {}).get("content_hash"),
        "nodes": len(state.get("nodes") or []),
        "waves": sum(1 for wave in state.get("waves") or [] if wave),
        "max_parallel_nodes": state.get("max_parallel_nodes"),
        "llm_calls": state.get("llm_calls", 0),
        "cost_usd": state.get("cost_usd", 0.0),
        "max_job_cost_usd": state.get("max_job_cost_usd"),
    }


def summarize(outputs: list[dict]) -> str:
    """One line for the demo: jobs by decision, nodes by band, LLM cost (USD), and the accuracy of
    the mappings against the TPC-H ground truth (:func:`~reference_agents.dag_mapping.demo.accuracy`)."""
    from reference_agents.dag_mapping.demo import accuracy

    decisions = Counter(o["decision"] for o in outputs)
    bands = Counter()
    for o in outputs:
        bands.update(o["bands"])
    score = accuracy(outputs)
    return (f"{len(outputs)} plans, {sum(bands.values())} nodes: {dict(sorted(decisions.items()))}; bands "
            f"{dict(sorted(bands.items()))}; LLM ${sum(o['cost_usd'] for o in outputs):.4f}; against the ground truth "
            f"({score['nodes']} nodes with one): symbol@1 {score['symbol']:.3f}, line@1 {score['line']:.3f}")
