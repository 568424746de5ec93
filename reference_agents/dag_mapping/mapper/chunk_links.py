"""Pairs of call chunks that build one plan operator together: ``group_by(...)`` then
``agg(...)`` (one grouped aggregate), ``order_by(...)`` then ``limit(...)`` (one top-n)."""

from __future__ import annotations

from collections.abc import Sequence

from reference_agents.dag_mapping.code_index.model import FUNCTION, CodeChunk

MAX_GAP_LINES = 2  # `gq = q.group_by(...)` on one line, `q = gq.agg(...)` on the next, maybe a blank between


def _pair(first: CodeChunk, second: CodeChunk) -> bool:
    if second.start_line - first.end_line > MAX_GAP_LINES:
        return False
    group_then_agg = (
        first.kind == "aggregate" and not first.aggregates and second.kind == "aggregate" and bool(second.aggregates)
    )
    return group_then_agg or (first.kind == "order" and second.kind == "limit")


def linked_chunks(chunks: Sequence[CodeChunk]) -> dict[int, int]:
    """Position -> its partner's position (both directions) for each pair of consecutive call
    chunks of one file (in start order) that is a grouping call and the aggregating call after
    it (aggregate kind, without then with aggregate functions), or an order call and the limit
    call after it, at most :data:`MAX_GAP_LINES` apart."""
    calls = sorted(
        (p for p, c in enumerate(chunks) if c.kind != FUNCTION),
        key=lambda p: (chunks[p].path, chunks[p].start_line, chunks[p].start_col, p),
    )
    links: dict[int, int] = {}
    previous: int | None = None
    for position in calls:
        chunk = chunks[position]
        if previous is not None and chunks[previous].path == chunk.path and _pair(chunks[previous], chunk):
            links[previous], links[position] = position, previous
        previous = position
    return links
