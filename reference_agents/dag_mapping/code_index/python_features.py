"""The columns, constants and aggregate functions a piece of Python DataFrame code names."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

from reference_agents.dag_mapping.code_index.model import unique
from reference_agents.dag_mapping.code_index.python_methods import (
    AGGREGATES,
    COLUMN_NAME_CALLS,
    OUTPUT_NAME_CALLS,
    TYPE_CALLS,
    TYPE_KEYWORD,
)
from reference_agents.dag_mapping.code_index.python_scope import Resolution
from reference_agents.dag_mapping.code_index.python_values import NotConstant, as_text, evaluate

# Receivers whose attributes are never columns.
_NOT_TABLE_ROOTS = frozenset({"self", "cls"})


@dataclass
class Features:
    """What a piece of code names; lists deduplicated in order of first appearance (see
    :class:`~reference_agents.dag_mapping.code_index.model.CodeChunk`)."""

    columns: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    aggregates: list[str] = field(default_factory=list)


def call_name(call: ast.Call) -> str | None:
    """The method or function a call names: ``filter`` for ``t.filter(...)``, ``desc`` for
    ``desc(...)``; ``None`` for anything else (``f()(x)``)."""
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def root_name(node: ast.AST) -> str | None:
    """The name an attribute/call/subscript chain starts from (``t`` for ``t.a.b().c``)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def extract(nodes: Iterable[ast.AST], resolution: Resolution) -> Features:
    """Features of the code in ``nodes`` (expressions or statements; a ``def`` inside is read too).

    Columns: attributes read, not called, on anything but an imported module or ``self``/``cls``
    (``t.l_shipdate`` -> ``l_shipdate``, ``_.x``; ``t.x.sum()`` gives ``x``, not ``sum``), string
    subscripts (``t["x"]``), string arguments of ``python_methods.COLUMN_NAME_CALLS``, keyword
    names of ``python_methods.OUTPUT_NAME_CALLS``; type names (``cast("date")``, ``type=``) are
    neither columns nor constants. Constants: literals and names bound to them, and the value of
    each largest constant expression (``add_date("1998-12-01", dd=-90)`` gives ``1998-09-02``
    besides ``1998-12-01`` and ``-90``; ``f"%{TYPE}"`` gives ``%BRASS``); docstrings are skipped.
    Aggregates: ``python_methods.AGGREGATES`` methods called."""
    collector = _Collector(resolution)
    for node in nodes:
        collector.visit(node, folded=False)
    return collector.features()


def extract_call(call: ast.Call, resolution: Resolution) -> Features:
    """Features of one DataFrame call without its receiver chain: for ``q.filter(x).order_by(y)``
    and the ``order_by`` call, only ``y`` (and the method's own meaning: string arguments of
    ``group_by``/``order_by``... are columns, keyword names of ``agg``/``mutate``... too)."""
    collector = _Collector(resolution)
    collector.call(call, folded=False, receiver=False)
    return collector.features()


class _Collector:
    def __init__(self, resolution: Resolution):
        self.resolution = resolution
        self.columns: list[str] = []
        self.constants: list[str] = []
        self.aggregates: list[str] = []
        self.column_strings: set[int] = set()
        self.type_strings: set[int] = set()

    def features(self) -> Features:
        return Features(
            columns=unique(name.lower() for name in self.columns),
            constants=unique(self.constants),
            aggregates=unique(self.aggregates),
        )

    def value(self, node: ast.AST):
        return evaluate(node, self.resolution.constant, self.resolution.imports)

    def visit(self, node: ast.AST, folded: bool) -> None:
        """``folded``: an enclosing expression's constant value was already taken."""
        if id(node) in self.column_strings:
            self.columns.append(node.value)
            return
        if id(node) in self.type_strings:
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.body(node.body)
            return
        if isinstance(node, ast.Constant):
            self.constants.extend(as_text(node.value))
            return
        if isinstance(node, ast.Name):
            try:
                self.constants.extend(as_text(self.resolution.constant(node)))
            except KeyError:
                pass
            return
        if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
            try:  # -90 is one literal
                self.constants.extend(as_text(self.value(node)))
                return
            except NotConstant:
                pass
        if not folded and isinstance(node, (ast.BinOp, ast.JoinedStr, ast.Call, ast.UnaryOp)):
            try:
                self.constants.extend(as_text(self.value(node)))
                folded = True
            except NotConstant:
                pass
        if isinstance(node, ast.Attribute):
            self.attribute(node)
            self.visit(node.value, folded)
            return
        if isinstance(node, ast.Subscript):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                self.columns.append(node.slice.value)
            else:
                self.visit(node.slice, folded)
            self.visit(node.value, folded)
            return
        if isinstance(node, ast.Call):
            self.call(node, folded)
            return
        if isinstance(node, ast.JoinedStr):  # its literal fragments are not constants of their own
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    self.visit(part.value, folded)
            return
        if isinstance(node, ast.Lambda):
            self.visit(node.body, folded)
            return
        for child in ast.iter_child_nodes(node):
            self.visit(child, folded)

    def body(self, statements: list[ast.stmt]) -> None:
        if statements and _is_docstring(statements[0]):
            statements = statements[1:]
        for statement in statements:
            self.visit(statement, folded=False)

    def attribute(self, node: ast.Attribute) -> None:
        root = root_name(node)
        if root in self.resolution.modules or root in _NOT_TABLE_ROOTS:
            return
        self.columns.append(node.attr)

    def call(self, node: ast.Call, folded: bool, receiver: bool = True) -> None:
        name = call_name(node)
        if name in COLUMN_NAME_CALLS:
            self.mark_strings(
                [*node.args, *(kw.value for kw in node.keywords if kw.arg in ("before", "after"))],
                self.column_strings,
            )
            if name == "rename":
                self.mark_strings([kw.value for kw in node.keywords], self.column_strings)
        if name in TYPE_CALLS:
            self.mark_strings(node.args, self.type_strings)
        self.mark_strings([kw.value for kw in node.keywords if kw.arg == TYPE_KEYWORD], self.type_strings)
        if name in OUTPUT_NAME_CALLS:
            self.columns.extend(kw.arg for kw in node.keywords if kw.arg is not None)
        if isinstance(node.func, ast.Attribute):
            if name in AGGREGATES and root_name(node.func) not in self.resolution.modules:
                self.aggregates.append(AGGREGATES[name])
            if receiver:
                self.visit(node.func.value, folded)
        for child in [*node.args, *(kw.value for kw in node.keywords)]:
            self.visit(child, folded)

    def mark_strings(self, nodes: list[ast.AST], marked: set[int]) -> None:
        """Mark the string literals in ``nodes`` (and in lists/tuples there) as not constants."""
        for node in nodes:
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                marked.add(id(node))
            elif isinstance(node, (ast.List, ast.Tuple)):
                self.mark_strings(node.elts, marked)


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )
