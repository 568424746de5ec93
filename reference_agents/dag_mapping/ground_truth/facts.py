"""What one DataFrame call contributes to a query, read off the ibis operation graph it built:
the columns, constants and aggregate functions of the relations it added (not of its inputs)."""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Iterable
from dataclasses import dataclass

import ibis.expr.operations as ops

# ibis operation class -> the function name DuckDB's plan prints; the rest are snake_cased
# (StandardDev and Variance also take their ``how``: stddev_samp, var_pop...).
_FUNCTION_NAMES = {
    "Mean": "avg",
    "Count": "count",
    "CountStar": "count",
    "CountDistinct": "count",
    "CountDistinctStar": "count",
    "Arbitrary": "any_value",
    "MinRank": "rank",
}
_SUBQUERIES = (ops.ScalarSubquery, ops.ExistsSubquery, ops.InSubquery)


@dataclass(frozen=True)
class Facts:
    """The identifying content of a call: ``columns`` (column names, lower case), ``constants``
    (literals as text: strings unquoted, dates ``YYYY-MM-DD``, numbers as Python prints them),
    ``aggregates`` (reduction and analytic function names, lower case: sum, avg, count, rank...),
    ``window`` (whether it computes a window function), ``distinct`` (whether it removes duplicate
    rows: ``distinct()``, a set operation with ``distinct=True``), ``subquery`` (whether its
    values hold a scalar, EXISTS or IN subquery, which a plan turns into a join), ``grouped``
    (whether it aggregates by keys). Tuples are sorted."""

    columns: tuple[str, ...] = ()
    constants: tuple[str, ...] = ()
    aggregates: tuple[str, ...] = ()
    window: bool = False
    distinct: bool = False
    subquery: bool = False
    grouped: bool = False


