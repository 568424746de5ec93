"""Map every node of a query plan to the code chunk that produced it (no LLM, no I/O).

1. Plan context (:mod:`.plan_context`): rank the code units (query functions, SQL statements) with
   every feature of the whole plan; the chunks of the best :data:`TOP_UNITS` units are the pool.
2. Retrieval (:mod:`.lexical`): per node, the ``top_k`` pool chunks of a compatible kind that BM25
   ranks best for the node's own tokens.
3. Re-ranking (:mod:`.rerank`): kind, evidence, unit, then data flow (children are mapped first).
4. Routing by confidence: >= :data:`ACCEPT` accept; in [:data:`SECOND_PASS`, :data:`ACCEPT`) a
   second pass retrieves ``top_k * 3`` candidates from ``TOP_UNITS * 3`` units, and the union of
   both passes is re-ranked (the first pass's candidates stay as alternatives) and its confidence
   recomputed; < :data:`SECOND_PASS`: for a human.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from reference_agents.dag_mapping.code_index.model import FUNCTION, CodeChunk
from reference_agents.dag_mapping.code_index.repository import RepositoryIndex
from reference_agents.dag_mapping.mapper import rerank
from reference_agents.dag_mapping.mapper.chunk_links import linked_chunks
from reference_agents.dag_mapping.mapper.embeddings import DenseIndex, Encoder
from reference_agents.dag_mapping.mapper.lexical import LexicalIndex, node_tokens
from reference_agents.dag_mapping.mapper.plan_context import (
    CodeUnit,
    PlanContext,
    UnitScore,
    chunk_features,
    code_units,
)
from reference_agents.dag_mapping.plans.model import OperatorKind, PlanNode, post_order

ACCEPT = 0.8
SECOND_PASS = 0.5
TOP_UNITS = 3
WIDE_UNITS = TOP_UNITS * 3  # units a second pass draws candidates from
RETRIEVAL_TOP_K = 10
MAX_ALTERNATIVES = rerank.MAX_SPANS - 1  # so the spans a confidence weighs are the ones reported
RRF_K = 60  # reciprocal rank fusion constant (Cormack et al. 2009), as shipway.search

# Node kinds a pair of calls builds together (chunk_links): matched against the pair's features.
PAIRED_KINDS = frozenset({OperatorKind.AGGREGATE, OperatorKind.TOP_N})

LANGUAGES = {".py": "python", ".sql": "sql"}
"""File suffix -> language name, for ``MapperIndex(..., languages=...)``."""


@dataclass(frozen=True)
class Alternative:
    """Another place a node may come from, with its re-ranking score in [0, 1]."""

    path: str
    symbol: str
    start_line: int
    end_line: int
    score: float


@dataclass
class NodeMapping:
    """Where one plan node comes from. ``path``/``symbol``/lines are ``None`` when no chunk could
    be a candidate (an empty index, an operator kind no call produces); then ``confidence`` is 0.
    ``confidence`` in [0, 1] is the estimated probability that the span is right; ``band`` routes
    it. ``alternatives``: the next best other spans, best first. ``signals``: what the confidence
    was computed from (:func:`~reference_agents.dag_mapping.mapper.rerank.confidence_signals`:
    winner's score, its span probability, its unit's probability, whether it shares a feature)."""

    node_id: str
    path: str | None
    symbol: str | None
    start_line: int | None
    end_line: int | None
    confidence: float
    explanation: str
    alternatives: list[Alternative] = field(default_factory=list)
    signals: tuple = (0.0, 0.0, 0.0, False)

    @property
    def band(self) -> str:
        """``"accept"`` (>= 0.8), ``"second_pass"`` ([0.5, 0.8)) or ``"review"`` (< 0.5)."""
        if self.confidence >= ACCEPT:
            return "accept"
        return "second_pass" if self.confidence >= SECOND_PASS else "review"


class MapperIndex:
    """A code index prepared for mapping: call/clause chunks, their features and feature weights,
    BM25 over them, and the code units with their plan-context ranker.

    ``chunks``: a :class:`RepositoryIndex` or its chunk list. ``languages``: keep only chunks of
    files in these languages (names from :data:`LANGUAGES`), e.g. ``{"python"}`` when the caller
    knows the plan came from DataFrame code and the repository also holds SQL; ``None`` keeps all.
    ``encoder``: when given, retrieval fuses BM25 with dense similarity (:mod:`.embeddings`) by
    reciprocal rank. Raises ValueError for an unknown language name."""

    def __init__(
        self,
        chunks: RepositoryIndex | Sequence[CodeChunk],
        *,
        languages: set[str] | None = None,
        encoder: Encoder | None = None,
    ):
        all_chunks = chunks.chunks if isinstance(chunks, RepositoryIndex) else list(chunks)
        if languages is not None:
            unknown = set(languages) - set(LANGUAGES.values())
            if unknown:
                raise ValueError(f"unknown languages {sorted(unknown)}; known: {sorted(set(LANGUAGES.values()))}")
            all_chunks = [c for c in all_chunks if _language(c.path) in languages]
        self.chunks: list[CodeChunk] = all_chunks
        self.units: list[CodeUnit] = code_units(all_chunks)
        self.context = PlanContext(self.units)
        self.features = [chunk_features(c) for c in all_chunks]
        self.partner: dict[int, int] = linked_chunks(all_chunks)
        self.unit_of: dict[int, CodeUnit] = {p: unit for unit in self.units for p in unit.members}
        calls = [p for p, c in enumerate(all_chunks) if c.kind != FUNCTION and p in self.unit_of]
        # BM25 over the call chunks only: positions in the lexical index map back through _calls
        self._calls = calls
        self._lexical_position = {p: i for i, p in enumerate(calls)}
        self.lexical = LexicalIndex([all_chunks[p] for p in calls])
        self.dense = DenseIndex(self.lexical.chunks, encoder) if encoder is not None else None
        df = Counter(f for p in calls for f in self.features[p])
        self._df, self._n = df, len(calls)

    def primary(self, position: int, kind: OperatorKind) -> int:
        """For a chunk of a linked pair (:mod:`.chunk_links`) and a node of a kind the pair builds,
        the call that stands for the pair: the aggregating call (the one naming aggregate
        functions) for an aggregate, the order call for a top-n. Other chunks: themselves."""
        partner = self.partner.get(position)
        if partner is None:
            return position
        if kind is OperatorKind.AGGREGATE:
            return position if self.chunks[position].aggregates else partner
        return position if self.chunks[position].kind == "order" else partner

    def candidate_features(self, position: int, kind: OperatorKind) -> frozenset[str]:
        """The features a chunk is matched on for a node of ``kind``: its own, plus its
        partner's when the pair builds that kind of operator (:data:`PAIRED_KINDS`)."""
        partner = self.partner.get(position)
        if partner is None or kind not in PAIRED_KINDS:
            return self.features[position]
        return self.features[position] | self.features[partner]

    def weight(self, feature: str) -> float:
        """IDF of ``feature`` over the call chunks: ``log((N + 1) / (df + 0.5))`` (> 0)."""
        return math.log((self._n + 1) / (self._df.get(feature, 0) + 0.5))

    def retrieve(self, node: PlanNode, pool: Sequence[int], k: int) -> list[int]:
        """The ``k`` chunk positions of ``pool`` of a kind compatible with ``node`` that BM25
        ranks best for the node's tokens (ties: index order); with an encoder, best by the
        reciprocal rank fusion of the BM25 and the dense ranking."""
        compatible = rerank.compatible_kinds(node)
        among = [self._lexical_position[p] for p in pool if self.chunks[p].kind in compatible]
        lexical = self.lexical.top(node_tokens(node), len(among), among=among)
        if self.dense is None:
            return [self._calls[i] for i, _ in lexical[:k]]
        dense_scores = self.dense.scores(node)
        dense = sorted(among, key=lambda i: (-dense_scores[i], i))
        fused: dict[int, float] = {}
        for ranking in ([i for i, _ in lexical], dense):
            for rank_, i in enumerate(ranking, start=1):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank_)
        return [self._calls[i] for i in sorted(fused, key=lambda i: (-fused[i], i))[:k]]


