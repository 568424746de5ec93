"""Structural re-ranking of one plan node's candidate chunks, and the node's confidence.

A candidate's score multiplies three things, each in [0, 1]:

- kind compatibility (:func:`kind_factor`): which call kinds produce a plan operator (an
  aggregate node comes from ``group_by``/``agg``, a top-n from ``order_by`` + ``limit``, a scan's
  pushed-down predicate from a ``filter``, a semi join from a ``filter`` with a subquery...), and
  whether an aggregating call groups as the node does;
- evidence: how much of the node's features (columns, constants, aggregates; for a join also the
  tables under it) the chunk names (recall) and how much of the chunk the node accounts for
  (precision), weighted by feature rarity; a ``group_by``+``agg`` or ``order_by``+``limit`` pair
  (:mod:`.chunk_links`) is matched as one;
- the chunk's unit (its query function) against the best unit for the whole plan
  (:func:`unit_factor`).

Data flow then breaks near-ties: a parent operator consumes its child's output, so its code
usually comes after its child's in the same unit (not always: the optimiser pushes filters down
and reorders joins, so this only nudges).

Confidence (:func:`confidence`) is P(unit right) x P(span right | unit right). The first is the
softmax of the plan-context scores over all units (:func:`unit_probabilities`: two near-identical
queries split it); the second a softmax over the best spans' scores plus a "none of these" option
(:func:`span_probability`: tied spans split it; a lone candidate gets less the weaker it is). Its two
parameters (:data:`CONFIDENCE_TEMPERATURE`, :data:`NULL_SCORE`) were fit on TPC-H by maximum
likelihood of "line@1 right" over the nodes with truth whose unit is right (``python -m
bench.dag_mapping --suite h --fit``), so that a confidence reads as a probability of being right."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from reference_agents.dag_mapping.code_index.model import CodeChunk
from reference_agents.dag_mapping.mapper.plan_context import features
from reference_agents.dag_mapping.mapper.plan_signals import grouped, input_columns, subquery_join
from reference_agents.dag_mapping.plans.model import OperatorKind, PlanNode

K = OperatorKind

# Plan operator kind -> {chunk kind: how plausibly a chunk of that kind produces it}. 1 for the
# direct producer; less for calls that make the operator only in some programs (a filter whose
# predicate is a subquery becomes a join; a select of reductions becomes an aggregate; a window
# function is computed inside a mutate/select).
KIND_COMPATIBILITY: dict[OperatorKind, dict[str, float]] = {
    K.SCAN: {"filter": 1.0, "join": 0.5, "scan": 0.9},
    K.FILTER: {"filter": 1.0, "join": 0.6},
    K.JOIN: {"join": 1.0, "filter": 0.6, "union": 0.4},
    K.AGGREGATE: {"aggregate": 1.0, "distinct": 0.9, "filter": 0.5, "project": 0.5, "union": 0.4},
    K.DISTINCT: {"distinct": 1.0, "union": 0.8, "aggregate": 0.6},
    K.ORDER: {"order": 1.0},
    K.TOP_N: {"order": 1.0, "limit": 0.9},
    K.LIMIT: {"limit": 1.0},
    K.WINDOW: {"window": 1.0, "project": 0.9},
    K.UNION: {"union": 1.0},
    K.PROJECT: {"project": 1.0, "aggregate": 0.3},
    K.OTHER: {},
}
# A join made from a subquery predicate (see plan_signals.subquery_join) comes from a filter call
# first; a semi_join/anti_join call can make one too.
SUBQUERY_JOIN_COMPATIBILITY = {"filter": 1.0, "join": 0.8, "union": 0.4}
# A grouped aggregate node vs an aggregating call without a group_by partner, or the reverse.
GROUPING_MISMATCH = 0.7

# Evidence = BASE + RECALL_WEIGHT * recall + PRECISION_WEIGHT * precision: a node that names
# nothing (a join on internal references) still ranks chunks by kind and unit.
BASE, RECALL_WEIGHT, PRECISION_WEIGHT = 0.2, 0.5, 0.3
FLOW_WEIGHT = 0.05  # at most a 5% nudge: enough to break ties, not to overturn evidence
# Unit factor exp((unit score - best unit score) / UNIT_TEMPERATURE): a unit 0.05 behind the best
# weighs 0.37, 0.15 behind 0.05; two near-identical queries' units stay close to even. Set by that
# reasoning, not fit: on TPC-H the best unit is always right, so there is nothing to fit it on.
UNIT_TEMPERATURE = 0.05

# P(span right | unit right) is a softmax over the best MAX_SPANS spans' scores and a "none of
# these" option: its temperature and the null option's score were fit on TPC-H (module docstring;
# the fit puts the null option at 0, the edge of the grid: on TPC-H a lone candidate is right).
MAX_SPANS = 6
CONFIDENCE_TEMPERATURE = 0.06
NULL_SCORE = 0.0
# A winner that shares no feature with its node goes to review: on TPC-H, 94 of the 95 nodes that
# name nothing (no column, constant, aggregate) are ones the optimiser made, with no code to find.
UNSUPPORTED_CAP = 0.4

Weight = Callable[[str], float]
"""A feature's weight (> 0): its rarity among the chunks."""


