"""Which recorded calls can have produced a plan node, and how well each fits: candidate call
kinds per node kind with weights, a score from shared columns/constants/aggregates, a
plausibility rule per node kind, and the share of base tables."""

from __future__ import annotations

from dataclasses import dataclass

from reference_agents.dag_mapping.plans.model import OperatorKind

from .node_features import NodeFeatures, same_constant
from .trace import CallRecord

K = OperatorKind

# Node kind -> {call kind: weight}. A weight under 1 makes a less direct producer rank lower; a
# top-n is the order_by's operator given the limit's count, so a limit (2 x its one constant)
# ranks below an order_by sharing one column.
CANDIDATES: dict[OperatorKind, dict[str, float]] = {
    K.SCAN: {"filter": 1.0, "join": 0.9},
    K.FILTER: {"filter": 1.0, "join": 0.9},
    K.JOIN: {"join": 1.0, "filter": 0.9},
    K.AGGREGATE: {"aggregate": 1.0, "distinct": 1.0, "filter": 0.9, "project": 0.9, "union": 0.8},
    K.ORDER: {"order": 1.0},
    K.TOP_N: {"order": 1.0, "limit": 0.4},
    K.LIMIT: {"limit": 1.0},
    K.WINDOW: {"window": 1.0},
    K.UNION: {"union": 1.0},
    K.PROJECT: {"project": 1.0},
}
# A decorrelation join comes from the call holding the subquery or its correlation predicate
# (or an INTERSECT/EXCEPT); a join with no column conditions, from a cross join or the call
# holding a scalar subquery.
CORRELATED_CANDIDATES = {"filter": 1.0, "project": 1.0, "aggregate": 1.0, "union": 1.0}
CROSS_CANDIDATES = {"join": 1.0, "filter": 1.0, "project": 1.0, "aggregate": 1.0}

# (receiver method, consumer method) pairs that together build one operator of the node kind.
LINKED = {
    K.AGGREGATE: {("group_by", "agg"), ("group_by", "aggregate")},
    K.TOP_N: {("order_by", "limit"), ("order_by", "head")},
}

# DuckDB checks that a scalar subquery returns one row with first(x) and count_star().
SINGLE_ROW_CHECK = frozenset({"first", "count"})


@dataclass(frozen=True)
class _Shared:
    columns: int
    constants: int
    aggregates: int


def score(kind: OperatorKind, node: NodeFeatures, call: CallRecord) -> float | None:
    """Shared columns + 2 x shared constants + shared aggregates of ``node`` (of ``kind``) and
    ``call``; None if the call cannot have produced the node (the kind's rule fails, or they read
    no base table in common)."""
    facts = call.facts
    shared = _Shared(
        columns=len(node.columns & set(facts.columns)),
        constants=sum(any(same_constant(a, b) for b in facts.constants) for a in node.constants),
        aggregates=len(node.aggregates & set(facts.aggregates)),
    )
    if node.tables and call.tables and node.tables.isdisjoint(call.tables):
        return None
    rule = _PLAUSIBLE.get(kind)
    if rule is not None and not rule(node, call, shared):
        return None
    fit = float(shared.columns + 2 * shared.constants + shared.aggregates)
    if kind == K.AGGREGATE and call.kind == "aggregate" and node.grouped and not facts.grouped:
        # Grouped only in the plan: DuckDB groups a correlated subquery's aggregate by the
        # correlated columns, which is rarer than the code grouping it.
        fit /= 2
    return fit


def table_share(kind: OperatorKind, node_tables: frozenset[str], call_tables: tuple[str, ...]) -> float:
    """How well the base tables under the node and those the call reads agree: their overlap
    coefficient (one set within the other is full agreement: a filter pushed down to one table
    of its join, one operator doing two chained joins); for a union, whose inputs are exactly
    the call's, their Jaccard index (``a.union(b).union(c)``: the inner union reads fewer)."""
    if not node_tables or not call_tables:
        return 0.0
    shared = len(node_tables & set(call_tables))
    if kind == K.UNION:
        return shared / len(node_tables | set(call_tables))
    return shared / min(len(node_tables), len(call_tables))


def _filter_plausible(node: NodeFeatures, call: CallRecord, shared: _Shared) -> bool:
    facts = call.facts
    if node.subquery and facts.subquery:  # (SUBQUERY > 0): an EXISTS the plan counts
        return True
    if not node.columns:  # it names its input by position (#2 < 11)
        return shared.constants >= 1
    if node.constants:
        # A join call's ON clause can hold a constant condition DuckDB pushes into a scan; a
        # having's condition names the aggregate by its output alias in the plan.
        named = shared.columns >= 1 or shared.aggregates >= 1 or call.method == "having"
        return shared.constants >= 1 and named
    if call.kind == "join":  # a left join's ON condition on the right side (x IS NULL)
        return node.columns <= set(facts.columns)
    return shared.columns >= 1 or shared.aggregates >= 1


def _join_plausible(node: NodeFeatures, call: CallRecord, shared: _Shared) -> bool:
    facts = call.facts
    if node.subquery:  # x > (SUBQUERY * 0.05): a scalar subquery's result compared
        return facts.subquery
    if node.correlated:
        # Conditions on positions only: an INTERSECT/EXCEPT; else the correlation predicate, in a
        # filter or in the call holding the subquery.
        if not node.columns:
            return call.method in ("intersect", "difference")
        return shared.columns >= 1 and (call.kind == "filter" or facts.subquery)
    if not node.columns:
        return facts.subquery or call.method == "cross_join"
    if call.kind != "join" and not facts.subquery and not node.mark:
        # A plain filter makes a join only from an equality across tables (cross join + filter);
        # a MARK join is an IN list or IN subquery.
        return shared.columns >= min(2, len(node.columns))
    return shared.columns >= 1


def _aggregate_plausible(node: NodeFeatures, call: CallRecord, shared: _Shared) -> bool:
    facts = call.facts
    if call.kind == "aggregate" and facts.grouped and not node.grouped:
        return False
    if node.aggregates:
        return shared.aggregates >= 1
    # A group-by computing nothing: a distinct, or an agg with keys only.
    return facts.distinct or (call.kind == "aggregate" and not facts.aggregates and shared.columns >= 1)


def _project_plausible(node: NodeFeatures, call: CallRecord, shared: _Shared) -> bool:
    # Clear only when it computes something of the call's, or is the one projection that
    # outputs exactly the call's columns.
    same_output = node.unique_output and len(node.columns) >= 2 and node.columns == set(call.output_columns)
    return (shared.columns >= 1 and shared.constants >= 1) or same_output


# Union: no rule, only the tables read to go by.
_PLAUSIBLE = {
    K.SCAN: _filter_plausible,
    K.FILTER: _filter_plausible,
    K.JOIN: _join_plausible,
    K.AGGREGATE: _aggregate_plausible,
    K.PROJECT: _project_plausible,
    K.ORDER: lambda node, call, shared: shared.columns >= 1,
    K.TOP_N: lambda node, call, shared: (
        shared.columns >= 1 if call.kind == "order" else shared.constants >= 1
    ),
    # DuckDB's STREAMING_LIMIT prints no count.
    K.LIMIT: lambda node, call, shared: shared.constants >= 1 or not node.constants,
    K.WINDOW: lambda node, call, shared: shared.columns >= 1 or shared.aggregates >= 1,
}