def _language(path: str) -> str | None:
    suffix = path[path.rfind(".") :] if "." in path else ""
    return LANGUAGES.get(suffix.lower())


def map_plan(
    plan: PlanNode,
    index: MapperIndex | RepositoryIndex | Sequence[CodeChunk],
    *,
    top_k: int = RETRIEVAL_TOP_K,
) -> list[NodeMapping]:
    """One :class:`NodeMapping` per node of ``plan``, in pre-order (``plan.walk()``). Deterministic:
    the same plan and index give the same mappings. ``index`` may be a prepared
    :class:`MapperIndex` (reuse it across plans) or chunks to prepare one from. Raises ValueError
    for ``top_k < 1``."""
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    prepared = index if isinstance(index, MapperIndex) else MapperIndex(index)
    ranking = rank_plan(plan, prepared)
    chosen: dict[str, int] = {}
    results: dict[str, NodeMapping] = {}
    for node in post_order(plan, lambda n: n.children):
        child_positions = [chosen[c.node_id] for c in node.children if c.node_id in chosen]
        result = map_node(prepared, node, ranking, child_positions, top_k=top_k)
        if result.position is not None:
            chosen[node.node_id] = result.position
        results[node.node_id] = result.mapping
    return [results[node.node_id] for node in plan.walk()]


