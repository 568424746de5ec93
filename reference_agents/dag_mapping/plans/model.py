"""The plan shape every adapter produces: a tree of operators, each with the tables, columns,
constants and aggregate functions it names, and a kind shared across engines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from enum import StrEnum


class OperatorKind(StrEnum):
    """What an operator does, across engines (DuckDB ``HASH_JOIN`` and Spark ``SortMergeJoin`` are
    both ``join``). It is what a plan node is matched against a code call's kind by."""

    SCAN = "scan"
    FILTER = "filter"
    JOIN = "join"
    AGGREGATE = "aggregate"
    PROJECT = "project"
    ORDER = "order"
    LIMIT = "limit"
    TOP_N = "top_n"
    WINDOW = "window"
    UNION = "union"
    DISTINCT = "distinct"
    OTHER = "other"


@dataclass
class PlanNode:
    """One operator of a plan.

    ``node_id`` is unique in its plan and stable for the same plan text (pre-order position,
    ``"n0"`` the root). ``operator`` is the engine's own name (``HASH_GROUP_BY``); ``kind`` its
    :class:`OperatorKind`. ``tables`` are base tables read (scans), ``columns`` column names
    referenced (unqualified, lower case), ``constants`` literal values as text (strings unquoted,
    dates ``YYYY-MM-DD``), ``aggregates`` aggregate function names (lower case: ``sum``,
    ``count``...). ``detail`` keeps the engine's remaining fields as given."""

    node_id: str
    operator: str
    kind: OperatorKind
    tables: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    aggregates: list[str] = field(default_factory=list)
    detail: dict = field(default_factory=dict)
    children: list[PlanNode] = field(default_factory=list)

    def walk(self):
        """Yield this node and its descendants, pre-order."""
        yield self
        for child in self.children:
            yield from child.walk()


class PlanFormatError(ValueError):
    """A plan that its adapter cannot read; the message names the format and what is wrong."""


T = TypeVar("T")


def post_order(root: T, children: Callable[[T], list[T]]) -> list[T]:
    """``root``'s tree, children before parents (left to right), without recursion (plans can be deep)."""
    out: list[T] = []
    stack = [(root, False)]
    while stack:
        item, expanded = stack.pop()
        if expanded:
            out.append(item)
            continue
        stack.append((item, True))
        stack.extend((child, False) for child in reversed(children(item)))
    return out
