"""Structural facts about a plan node that its features do not carry, read from the operator name
and the engine's ``detail`` (DuckDB JSON and Spark text adapters): whether a join evaluates a
subquery predicate, whether an aggregate groups, and which columns an operator that names none
reads from its input."""

from __future__ import annotations

import re

from reference_agents.dag_mapping.plans.model import OperatorKind, PlanNode

# Join types that only a subquery predicate (IN, EXISTS, a scalar subquery) or an explicit
# semi/anti join produces: DuckDB's "Join Type" values and Spark's join type flags, lower case.
_SUBQUERY_JOIN_TYPES = frozenset(
    {"semi", "anti", "right_semi", "right_anti", "mark", "single", "leftsemi", "leftanti", "existencejoin"}
)
_SPARK_KEYS = re.compile(r"keys=\[([^\]]*)\]")


def subquery_join(node: PlanNode) -> bool:
    """Whether ``node`` is a join made from a subquery predicate rather than a join call: a
    semi/anti/mark/single join, a DuckDB delim join (a decorrelated subquery) or a join reading a
    delim scan (the correlated side)."""
    if node.kind is not OperatorKind.JOIN:
        return False
    join_type = str(node.detail.get("Join Type") or node.detail.get("join_type") or "").lower()
    if join_type in _SUBQUERY_JOIN_TYPES:
        return True
    return "DELIM" in node.operator.upper() or any(child.operator.upper() == "DELIM_SCAN" for child in node.children)


def grouped(node: PlanNode) -> bool | None:
    """For an aggregate node: True if it has grouping keys, False if it aggregates everything into
    one row, None when the plan does not say (or for another kind)."""
    if node.kind is not OperatorKind.AGGREGATE:
        return None
    if node.operator.upper() == "UNGROUPED_AGGREGATE":
        return False
    if "Groups" in node.detail:  # DuckDB HASH_GROUP_BY / PERFECT_HASH_GROUP_BY
        return bool(node.detail["Groups"])
    keys = node.detail.get("Keys")  # Spark, formatted layout
    if keys is None and (match := _SPARK_KEYS.search(str(node.detail.get("arguments", "")))):
        keys = match.group(1)
    if keys is None:
        return None
    return bool(str(keys).strip())


# Kinds whose operator may refer to its input's columns by position only (DuckDB's "#0"), so the
# columns it computes over are named by the operator below it.
_READS_INPUT = frozenset({OperatorKind.AGGREGATE, OperatorKind.DISTINCT, OperatorKind.WINDOW})


def input_columns(node: PlanNode) -> list[str]:
    """The columns an aggregate/distinct/window node that names none reads: those of the first
    operator below it (following single children) that names any. Empty for other nodes and for
    nodes that name their own columns."""
    if node.kind not in _READS_INPUT or node.columns:
        return []
    below = node.children
    while len(below) == 1:
        if below[0].columns:
            return list(below[0].columns)
        below = below[0].children
    return []