@dataclass(frozen=True)
class PlanRanking:
    """The plan context of one plan: its best :data:`WIDE_UNITS` units, best first, and each one's
    probability of being the plan's code (:func:`rerank.unit_probabilities` over all units)."""

    units: list[UnitScore]
    probability: dict[int, float]


@dataclass(frozen=True)
class NodeResult:
    """What :func:`map_node` found for one node: its ``mapping``, the index position of the chunk
    it chose (``None`` when no candidate; its parents' data flow reads it) and whether its first
    pass fell in the second-pass band (so a wider pass was taken)."""

    mapping: NodeMapping
    position: int | None
    second_pass: bool


def rank_plan(plan: PlanNode, prepared: MapperIndex) -> PlanRanking:
    """Rank ``prepared``'s code units with every feature of ``plan`` (step 1 of the module
    docstring); with an encoder, also embeds the plan's nodes for retrieval."""
    if prepared.dense is not None:
        prepared.dense.prepare(plan.walk())
    ranking = prepared.context.rank(plan)
    probability = dict(
        zip((s.unit.position for s in ranking), rerank.unit_probabilities([s.score for s in ranking]))
    )
    units = ranking[:WIDE_UNITS]
    return PlanRanking(units, {s.unit.position: probability[s.unit.position] for s in units})


def map_node(
    prepared: MapperIndex,
    node: PlanNode,
    ranking: PlanRanking,
    child_positions: Sequence[int],
    *,
    top_k: int = RETRIEVAL_TOP_K,
) -> NodeResult:
    """Map one node (steps 2-4 of the module docstring) given its plan's :func:`rank_plan` and
    the index positions of the chunks its children were mapped to (mapped first: data flow).
    ``node`` must keep its subtree (the tables under a join and the columns of a node naming none
    are read from it). Raises ValueError for ``top_k < 1``."""
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    child_chunks = [prepared.chunks[p] for p in child_positions]
    tables = _subtree_tables(node)[node.node_id]
    probability = ranking.probability
    ranked, units = _rank_node(prepared, node, ranking.units, tables, child_chunks, top_k, TOP_UNITS)
    signals = rerank.confidence_signals(ranked, _unit_probability(ranked, probability, prepared))
    second_pass = SECOND_PASS <= rerank.confidence(signals) < ACCEPT
    if second_pass:
        wider, wider_units = _rank_node(prepared, node, ranking.units, tables, child_chunks, top_k * 3, WIDE_UNITS)
        ranked, units = _union(ranked, wider), wider_units
        signals = rerank.confidence_signals(ranked, _unit_probability(ranked, probability, prepared))
    mapping = _mapping(node, tables, ranked, signals, units, prepared)
    return NodeResult(mapping, ranked[0].position if ranked else None, second_pass)


