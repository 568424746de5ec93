"""Static evaluation of the literal values in Python query code: constants, names bound to them,
f-strings, arithmetic, and the date helpers (``ibis.date``, ``add_date``) whose result the engine
folds into the plan."""

from __future__ import annotations

import ast
import datetime
import operator
from collections.abc import Callable

from dateutil.relativedelta import relativedelta


class NotConstant(Exception):
    """The expression's value is not known without running the code."""


_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def add_date(datestr: str, dy: int = 0, dm: int = 0, dd: int = 0) -> datetime.date:
    """The date ``datestr`` (``YYYY-MM-DD``) moved by ``dy`` years, ``dm`` months and ``dd`` days
    (calendar arithmetic, as ibis's TPC ``conftest.add_date``). Raises ``ValueError`` on a bad date."""
    return datetime.date.fromisoformat(datestr) + relativedelta(years=dy, months=dm, days=dd)


Resolver = Callable[[ast.Name], object]
"""The value a name has where it is read; raises ``KeyError`` or :class:`NotConstant` if unknown."""


def evaluate(node: ast.AST, resolve: Resolver, imports: dict[str, str] | None = None):
    """The value of expression ``node``, names read through ``resolve``, calls resolved through
    ``imports`` (local name -> dotted origin, ``{"lit": "ibis.literal"}``).

    Knows literals, tuples/lists/sets of them, unary +/-, arithmetic and string concatenation,
    f-strings, ``round``/``abs``, ``ibis.date``/``ibis.literal``/``datetime.date`` and
    ``add_date(datestr, dy=, dm=, dd=)``; dates come back as ``datetime.date``.
    Raises :class:`NotConstant` for anything else."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        try:
            return resolve(node)
        except KeyError as error:
            raise NotConstant(node.id) from error
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return tuple(evaluate(element, resolve, imports) for element in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = evaluate(node.operand, resolve, imports)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise NotConstant("unary sign on a non-number")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _binary(node, resolve, imports)
    if isinstance(node, ast.JoinedStr):
        return "".join(_formatted(part, resolve, imports) for part in node.values)
    if isinstance(node, ast.Call):
        return _call(node, resolve, imports or {})
    raise NotConstant(type(node).__name__)


def _binary(node: ast.BinOp, resolve, imports):
    left, right = evaluate(node.left, resolve, imports), evaluate(node.right, resolve, imports)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    strings = isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str)
    if not (numbers or strings):
        raise NotConstant("operands are not both numbers or both strings")
    try:
        return _BINARY[type(node.op)](left, right)
    except ArithmeticError as error:
        raise NotConstant(str(error)) from error


def _formatted(part: ast.AST, resolve, imports) -> str:
    if isinstance(part, ast.Constant):
        return str(part.value)
    if isinstance(part, ast.FormattedValue) and part.conversion == -1 and part.format_spec is None:
        return str(evaluate(part.value, resolve, imports))
    raise NotConstant("formatted value with a conversion or format spec")


def _call_name(func: ast.AST, imports: dict[str, str]) -> str:
    """Dotted name of the called function with its first part resolved through ``imports``
    (``ibis.date`` for ``date(...)`` after ``from ibis import date``); '' if not a plain name."""
    if isinstance(func, ast.Name):
        return imports.get(func.id, func.id)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{imports.get(func.value.id, func.value.id)}.{func.attr}"
    return ""


def _call(node: ast.Call, resolve, imports):
    name = _call_name(node.func, imports)
    args = [evaluate(arg, resolve, imports) for arg in node.args]
    kwargs = {kw.arg: evaluate(kw.value, resolve, imports) for kw in node.keywords if kw.arg is not None}
    if len(kwargs) != len(node.keywords):
        raise NotConstant("**kwargs")
    try:
        if name == "add_date" or name.endswith(".add_date"):
            return add_date(*args, **kwargs)
        if name in ("round", "abs"):
            return {"round": round, "abs": abs}[name](*args, **kwargs)
        if name == "ibis.date" and len(args) == 1 and isinstance(args[0], str) and not kwargs:
            return datetime.date.fromisoformat(args[0])
        if name in ("ibis.date", "datetime.date") and len(args) == 3 and not kwargs:
            return datetime.date(*args)
        if name == "ibis.literal" and args:
            return args[0]
    except (TypeError, ValueError) as error:
        raise NotConstant(f"{name}: {error}") from error
    raise NotConstant(f"call of {name or 'an expression'}")


def as_text(value) -> list[str]:
    """``value`` as constant texts: strings as they are, dates ``YYYY-MM-DD``, numbers by ``repr``
    (``0.06``, ``24``); tuples flattened. ``None`` and booleans give none: in DataFrame code a
    boolean is a flag (``union(t, distinct=True)``), not a value the plan compares with."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, tuple):
        return [text for element in value for text in as_text(element)]
    if isinstance(value, datetime.date):
        return [value.isoformat()]
    if isinstance(value, (str, int, float)):
        return [value if isinstance(value, str) else repr(value)]
    return []
