"""What a DuckDB plan node offers to be matched on: the columns, constants and aggregate functions
it names (a scan: only those of the filters written in the query; an aggregate or window: also
its inputs, computed by the projections just below), the base tables under it, and the marks of
operators DuckDB makes for subqueries."""

from __future__ import annotations

import datetime
import decimal
import re
from dataclasses import dataclass

from reference_agents.dag_mapping.plans.duckdb_expressions import scan
from reference_agents.dag_mapping.plans.model import OperatorKind, PlanNode

K = OperatorKind
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class NodeFeatures:
    """``columns``, ``constants``, ``aggregates`` (lower case names) and ``tables`` (base tables
    read under the node). ``subquery``: it compares a subquery's result (DuckDB prints
    ``SUBQUERY``); ``correlated``: a join DuckDB made to decorrelate a subquery (a delim join, or
    conditions all ``IS NOT DISTINCT FROM``); ``mark``: a MARK join (an IN list or IN subquery);
    ``grouped``: an aggregate with group keys; ``unique_output``: no other projection of the plan
    outputs the same columns (given by the caller, who sees the whole plan)."""

    columns: frozenset[str]
    constants: frozenset[str]
    aggregates: frozenset[str]
    tables: frozenset[str]
    subquery: bool
    correlated: bool
    mark: bool
    grouped: bool
    unique_output: bool


def node_features(node: PlanNode, *, unique_output: bool) -> NodeFeatures:
    """The features of ``node``, a node of :func:`parse_duckdb_json`'s tree (``detail`` is
    DuckDB's ``extra_info``)."""
    columns = set(node.columns)
    if node.kind == K.SCAN:
        # Only what the pushed-down filters name: the projected columns say nothing of a call,
        # and a "Dynamic Filter" is the optimiser's (from a join or top-n, at run time).
        filters = node.detail.get("Filters", "")
        items = filters if isinstance(filters, list) else str(filters).splitlines()
        columns &= {c for item in items if "Dynamic Filter" not in item for c in scan(item).columns}
    elif node.kind in (K.AGGREGATE, K.WINDOW):
        # Their inputs are computed by the projections just below and referred to as #n.
        child = node.children[0] if node.children else None
        while child is not None and child.kind == K.PROJECT:
            columns |= set(child.columns)
            child = child.children[0] if child.children else None
    details = " ".join(_text(v) for k, v in node.detail.items() if k != "Estimated Cardinality")
    return NodeFeatures(
        columns=frozenset(columns),
        constants=frozenset(node.constants),
        aggregates=frozenset(a.lower() for a in node.aggregates),
        tables=frozenset(table.lower() for n in node.walk() for table in n.tables),
        subquery="SUBQUERY" in details,
        correlated=node.kind == K.JOIN and _correlation_join(node),
        mark="MARK" in details.split(),
        grouped=bool(node.detail.get("Groups")),
        unique_output=unique_output,
    )


def join_conditions(node: PlanNode) -> list[str]:
    """A join node's conditions, one text each (DuckDB gives one string or a list)."""
    conditions = node.detail.get("Conditions") or []
    return [str(c) for c in conditions] if isinstance(conditions, list) else [str(conditions)]


def same_constant(plan_value: str, code_value: str) -> bool:
    """Whether a plan's constant is a code literal: equal as numbers (``24.00`` = ``24``), as
    dates, or as strings up to LIKE wildcards (DuckDB rewrites ``LIKE '%BRASS'`` to
    ``suffix(p_type, 'BRASS')``)."""
    a, b = _number(plan_value), _number(code_value)
    if a is not None or b is not None:
        return a == b
    if _DATE.match(plan_value) or _DATE.match(code_value):
        return _date(plan_value) == _date(code_value)
    stripped = code_value.strip("%")
    return plan_value == code_value or (len(stripped) >= 3 and plan_value.strip("%") == stripped)


def _correlation_join(node: PlanNode) -> bool:
    conditions = join_conditions(node)
    return "DELIM" in node.operator or (
        bool(conditions) and all("IS NOT DISTINCT FROM" in c for c in conditions)
    )


def _text(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def _number(text: str) -> decimal.Decimal | None:
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return None
    return value.normalize() if value.is_finite() else None


def _date(text: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        return None