def _rank_node(
    prepared: MapperIndex,
    node: PlanNode,
    ranking: list[UnitScore],
    tables: list[str],
    child_chunks: list[CodeChunk],
    top_k: int,
    top_units: int,
) -> tuple[list[rerank.Candidate], list[UnitScore]]:
    units = [s for s in ranking[:top_units] if s.score > 0]
    if not units:
        return [], []
    best = units[0].score
    unit_factor = {s.unit.position: rerank.unit_factor(s.score, best) for s in units}
    pool = [p for s in units for p in s.unit.members]
    wanted = rerank.evidence_features(node, tables)
    retrieved = prepared.retrieve(node, pool, top_k)
    if node.kind in PAIRED_KINDS:
        # a pair of calls builds one operator: score it once, as its primary call
        retrieved = list(dict.fromkeys(prepared.primary(p, node.kind) for p in retrieved))
    candidates = [
        rerank.score_candidate(
            node,
            wanted,
            p,
            prepared.chunks[p],
            prepared.candidate_features(p, node.kind),
            rerank.kind_factor(node, prepared.chunks[p], p in prepared.partner),
            unit_factor[prepared.unit_of[p].position],
            prepared.weight,
        )
        for p in retrieved
    ]
    candidates = [c for c in candidates if c.score > 0]
    return rerank.apply_data_flow(rerank.rank(candidates), child_chunks), units


def _unit_probability(ranked: list[rerank.Candidate], probability: dict[int, float], prepared: MapperIndex) -> float:
    """The probability of the winner's unit (0 without a winner)."""
    return probability[prepared.unit_of[ranked[0].position].position] if ranked else 0.0


def _union(first: list[rerank.Candidate], second: list[rerank.Candidate]) -> list[rerank.Candidate]:
    """The candidates of both passes, each chunk once, re-ranked (a chunk in both scores the same)."""
    by_position = {c.position: c for c in second}
    by_position.update({c.position: c for c in first})
    return rerank.rank(by_position.values())


def _mapping(
    node: PlanNode,
    tables: list[str],
    ranked: list[rerank.Candidate],
    signals: tuple[float, float, float, bool],
    units: list[UnitScore],
    prepared: MapperIndex,
) -> NodeMapping:
    if not ranked:
        return NodeMapping(
            node.node_id, None, None, None, None, 0.0, f"{node.operator} ({node.kind.value}): no candidate chunk"
        )
    top = ranked[0]
    alternatives: list[Alternative] = []
    seen = {top.span}
    for c in ranked[1:]:
        if c.span in seen:
            continue
        seen.add(c.span)
        alternatives.append(Alternative(c.chunk.path, c.chunk.symbol, c.chunk.start_line, c.chunk.end_line, c.score))
        if len(alternatives) == MAX_ALTERNATIVES:
            break
    return NodeMapping(
        node_id=node.node_id,
        path=top.chunk.path,
        symbol=top.chunk.symbol,
        start_line=top.chunk.start_line,
        end_line=top.chunk.end_line,
        confidence=rerank.confidence(signals),
        explanation=_explain(node, top, tables, units, prepared),
        alternatives=alternatives,
        signals=signals,
    )


def _explain(
    node: PlanNode, top: rerank.Candidate, tables: list[str], units: list[UnitScore], prepared: MapperIndex
) -> str:
    wanted = rerank.evidence_features(node, tables)
    shared = sorted(wanted & prepared.candidate_features(top.position, node.kind))
    unit = prepared.unit_of[top.position]
    unit_score = next(s.score for s in units if s.unit.position == unit.position)
    return (
        f"{node.operator} ({node.kind.value}) <- {top.chunk.kind} chunk in {unit.chunk.symbol} "
        f"(plan context {unit_score:.2f}); shares {', '.join(shared) if shared else 'no feature'}; "
        f"kind {top.kind:.2f}, recall {top.recall:.2f}, precision {top.precision:.2f}, "
        f"unit {top.unit:.2f}, flow {top.flow:.2f}, score {top.score:.3f}"
    )


def _subtree_tables(plan: PlanNode) -> dict[str, list[str]]:
    """node_id -> the base tables read under it (itself included), in first-seen order."""
    out: dict[str, list[str]] = {}
    for node in post_order(plan, lambda n: n.children):
        tables = list(node.tables)
        for child in node.children:
            tables += [t for t in out[child.node_id] if t not in tables]
        out[node.node_id] = tables
    return out
