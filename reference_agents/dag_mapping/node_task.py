"""One plan node's mapping as a graph branch runs it: JSON in (the node's subtree, its children's
chosen chunks, the plan context, the index key), JSON out (the mapping and its candidates).

Nothing here is kept between calls but the shared index cache, so branches can run in any
process that sees the repository; the graph keeps every value in its (checkpointed) state."""

from __future__ import annotations

from reference_agents.dag_mapping.code_index.model import FUNCTION
from reference_agents.dag_mapping.index_cache import CachedIndex, IndexCache
from reference_agents.dag_mapping.mapper.mapper import MapperIndex, PlanRanking, map_node
from reference_agents.dag_mapping.mapper.plan_context import UnitScore
from reference_agents.dag_mapping.plan_rows import from_rows

SNIPPET_CHARS = 300
"""Code shown per candidate of a node the LLM or a person looks at (accepted nodes carry none)."""


def cached_index(cache: IndexCache, key: dict) -> CachedIndex:
    """The index named by ``key`` (``{"root", "fingerprint", "languages", "ttl_seconds"}``, as the
    graph's ``ensure_index`` step stores it). Raises ``RepositoryChanged`` if it had to be rebuilt
    and the files differ."""
    return cache.get(key["root"], key["fingerprint"], key["languages"], key["ttl_seconds"])


def context_rows(ranking: PlanRanking) -> list[dict]:
    """A :class:`PlanRanking` as JSON rows, best unit first: ``{"position", "path", "symbol",
    "score", "recall", "precision", "probability"}`` (scores and probability in [0, 1])."""
    return [
        {
            "position": s.unit.position,
            "path": s.unit.chunk.path,
            "symbol": s.unit.chunk.symbol,
            "score": s.score,
            "recall": s.recall,
            "precision": s.precision,
            "probability": ranking.probability[s.unit.position],
        }
        for s in ranking.units
    ]


def ranking_of(index: MapperIndex, rows: list[dict]) -> PlanRanking:
    """The :class:`PlanRanking` that :func:`context_rows` wrote, over the same ``index``."""
    units = {unit.position: unit for unit in index.units}
    scores = [UnitScore(units[r["position"]], r["score"], r["recall"], r["precision"]) for r in rows]
    return PlanRanking(scores, {r["position"]: r["probability"] for r in rows})


def map_task(task: dict, cache: IndexCache) -> dict:
    """Map the node ``task["node_id"]``.

    ``task``: ``subtree`` (the node's rows, itself first), ``child_positions`` (index positions of
    its children's chosen chunks), ``plan_context`` (:func:`context_rows`), ``index`` (the key for
    :func:`cached_index`), ``top_k`` (candidates retrieved, >= 1).

    Returns ``{"node_id", "operator", "kind", "path", "symbol", "start_line", "end_line",
    "confidence", "band", "explanation", "candidates", "position", "second_pass", "source"}``:
    ``candidates`` the chosen span first, then the alternatives, each ``{"path", "symbol",
    "start_line", "end_line", "score", "position"}`` plus ``"code"`` (a snippet) unless the node
    is accepted; ``position`` the chosen chunk's index position (``None``: no candidate);
    ``second_pass`` whether the first pass fell in the second-pass band; ``source`` ``"mapper"``."""
    entry = cached_index(cache, task["index"])
    index = entry.index
    node = from_rows(task["subtree"])
    result = map_node(index, node, ranking_of(index, task["plan_context"]), task["child_positions"], top_k=task["top_k"])
    mapping = result.mapping
    spans = [(mapping.path, mapping.symbol, mapping.start_line, mapping.end_line, None)] if mapping.path else []
    spans += [(a.path, a.symbol, a.start_line, a.end_line, a.score) for a in mapping.alternatives]
    positions = _positions(index, {(path, start, end) for path, _, start, end, _ in spans})
    candidates = []
    for path, symbol, start, end, score in spans:
        position = result.position if score is None else positions[(path, start, end)]
        candidate = {"path": path, "symbol": symbol, "start_line": start, "end_line": end, "position": position,
                     "score": round(score if score is not None else _winner_score(mapping.signals), 6)}
        if mapping.band != "accept":
            candidate["code"] = index.chunks[position].text[:SNIPPET_CHARS]
        candidates.append(candidate)
    return {
        "node_id": node.node_id,
        "operator": node.operator,
        "kind": node.kind.value,
        "path": mapping.path,
        "symbol": mapping.symbol,
        "start_line": mapping.start_line,
        "end_line": mapping.end_line,
        "confidence": mapping.confidence,
        "band": mapping.band,
        "explanation": mapping.explanation,
        "candidates": candidates,
        "position": result.position,
        "second_pass": result.second_pass,
        "source": "mapper",
    }


def _winner_score(signals: tuple) -> float:
    return float(signals[0])  # the winner's re-ranking score, first of the confidence signals


def _positions(index: MapperIndex, spans: set[tuple[str, int, int]]) -> dict[tuple[str, int, int], int]:
    """The first call chunk of each span, by index position (a span is what a mapping reports)."""
    out: dict[tuple[str, int, int], int] = {}
    for position, chunk in enumerate(index.chunks):
        span = (chunk.path, chunk.start_line, chunk.end_line)
        if span in spans and span not in out and chunk.kind != FUNCTION:
            out[span] = position
    return out
