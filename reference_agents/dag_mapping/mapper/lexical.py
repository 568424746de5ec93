"""Lexical retrieval over code chunks: BM25 (``rank_bm25.BM25Okapi``) on identifier and literal
tokens, and the normalisation that makes a plan's literals and code's literals comparable."""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable, Sequence

import numpy as np
from rank_bm25 import BM25Okapi

from reference_agents.dag_mapping.code_index.model import CodeChunk
from reference_agents.dag_mapping.plans.model import PlanNode

# A date stays one token; a number keeps its fraction; an identifier is split on "_" below.
_TOKEN = re.compile(r"\d{4}-\d{2}-\d{2}|\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")


def normalise_constant(text: str) -> str:
    """A literal as comparable text: numbers in canonical decimal form (``"100.0000"`` -> ``"100"``,
    ``"0.060"`` -> ``"0.06"``; Python writes ``0.06``, SQL and DuckDB as declared), anything else
    stripped and lower-cased (string literals compare case-insensitively: engines upper-case
    nothing, but code and plans quote differently)."""
    stripped = text.strip()
    if _NUMBER.match(stripped):
        try:
            value = decimal.Decimal(stripped)
        except decimal.InvalidOperation:
            return stripped.lower()
        return format(value.normalize(), "f") if value != 0 else "0"
    return stripped.lower()


def tokens(text: str) -> list[str]:
    """Search tokens of ``text``, lower case: every identifier whole and, when it has several
    ``_``-separated parts, each part too (``l_shipdate`` -> ``l_shipdate``, ``l``, ``shipdate``);
    dates whole; numbers normalised by :func:`normalise_constant`."""
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        word = match.group(0)
        if word[0].isdigit():
            out.append(normalise_constant(word))
            continue
        word = word.lower()
        out.append(word)
        parts = [part for part in word.split("_") if part]
        if len(parts) > 1:
            out.extend(parts)
    return out


def _feature_tokens(
    tables: Iterable[str], columns: Iterable[str], constants: Iterable[str], aggregates: Iterable[str]
) -> list[str]:
    out: list[str] = []
    for name in [*tables, *columns, *aggregates]:
        out.extend(tokens(name))
    for constant in constants:
        normal = normalise_constant(constant)
        out.extend(tokens(normal) if not _NUMBER.match(normal) else [normal])
    return out


def chunk_tokens(chunk: CodeChunk) -> list[str]:
    """The document of ``chunk``: tokens of its source text plus those of its extracted tables,
    columns, constants and aggregates (which hold what the text only implies: the date an
    ``add_date(...)`` call computes, ``avg`` for ``mean``)."""
    return tokens(chunk.text) + _feature_tokens(chunk.tables, chunk.columns, chunk.constants, chunk.aggregates)


def node_tokens(node: PlanNode) -> list[str]:
    """The query tokens of one plan node: its kind, tables, columns, constants and aggregates."""
    return [node.kind.value, *_feature_tokens(node.tables, node.columns, node.constants, node.aggregates)]


def plan_tokens(plan: PlanNode) -> list[str]:
    """The query tokens of a whole plan: :func:`node_tokens` of every node, concatenated."""
    out: list[str] = []
    for node in plan.walk():
        out.extend(node_tokens(node))
    return out


class LexicalIndex:
    """BM25 (Okapi, k1=1.5, b=0.75) over ``chunks``; ``scores`` are aligned with ``chunks``.

    A query's score is the sum over its tokens (repeats count again) of each token's score
    vector, exactly as ``BM25Okapi.get_scores``; vectors are computed once per distinct token and
    kept, since the mapper asks about the same plan tokens for every node."""

    def __init__(self, chunks: Sequence[CodeChunk]):
        self.chunks = list(chunks)
        # BM25Okapi divides by the corpus size: an empty index gets no model, and zero scores.
        self._bm25 = BM25Okapi([chunk_tokens(chunk) or ["<empty>"] for chunk in self.chunks]) if self.chunks else None
        self._token_scores: dict[str, np.ndarray] = {}

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk for ``query`` tokens (float64 array, ``len(chunks)``; all
        zero for an empty query or index)."""
        total = np.zeros(len(self.chunks))
        if self._bm25 is None:
            return total
        for token in query:
            vector = self._token_scores.get(token)
            if vector is None:
                vector = self._bm25.get_scores([token])
                self._token_scores[token] = vector
            total += vector
        return total

    def top(self, query: Sequence[str], k: int, among: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` best (chunk position, score) pairs for ``query``, best first, ties broken by
        position (deterministic); only positions in ``among`` when given."""
        scores = self.scores(query)
        positions = range(len(self.chunks)) if among is None else among
        ranked = sorted(positions, key=lambda position: (-scores[position], position))
        return [(position, float(scores[position])) for position in ranked[:k]]
