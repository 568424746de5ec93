"""Match the nodes of a query's DuckDB plan to the DataFrame calls recorded while building it.

A node is matched against the calls whose kind can produce it (a join node: join calls, or a
filter call whose subquery became a semi join; an aggregate node: agg/distinct calls, or a call
holding a scalar-subquery aggregate...; see :mod:`.rules`). Each candidate is scored by the
columns, constants and aggregate functions it shares with the node; one that fails the kind's
plausibility rule is dropped. Candidates rank by (related to the truth of the nearest ancestor
node that has one, score, share of the base tables under the node): the first is the truth;
those that tie with it are kept as ``alternatives``, and so are the calls that build the same
operator with it (the ``group_by`` of an ``agg``, the ``limit`` after an ``order_by`` for a
top-n, the call behind another condition of a merged join, the ``.over(...)`` calls inside a call
that computes a window function). A node with no plausible candidate gets no truth: that is how
nodes the optimiser invents (compression and pruning projections, min/max filters from join
statistics, duplicate-eliminating aggregates of decorrelated subqueries, the single-row check of
a scalar subquery) are left out.

Scans: a scan with pushed-down filters is matched like a filter node on the filters' columns and
constants (the filter call is what put them there). A bare scan gets no truth: the table arrives
as a parameter of the query function and no DataFrame call reads it, so no chunk is right for it.
"""

from __future__ import annotations

from collections import Counter

import ibis.expr.operations as ops
from ibis.common.graph import Graph

from reference_agents.dag_mapping.plans.duckdb_expressions import scan
from reference_agents.dag_mapping.plans.model import OperatorKind, PlanNode

from .model import CodeSpan, GroundTruth, Truth
from .node_features import NodeFeatures, join_conditions, node_features
from .rules import (
    CANDIDATES,
    CORRELATED_CANDIDATES,
    CROSS_CANDIDATES,
    LINKED,
    SINGLE_ROW_CHECK,
    score,
    table_share,
)
from .trace import CallRecord, TracedQuery

K = OperatorKind


def match_plan(traced: TracedQuery, plan: PlanNode) -> GroundTruth:
    """The ground truth of ``traced``'s query for ``plan`` (its DuckDB plan, as
    :func:`parse_duckdb_json` reads it). Nodes are matched top-down, each knowing the calls its
    nearest matched ancestor stands for."""
    query = traced.query
    matcher = _Matcher(traced.calls, plan)
    truth: dict[str, Truth] = {}
    pending: list[tuple[PlanNode, list[CallRecord]]] = [(plan, [])]
    while pending:
        node, context = pending.pop()
        found = matcher.match(node, context)
        if found is not None:
            truth[node.node_id], context = found
        pending.extend((child, context) for child in reversed(node.children))
    function = CodeSpan(query.rel_path, query.name, "def", query.start_line, query.end_line, 0, 0)
    return GroundTruth(query.query_id, plan, truth, function, traced.sql)


