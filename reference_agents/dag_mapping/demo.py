"""Demo traffic: TPC-H plans to map into ibis's TPC code, the demo reviewer's rule, and the accuracy
of the mappings against the automatic ground truth (:mod:`.ground_truth`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from reference_agents.dag_mapping import tpc
from reference_agents.dag_mapping.ground_truth.build import ground_truth
from reference_agents.dag_mapping.ground_truth.model import GroundTruth

DEMO_QUERIES = (3, 5, 1, 10, 6, 12, 14, 19, 7, 9, 2, 18)
"""TPC-H queries the demo maps, in order (``sample_inputs(n)`` takes the first ``n``, cycling)."""
DEMO_REVIEWER_MIN_SCORE = 0.25
"""The demo reviewer accepts a node's best candidate when its re-ranking score is at least this."""


def tpc_repository() -> Path:
    """ibis's TPC directory inside the installed ``ibis-framework`` wheel: ``h/`` and ``ds/`` hold
    the Python query functions, ``queries/`` the reference SQL (see ``data/PROVENANCE.md``)."""
    import ibis

    return Path(ibis.__file__).parent / "backends" / "tests" / "tpc"


@lru_cache(maxsize=1)
def _truths() -> dict[int, GroundTruth]:
    return {g.query_id: g for g in ground_truth("h")}


def analysis_id(query_id: int) -> str:
    """The demo's ``analysis_id`` of TPC-H query ``query_id`` (``tpch-q03``)."""
    return f"tpch-q{query_id:02d}"


def sample_inputs(n: int) -> list[dict]:
    """``n`` mapping jobs: DuckDB's ``EXPLAIN (FORMAT JSON)`` plan of each of :data:`DEMO_QUERIES`
    (the SQL ibis compiles from its own query function, on TPC-H data at scale factor 0.01, made
    by the tpch extension), to map into :func:`tpc_repository`, Python only (a user knows a
    DataFrame job from a SQL one)."""
    conn = tpc.connect("h", 0.01)
    try:
        truths = _truths()
        ids = [DEMO_QUERIES[i % len(DEMO_QUERIES)] for i in range(n)]
        plans = {q: tpc.explain_json(conn, truths[q].sql) for q in set(ids)}
    finally:
        conn.close()
    return [{"analysis_id": analysis_id(q), "repository": str(tpc_repository()), "plan": plans[q],
             "plan_format": "duckdb_json", "languages": ["python"]} for q in ids]


def resume_value(request: dict, run_input: dict) -> dict:
    """The demo reviewer's answer to the review interrupt: for each listed node, accept its best
    candidate when that candidate's score is at least :data:`DEMO_REVIEWER_MIN_SCORE`, else reject
    it (no code wrote it: the optimiser made it). A rule, not a person: the summary scores it."""
    nodes = {}
    for node in request["context"]["nodes"]:
        best = node["candidates"][0] if node["candidates"] else None
        keep = best is not None and best["score"] >= DEMO_REVIEWER_MIN_SCORE
        nodes[node["node_id"]] = {"action": "accept", "candidate": 0} if keep else {"action": "reject"}
    return {"decision": "apply", "reviewer": "demo.reviewer", "nodes": nodes,
            "note": f"demo rule: accept the best candidate at score >= {DEMO_REVIEWER_MIN_SCORE}"}


def accuracy(outputs: list[dict]) -> dict:
    """The mappings of demo ``outputs`` scored against the TPC-H ground truth, over the nodes that
    have one: ``nodes`` scored, ``symbol`` (right file and function) and ``line`` (right function and
    overlapping lines) hit rates in [0, 1]; outputs of other analyses are skipped.

    Source: the truth's span or any of its alternatives counts as right, as in ``bench/dag_mapping.py``.
    """
    truths = {analysis_id(q): g for q, g in _truths().items()}
    scored = symbol = line = 0
    for out in outputs:
        truth = truths.get(out.get("analysis_id"))
        if truth is None:
            continue
        for m in out["mappings"]:
            t = truth.truth.get(m["node_id"])
            if t is None:
                continue
            scored += 1
            spans = [t, *t.alternatives]
            symbol += any((s.path, s.symbol) == (m["path"], m["symbol"]) for s in spans)
            line += any((s.path, s.symbol) == (m["path"], m["symbol"]) and m["start_line"] is not None
                        and s.start_line <= m["end_line"] and m["start_line"] <= s.end_line for s in spans)
    return {"nodes": scored, "symbol": symbol / scored if scored else 0.0, "line": line / scored if scored else 0.0}