@dataclass(frozen=True)
class Candidate:
    """One scored chunk for a node: ``position`` in the mapper's chunk list, the parts of its
    score (``kind``, ``recall``, ``precision``, ``unit``, ``flow``; each in [0, 1]) and ``score``
    (their combination, in [0, 1])."""

    position: int
    chunk: CodeChunk
    kind: float
    recall: float
    precision: float
    unit: float
    flow: float
    score: float

    @property
    def span(self) -> tuple[str, int, int]:
        """(path, start line, end line): what the bench calls the same place."""
        return (self.chunk.path, self.chunk.start_line, self.chunk.end_line)


def compatible_kinds(node: PlanNode) -> dict[str, float]:
    """Chunk kind -> plausibility for ``node`` (:data:`KIND_COMPATIBILITY`, or
    :data:`SUBQUERY_JOIN_COMPATIBILITY` for a subquery join)."""
    if subquery_join(node):
        return SUBQUERY_JOIN_COMPATIBILITY
    return KIND_COMPATIBILITY.get(node.kind, {})


def kind_factor(node: PlanNode, chunk: CodeChunk, has_partner: bool) -> float:
    """How plausibly a chunk of this kind produces ``node``: :func:`compatible_kinds`, times
    :data:`GROUPING_MISMATCH` when an aggregating call's grouping (a ``group_by`` partner or
    not) disagrees with the node's (:func:`plan_signals.grouped`)."""
    factor = compatible_kinds(node).get(chunk.kind, 0.0)
    node_grouped = grouped(node)
    if node_grouped is not None and chunk.kind == "aggregate" and chunk.aggregates and node_grouped != has_partner:
        factor *= GROUPING_MISMATCH
    return factor


def evidence_features(node: PlanNode, subtree_tables: Iterable[str]) -> frozenset[str]:
    """The features a node is matched on: its columns (or, when it names none, its input's:
    :func:`plan_signals.input_columns`), constants and aggregates, normalised, and for a join
    call's join the tables under it (the code names the tables it joins)."""
    # a subquery join comes from a filter call that names the subquery, not the tables under it
    tables = list(subtree_tables) if node.kind is K.JOIN and not subquery_join(node) else []
    columns = node.columns or input_columns(node)
    return features([*node.tables, *tables], columns, node.constants, node.aggregates)


def unit_factor(unit_score: float, best_score: float) -> float:
    """``exp((unit_score - best_score) / UNIT_TEMPERATURE)``, in (0, 1]."""
    return math.exp(min(0.0, unit_score - best_score) / UNIT_TEMPERATURE)


def score_candidate(
    node: PlanNode,
    wanted: frozenset[str],
    position: int,
    chunk: CodeChunk,
    chunk_features: frozenset[str],
    kind: float,
    unit: float,
    weight: Weight,
) -> Candidate:
    """Score ``chunk`` for ``node`` (``wanted``: :func:`evidence_features` of the node;
    ``chunk_features``: the chunk's, with its partner's for an aggregate or top-n node; ``kind``:
    :func:`kind_factor`; ``unit``: :func:`unit_factor` of its unit). The data-flow part starts
    at 1 and is set by :func:`apply_data_flow`."""
    # sorted: float sums in a fixed order, whatever the string hash seed
    shared = sum(weight(f) for f in sorted(wanted & chunk_features))
    wanted_weight = sum(weight(f) for f in sorted(wanted))
    chunk_weight = sum(weight(f) for f in sorted(chunk_features))
    recall = shared / wanted_weight if wanted_weight else 0.0
    precision = shared / chunk_weight if chunk_weight else 0.0
    return _combine(position, chunk, kind, recall, precision, unit, 1.0)


