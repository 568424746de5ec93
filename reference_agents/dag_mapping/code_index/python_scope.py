"""What each name read in a Python module stands for where it is read: a known constant value
(``REGION = "EUROPE"``) or a table (a function parameter used as a table, an alias of one,
``con.table("x")``). Assignments are followed in statement order; branches and loops are not told
apart."""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

from reference_agents.dag_mapping.code_index.python_methods import (
    JOIN_METHODS,
    METHOD_KINDS,
    SCAN_METHODS,
    TABLE_ALIAS_METHODS,
)
from reference_agents.dag_mapping.code_index.python_values import NotConstant, evaluate

# Calls whose positional arguments are all tables (t.union(s), union(s, t)); a join's only its first.
_SET_OPERATIONS = frozenset({"union", "intersect", "difference"})
# Built-in functions: a name passed to one (len(t), print(t)) is not thereby a table.
_BUILTINS = frozenset(dir(builtins))
# Parameters that are the instance or class, never a table.
_NOT_TABLES = frozenset({"self", "cls"})


@dataclass
class Resolution:
    """Per read of a name (keyed by ``id()`` of its ``ast.Name`` node, valid while the tree lives):
    ``constants`` its value, ``tables`` its table name (lower case).

    A parameter (but ``self``/``cls``) is a table when it or an alias of it is somewhere the
    receiver of a DataFrame method, the right table of a join, an input of a union, or a bare
    argument of a plain call to a non-builtin function (``_sales(catalog_sales, _.cs_item_sk)``:
    a helper's inputs); so a helper's column parameters are not.

    ``modules``: names bound by ``import x``/``import x as y`` (attributes on them are not
    columns). ``imports``: every imported name -> dotted origin (``{"lit": "ibis.literal"}``)."""

    constants: dict[int, object] = field(default_factory=dict)
    tables: dict[int, str] = field(default_factory=dict)
    modules: set[str] = field(default_factory=set)
    imports: dict[str, str] = field(default_factory=dict)

    def constant(self, name: ast.Name):
        """The value ``name`` reads; raises ``KeyError`` if not a known constant."""
        return self.constants[id(name)]

    def table(self, node: ast.AST) -> str | None:
        """The table ``node`` is, if it is a name read that stands for one."""
        return self.tables.get(id(node)) if isinstance(node, ast.Name) else None


def scan_table(call: ast.Call) -> str | None:
    """The table name a scan call reads (``con.table("orders")``, ``ibis.table(s, name="orders")``),
    lower case; ``None`` if ``call`` is not one or the name is not a literal."""
    func = call.func
    method = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if method not in SCAN_METHODS:
        return None
    candidates = [kw.value for kw in call.keywords if kw.arg == "name"] + list(call.args)
    for node in candidates:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value.lower()
    return None


def resolve_module(tree: ast.Module) -> Resolution:
    """Resolve every name read in ``tree``; see :class:`Resolution`."""
    walker = _Walker()
    walker.visit(tree)
    walker.resolution.tables = {key: table.name for key, table in walker.table_reads.items() if table.used}
    return walker.resolution


class _Table:
    """A table a name stands for; ``used`` once it is seen used as a table."""

    __slots__ = ("name", "used")

    def __init__(self, name: str, used: bool):
        self.name, self.used = name, used