class _Matcher:
    """Ranks a node's candidate calls by (related to the nearest ancestor's truth, weighted
    score, share of the node's tables). Relatedness tells apart calls with the same content in
    independent parts of the query (a subquery that repeats the outer query's joins)."""

    def __init__(self, calls: list[CallRecord], plan: PlanNode):
        self.calls = calls
        # How many projections output each column set: a repeated one is a copy, not clear.
        self._outputs = Counter(frozenset(n.columns) for n in plan.walk() if n.kind == K.PROJECT)
        self._parts_of: dict[int, set] = {}

    def match(self, node: PlanNode, context: list[CallRecord]) -> tuple[Truth, list[CallRecord]] | None:
        """The node's truth and the calls it stands for (truth first), or None."""
        features = node_features(node, unique_output=self._outputs[frozenset(node.columns)] == 1)
        weights = self._weights(node, features)
        if not weights:
            return None
        ranked = []
        for call in self.calls:
            kind = "window" if node.kind == K.WINDOW and call.facts.window else call.kind
            # A group_by builds no operator alone: it comes in as its agg's alternative.
            if kind not in weights or call.method == "group_by":
                continue
            fit = score(node.kind, features, call)
            if fit is not None:
                related = not context or any(self._related(call, other) for other in context)
                share = table_share(node.kind, features.tables, call.tables)
                ranked.append(((related, fit * weights[kind], share), call))
        if not ranked:
            return None
        ranked.sort(key=lambda item: (tuple(-float(v) for v in item[0]), item[1].index))
        best_rank, best = ranked[0]
        stands_for = [best] + [call for rank, call in ranked[1:] if rank == best_rank]
        stands_for += _linked(node.kind, best, self.calls)
        stands_for += _other_conditions(node, best, [call for _, call in ranked[1:]])
        return _truth(node.kind, stands_for), stands_for

    @staticmethod
    def _weights(node: PlanNode, features: NodeFeatures) -> dict[str, float]:
        if node.kind == K.SCAN and not (features.columns or features.constants):
            return {}  # a bare scan
        if node.kind == K.AGGREGATE and features.aggregates == SINGLE_ROW_CHECK:
            return {}
        if features.correlated:
            return CORRELATED_CANDIDATES
        if node.kind == K.JOIN and not features.columns:
            return CROSS_CANDIDATES
        return CANDIDATES.get(node.kind, {})

    def _related(self, a: CallRecord, b: CallRecord) -> bool:
        """Whether the two calls' expression graphs share a relation or join link (base tables
        aside). Not op containment: ibis rebuilds a join chain per ``join`` call and rebuilds an
        aggregate when a scalar subquery reads its column."""
        a_parts, b_parts = self._parts(a), self._parts(b)
        return not a_parts or not b_parts or not a_parts.isdisjoint(b_parts)

    def _parts(self, call: CallRecord) -> set:
        if call.index not in self._parts_of:
            self._parts_of[call.index] = {
                node
                for node in Graph.from_bfs(call.result_op)
                if isinstance(node, ops.JoinLink)
                or (isinstance(node, ops.Relation) and not isinstance(node, ops.UnboundTable | ops.Reference))
            }
        return self._parts_of[call.index]


def _linked(kind: OperatorKind, best: CallRecord, calls: list[CallRecord]) -> list[CallRecord]:
    pairs = LINKED.get(kind, set())
    return [
        call
        for call in calls
        if (call.index == best.receiver_call and (call.method, best.method) in pairs)
        or (call.receiver_call == best.index and (best.method, call.method) in pairs)
    ]


def _other_conditions(node: PlanNode, best: CallRecord, others: list[CallRecord]) -> list[CallRecord]:
    """For a join whose conditions came from several calls (DuckDB merges ``a.join(b, p)
    .join(c, q)`` into one operator when it can): the best-ranked other call naming all the
    columns of each condition that ``best`` does not."""
    if node.kind != K.JOIN:
        return []
    found = []
    for condition in join_conditions(node):
        columns = set(scan(condition).columns)
        if columns and not columns <= set(best.facts.columns):
            found += [c for c in others if columns <= set(c.facts.columns)][:1]
    return found


def _truth(kind: OperatorKind, calls: list[CallRecord]) -> Truth:
    """A truth for ``calls[0]`` with the rest (and for a window, the ``.over`` calls inside
    them) as alternatives, one per distinct span."""
    own = _span(calls[0])
    spans = [_span(call) for call in calls[1:]]
    if kind == K.WINDOW:
        spans += [
            CodeSpan(call.path, call.symbol, "over", line, end_line, col, end_col)
            for call in calls
            for line, col, end_line, end_col in call.over_spans
        ]
    unique = {span.key: span for span in spans if span.key != own.key}
    return Truth(
        own.path,
        own.symbol,
        own.method,
        own.start_line,
        own.end_line,
        own.start_col,
        own.end_col,
        alternatives=[unique[key] for key in sorted(unique)],
    )


def _span(call: CallRecord) -> CodeSpan:
    return CodeSpan(
        call.path, call.symbol, call.method, call.start_line, call.end_line, call.start_col, call.end_col
    )
