"""The columns, constants, aggregate functions and tables one SQL clause names, not counting
the queries nested in it (a subquery has chunks of its own)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlglot import exp

from reference_agents.dag_mapping.code_index.model import unique


def own_nodes(root: exp.Expr) -> Iterator[exp.Expr]:
    """``root`` and its descendants, skipping nested queries (subqueries, selects, set operations)
    below it and all of their contents."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node is not root and isinstance(node, exp.Query):
            continue
        yield node
        stack.extend(reversed(list(node.iter_expressions())))


def is_windowed(node: exp.Expr) -> bool:
    """Whether ``node`` is the function of a window (``sum(x) OVER (...)``)."""
    return isinstance(node.parent, exp.Window) and node.arg_key == "this"


def group_aggregates(roots: Iterable[exp.Expr]) -> list[exp.AggFunc]:
    """The aggregate function calls in ``roots`` (own level) that a GROUP BY computes: not
    windowed ones (``sum(x) OVER ()``), whose inner aggregate (``sum(sum(x)) OVER ()``) is."""
    return [
        node
        for root in roots
        for node in own_nodes(root)
        if isinstance(node, exp.AggFunc) and not is_windowed(node)
    ]


def columns(roots: Iterable[exp.Expr]) -> list[str]:
    """Column names referenced (unqualified, lower case) and output aliases defined, own level."""
    names = []
    for root in roots:
        for node in own_nodes(root):
            if isinstance(node, exp.Column) and node.name:
                names.append(node.name.lower())
            elif isinstance(node, exp.Alias) and node.alias:
                names.append(node.alias.lower())
    return unique(names)


def constants(roots: Iterable[exp.Expr]) -> list[str]:
    """Literal values as text, own level: strings unquoted (so ``CAST('1998-09-02' AS date)``
    gives ``1998-09-02``), numbers as written, a negated number with its sign."""
    values = []
    for root in roots:
        for node in own_nodes(root):
            if not isinstance(node, exp.Literal):
                continue
            negated = isinstance(node.parent, exp.Neg) and not node.is_string
            values.append(f"-{node.this}" if negated else node.this)
    return unique(values)


def aggregates(roots: Iterable[exp.Expr]) -> list[str]:
    """Aggregate function names (lower case SQL names: ``sum``, ``avg``, ``count``,
    ``stddev_samp``...), own level, windowed ones included."""
    return unique(
        node.sql_name().lower() for root in roots for node in own_nodes(root) if isinstance(node, exp.AggFunc)
    )


def tables(roots: Iterable[exp.Expr], cte_names: set[str]) -> list[str]:
    """Base table names read (lower case), own level; names of the statement's CTEs excluded."""
    names = [
        node.name.lower()
        for root in roots
        for node in own_nodes(root)
        if isinstance(node, exp.Table) and node.name and node.name.lower() not in cte_names
    ]
    return unique(names)