class _Walker(ast.NodeVisitor):
    def __init__(self):
        self.resolution = Resolution()
        self.table_reads: dict[int, _Table] = {}
        self.constants: dict[str, object] = {}
        self.tables: dict[str, _Table] = {}

    # scopes

    def _enter(self):
        saved = (self.constants, self.tables)
        self.constants, self.tables = dict(self.constants), dict(self.tables)
        return saved

    def _leave(self, saved):
        self.constants, self.tables = saved

    def _forget(self, name: str):
        self.constants.pop(name, None)
        self.tables.pop(name, None)

    def visit_FunctionDef(self, node):
        for child in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if child is not None:
                self.visit(child)
        self._forget(node.name)
        saved = self._enter()
        arguments = node.args
        for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            self._forget(arg.arg)
            if arg.arg not in _NOT_TABLES:
                self.tables[arg.arg] = _Table(arg.arg.lower(), used=False)
        for arg in (arguments.vararg, arguments.kwarg):
            if arg is not None:
                self._forget(arg.arg)
        for statement in node.body:
            self.visit(statement)
        self._leave(saved)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        for child in [*node.args.defaults, *node.args.kw_defaults]:
            if child is not None:
                self.visit(child)
        saved = self._enter()
        for name in _argument_names(node.args):
            self._forget(name)
        self.visit(node.body)
        self._leave(saved)

    def visit_ClassDef(self, node):
        for child in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(child)
        self._forget(node.name)
        saved = self._enter()
        for statement in node.body:
            self.visit(statement)
        self._leave(saved)

    def _comprehension(self, node, results):
        saved = self._enter()
        for generator in node.generators:
            self.visit(generator.iter)
            self._unbind(generator.target)
            for condition in generator.ifs:
                self.visit(condition)
        for result in results:
            self.visit(result)
        self._leave(saved)

    def visit_ListComp(self, node):
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node):
        self._comprehension(node, [node.key, node.value])

    # bindings

    def visit_Import(self, node):
        for alias in node.names:
            local = alias.asname or alias.name.split(".")[0]
            self._forget(local)
            self.resolution.modules.add(local)
            self.resolution.imports[local] = alias.name if alias.asname else local

    def visit_ImportFrom(self, node):
        for alias in node.names:
            local = alias.asname or alias.name
            self._forget(local)
            self.resolution.imports[local] = f"{node.module or ''}.{alias.name}".lstrip(".")

    def visit_Assign(self, node):
        self.visit(node.value)
        for target in node.targets:
            self._bind(target, node.value)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)
            self._bind(node.target, node.value)
        else:
            self._unbind(node.target)

    def visit_AugAssign(self, node):
        self.visit(node.value)
        self._unbind(node.target)

    def visit_NamedExpr(self, node):
        self.visit(node.value)
        self._bind(node.target, node.value)

    def visit_For(self, node):
        self.visit(node.iter)
        self._unbind(node.target)
        for statement in [*node.body, *node.orelse]:
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node):
        self.visit(node.context_expr)
        if node.optional_vars is not None:
            self._unbind(node.optional_vars)

    def visit_ExceptHandler(self, node):
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._forget(node.name)
        for statement in node.body:
            self.visit(statement)

    def _bind(self, target: ast.AST, value: ast.AST):
        if isinstance(target, ast.Name):
            self._forget(target.id)
            try:
                self.constants[target.id] = evaluate(
                    value, lambda name: self.constants[name.id], self.resolution.imports
                )
            except NotConstant:
                pass
            table = self._table_of(value)
            if table is not None:
                self.tables[target.id] = table
        elif _same_length_sequences(target, value):  # a, b = 1, "x"
            for element_target, element_value in zip(target.elts, value.elts):
                self._bind(element_target, element_value)
        else:
            self._unbind(target)

    def _unbind(self, target: ast.AST):
        """Forget the names ``target`` stores to; record the reads in it (``t[i] = ...`` reads ``i``)."""
        self.visit(target)
        for node in ast.walk(target):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self._forget(node.id)

    def _table_of(self, value: ast.AST) -> _Table | None:
        if isinstance(value, ast.Name):
            return self.tables.get(value.id)
        if isinstance(value, ast.Call):
            func = value.func
            alias = isinstance(func, ast.Attribute) and func.attr in TABLE_ALIAS_METHODS
            if alias and isinstance(func.value, ast.Name):
                return self.tables.get(func.value.id)
            name = scan_table(value)
            return _Table(name, used=True) if name is not None else None
        return None

    def _use(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name) and node.id in self.tables:
            self.tables[node.id].used = True

    def visit_Call(self, node):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if isinstance(func, ast.Attribute) and (name in METHOD_KINDS or name in TABLE_ALIAS_METHODS):
            self._use(func.value)
        plain_call = isinstance(func, ast.Name) and name not in _BUILTINS
        if name in _SET_OPERATIONS or plain_call:
            for argument in node.args:
                self._use(argument)
        elif name in JOIN_METHODS and node.args:
            self._use(node.args[0])
        self.generic_visit(node)

    # reads

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            if node.id in self.constants:
                self.resolution.constants[id(node)] = self.constants[node.id]
            if node.id in self.tables:
                self.table_reads[id(node)] = self.tables[node.id]


def _same_length_sequences(target: ast.AST, value: ast.AST) -> bool:
    sequences = (ast.Tuple, ast.List)
    return isinstance(target, sequences) and isinstance(value, sequences) and len(target.elts) == len(value.elts)


def _argument_names(arguments: ast.arguments) -> list[str]:
    names = [arg.arg for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]
    return names + [arg.arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None]