def _combine(position, chunk, kind, recall, precision, unit, flow) -> Candidate:
    evidence = BASE + RECALL_WEIGHT * recall + PRECISION_WEIGHT * precision
    score = kind * evidence * unit * (1 - FLOW_WEIGHT * (1 - flow))
    return Candidate(position, chunk, kind, recall, precision, unit, flow, score)


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Best first; ties by position in the index (earlier first), so ranking is deterministic."""
    return sorted(candidates, key=lambda c: (-c.score, c.position))


def apply_data_flow(candidates: list[Candidate], child_chunks: list[CodeChunk]) -> list[Candidate]:
    """Re-score a node's candidates given the chunks its children were mapped to: ``flow`` is the
    share of those children, in the same file, whose chunk starts at or before the candidate
    (1 when no child chunk is in that file). Returns them re-ranked."""
    out = []
    for c in candidates:
        same_file = [child for child in child_chunks if child.path == c.chunk.path]
        if not same_file:
            flow = 1.0
        else:
            before = sum(child.start_line <= c.chunk.start_line for child in same_file)
            flow = before / len(same_file)
        out.append(_combine(c.position, c.chunk, c.kind, c.recall, c.precision, c.unit, flow))
    return rank(out)


def unit_probabilities(scores: Sequence[float]) -> list[float]:
    """Softmax of plan-context unit scores at temperature :data:`UNIT_TEMPERATURE`: the chance
    each unit is the plan's code. Two near-identical queries' units get about half each."""
    if not scores:
        return []
    best = max(scores)
    weights = [math.exp((s - best) / UNIT_TEMPERATURE) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


def span_scores(ranked: list[Candidate], limit: int) -> list[float]:
    """The best score at each distinct span of ``ranked`` (best first), at most ``limit``."""
    seen: set[tuple[str, int, int]] = set()
    scores = []
    for c in ranked:
        if c.span not in seen:
            seen.add(c.span)
            scores.append(c.score)
            if len(scores) == limit:
                break
    return scores


def span_probability(scores: Sequence[float], temperature: float, null_score: float) -> float:
    """Softmax share of the first of ``scores`` (best first) among them and a "none of these"
    option scoring ``null_score``, at ``temperature``: a tie of two spans gives each under a
    half; a lone candidate gets 1/2 at ``null_score`` and more the higher it scores. 0 for no
    scores."""
    if not scores:
        return 0.0
    top = max(scores[0], null_score)
    weights = [math.exp((s - top) / temperature) for s in scores]
    return weights[0] / (sum(weights) + math.exp((null_score - top) / temperature))


def confidence_signals(ranked: list[Candidate], unit_probability: float) -> tuple[float, float, float, bool]:
    """What confidence is a function of: the winner's score, its span probability
    (:func:`span_probability` over :func:`span_scores` with :data:`CONFIDENCE_TEMPERATURE` and
    :data:`NULL_SCORE`), the probability of its unit (:func:`unit_probabilities`), and whether
    the winner shares any feature with the node. Zeros for no candidate."""
    if not ranked:
        return (0.0, 0.0, 0.0, False)
    scores = span_scores(ranked, MAX_SPANS)
    shares = ranked[0].recall > 0
    return (scores[0], span_probability(scores, CONFIDENCE_TEMPERATURE, NULL_SCORE), unit_probability, shares)


def confidence(signals: tuple[float, float, float, bool]) -> float:
    """Probability that the winner is right given :func:`confidence_signals`: the span's
    probability within its unit times the unit's; at most :data:`UNSUPPORTED_CAP` when the winner
    shares no feature with the node (kind and position alone chose it)."""
    _, span, unit, shares = signals
    return span * unit if shares else min(span * unit, UNSUPPORTED_CAP)