def _literal_text(value) -> str | None:
    """A literal as plan text: dates ISO, strings as-is, numbers via ``str``; None for values a
    plan does not print as a constant (None, booleans, containers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, str | int | float | decimal.Decimal):
        return str(value)
    return None


def call_facts(
    kind: str, receiver_ops: Iterable[ops.Node], result_op: ops.Node, stop: set[ops.Node]
) -> Facts:
    """Facts of the relations between ``result_op`` (what a call of ``kind`` returned) and its
    inputs ``receiver_ops`` (the receiver's and other table arguments' operations). ``stop`` holds
    the relations other recorded calls built: subqueries are followed into, not past those."""
    inputs = set(receiver_ops)
    values: list[ops.Value] = []
    constants: list[str] = []
    keys: set[str] = set()  # group keys by their given names: the plan groups on those
    grouped = False
    for rel in _added_relations(result_op, inputs):
        values.extend(_own_values(rel, inputs))
        if isinstance(rel, ops.Aggregate):
            keys |= {name.lower() for name in rel.groups}
            grouped = grouped or bool(rel.groups)
        if isinstance(rel, ops.Limit):
            constants.extend(str(v) for v in (rel.n, rel.offset) if isinstance(v, int) and v)
    facts = values_facts(values, stop | inputs)
    columns = tuple(sorted(set(facts.columns) | keys))
    if kind == "project" and not columns and hasattr(result_op, "values"):
        # A pure column selection: what it names are the kept columns.
        columns = tuple(sorted(n.lower() for n in result_op.values))
    distinct = isinstance(result_op, ops.Distinct) or (
        isinstance(result_op, ops.Set) and result_op.distinct
    )
    return Facts(
        columns,
        tuple(sorted(set(facts.constants) | set(constants))),
        facts.aggregates,
        facts.window,
        distinct,
        facts.subquery,
        grouped,
    )


def values_facts(values: Iterable[ops.Value], stop: set[ops.Node]) -> Facts:
    """Facts of value expressions, following subqueries into their relations up to ``stop``."""
    columns: set[str] = set()
    constants: set[str] = set()
    aggregates: set[str] = set()
    window = subquery = False
    pending = list(values)
    seen: set[ops.Node] = set()
    while pending:
        root = pending.pop()
        for node in root.find(
            (ops.Field, ops.Literal, ops.Reduction, ops.Analytic, ops.WindowFunction, *_SUBQUERIES),
            filter=ops.Value,
        ):
            if node in seen:
                continue
            seen.add(node)
            if isinstance(node, ops.Field):
                columns |= _lineage(node, {})
            elif isinstance(node, ops.Literal):
                if (text := _literal_text(node.value)) is not None:
                    constants.add(text)
            elif isinstance(node, ops.Reduction | ops.Analytic):
                aggregates.add(_function_name(node))
            elif isinstance(node, ops.WindowFunction):
                window = True
            else:
                subquery = True
                pending.extend(_subquery_values(node.rel, stop))
    return Facts(
        tuple(sorted(columns)),
        tuple(sorted(constants)),
        tuple(sorted(aggregates)),
        window,
        subquery=subquery,
    )


def _lineage(field: ops.Field, memo: dict) -> set[str]:
    """The field's name and the names it was computed from through renames, projections, group
    keys and set operations (``n_name.name("supp_nation")`` -> both): the optimiser inlines
    those, so the plan names the source columns. Aggregate metrics and window functions are not
    looked into (the plan computes those in their own operator)."""
    if field in memo:
        return memo[field]
    names = {field.name.lower()}
    memo[field] = names
    for source in _sources(field.rel, field.name):
        if not source.find((ops.Reduction, ops.WindowFunction), filter=ops.Value):
            for inner in source.find(ops.Field, filter=ops.Value):
                names |= _lineage(inner, memo)
    return names


def _sources(rel: ops.Relation, name: str) -> list[ops.Value]:
    """The values that column ``name`` of ``rel`` is defined by."""
    while isinstance(rel, ops.Reference | ops.Filter | ops.Sort | ops.Limit | ops.Distinct):
        rel = rel.parent
    if isinstance(rel, ops.Set):
        return _sources(rel.left, name) + _sources(rel.right, name)
    if isinstance(rel, ops.Aggregate):
        return [rel.groups[name]] if name in rel.groups else []
    values = getattr(rel, "values", {})
    return [values[name]] if name in values else []


def _added_relations(result_op: ops.Node, inputs: set[ops.Node]) -> list[ops.Relation]:
    """The relations from ``result_op`` down single-parent links until an input is reached."""
    added = []
    op = result_op
    while isinstance(op, ops.Relation) and op not in inputs:
        added.append(op)
        op = getattr(op, "parent", None)
    return added


def _own_values(rel: ops.Relation, inputs: set[ops.Node]) -> list[ops.Value]:
    if isinstance(rel, ops.Filter):
        return list(rel.predicates)
    if isinstance(rel, ops.Aggregate):
        return [*rel.groups.values(), *rel.metrics.values()]
    if isinstance(rel, ops.Sort):
        return list(rel.keys)
    if isinstance(rel, ops.JoinChain) and (links := _new_links(rel, inputs)) is not None:
        return [p for link in links for p in link.predicates]
    if isinstance(rel, ops.Project | ops.JoinChain):
        return _computed(rel.values)
    return [arg for arg in rel.__args__ if isinstance(arg, ops.Value)]


def _new_links(chain: ops.JoinChain, inputs: set[ops.Node]) -> tuple | None:
    """The links a call added to a join chain; None when it added none to a chain it was given
    (a select on a join, which only changes the chain's values)."""
    old = next((i for i in inputs if isinstance(i, ops.JoinChain) and i.first == chain.first), None)
    if old is None:
        return chain.rest
    return chain.rest[len(old.rest) :] or None


def _computed(values) -> list[ops.Value]:
    """Values other than a column passed through under its own name."""
    return [v for k, v in values.items() if not (isinstance(v, ops.Field) and v.name == k)]


def _subquery_values(rel: ops.Relation, stop: set[ops.Node]) -> list[ops.Value]:
    values = []
    for op in _added_relations(rel, stop):
        values.extend(_own_values(op, set()))
    return values


def _function_name(node: ops.Node) -> str:
    name = type(node).__name__
    if isinstance(node, ops.StandardDev | ops.Variance):
        return f"{'stddev' if name == 'StandardDev' else 'var'}_{'samp' if node.how == 'sample' else 'pop'}"
    return _FUNCTION_NAMES.get(name) or re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
