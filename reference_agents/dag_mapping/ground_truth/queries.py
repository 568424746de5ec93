"""ibis's TPC query functions (``test_NN`` in the installed wheel's
``ibis/backends/tests/tpc/{h,ds}/test_queries.py``), loaded without importing the test module
(it imports pytest and test-only helpers), and the TPC table schemas to call them with."""

from __future__ import annotations

import __future__
import ast
import builtins
import datetime
import dis
import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
from dateutil.relativedelta import relativedelta
from ibis.backends.sql.datatypes import DuckDBType

TPC_DIR = Path(ibis.__file__).parent / "backends" / "tests" / "tpc"
"""The root of the code repository the bench maps plans into; truth paths are relative to it."""

SUITES = ("h", "ds")

_QUERY_NAME = re.compile(r"^test_(\d\d)$")
# Imports for the pytest harness only (the query bodies never use them); ``__future__`` is given
# to ``compile`` as a flag instead.
_SKIPPED_MODULES = ("__future__", "pytest", "ibis.backends.tests")


class QueryLoadError(ValueError):
    """A suite name that is not ``"h"``/``"ds"``, or a query function that needs a name the
    loader does not provide (the message names the function and the names)."""


@dataclass(frozen=True)
class QueryFunction:
    """One TPC query as ibis writes it.

    ``func(**tables)`` returns the query's ``ibis.Table``; ``params`` are its parameter names,
    which are TPC table names. ``path`` is the absolute source file (the one the function's code
    objects carry, so their positions are real), ``rel_path`` the same relative to
    :data:`TPC_DIR` (posix), ``start_line``/``end_line`` the ``def`` line and last line (1-based,
    decorators excluded)."""

    query_id: int
    name: str
    func: Callable[..., ir.Table]
    params: tuple[str, ...]
    path: Path
    rel_path: str
    start_line: int
    end_line: int


def query_file(suite: str) -> Path:
    """The installed ``test_queries.py`` of ``suite`` ("h" or "ds"); QueryLoadError otherwise."""
    if suite not in SUITES:
        raise QueryLoadError(f"unknown TPC suite {suite!r}; known: {', '.join(SUITES)}")
    return TPC_DIR / suite / "test_queries.py"


def add_date(datestr: str, dy: int = 0, dm: int = 0, dd: int = 0) -> ir.DateScalar:
    """``datestr`` (ISO date) shifted by years/months/days, as an ibis date literal; the same
    arithmetic as ``add_date`` in ``ibis/backends/tests/tpc/conftest.py``."""
    shifted = datetime.date.fromisoformat(datestr) + relativedelta(years=dy, months=dm, days=dd)
    return ibis.date(shifted.isoformat())


def load_query_functions(suite: str) -> dict[int, QueryFunction]:
    """Every ``test_NN`` function of ``suite``, keyed by NN.

    Each ``def`` is taken from the parsed file with its decorators stripped and compiled alone
    with the real file name and line numbers, into a namespace holding the module's own imports
    (minus pytest and ``ibis.backends.tests``) and :func:`add_date`. Raises QueryLoadError if a
    function reads a global that namespace lacks."""
    path = query_file(suite)
    tree = ast.parse(path.read_text(), filename=str(path))
    namespace = _namespace(tree, path)
    loaded: dict[int, QueryFunction] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not (match := _QUERY_NAME.match(node.name)):
            continue
        node.decorator_list = []
        code = compile(
            ast.Module(body=[node], type_ignores=[]),
            str(path),
            "exec",
            flags=__future__.annotations.compiler_flag,
            dont_inherit=True,
        )
        _check_globals(node.name, code, namespace)
        exec(code, namespace)
        loaded[int(match.group(1))] = QueryFunction(
            query_id=int(match.group(1)),
            name=node.name,
            func=namespace[node.name],
            params=tuple(arg.arg for arg in node.args.args),
            path=path,
            rel_path=path.relative_to(TPC_DIR).as_posix(),
            start_line=node.lineno,
            end_line=node.end_lineno,
        )
    return loaded


def tpc_schemas(conn) -> dict[str, ibis.Schema]:
    """The ibis schema of every table in the main schema of DuckDB connection ``conn`` (DuckDB
    types mapped by ibis's own DuckDB type parser; NOT NULL columns non-nullable)."""
    rows = conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()
    columns: dict[str, dict] = {}
    for table, column, data_type, nullable in rows:
        columns.setdefault(table, {})[column] = DuckDBType.from_string(
            data_type, nullable=nullable == "YES"
        )
    return {table: ibis.schema(cols) for table, cols in columns.items()}


def _namespace(tree: ast.Module, path: Path) -> dict:
    imports = [
        node
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom) and not _test_only(node)
    ]
    namespace = {"__name__": f"tpc_queries_{path.parent.name}", "__builtins__": builtins}
    exec(compile(ast.Module(body=imports, type_ignores=[]), str(path), "exec"), namespace)
    namespace["add_date"] = add_date
    return namespace


def _test_only(node: ast.Import | ast.ImportFrom) -> bool:
    modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
    return any(
        module == prefix or module.startswith(prefix + ".")
        for module in modules
        for prefix in _SKIPPED_MODULES
    )


def _check_globals(name: str, code: types.CodeType, namespace: dict) -> None:
    missing = sorted(
        g for g in _global_loads(code) if g not in namespace and not hasattr(builtins, g)
    )
    if missing:
        raise QueryLoadError(f"{name} reads globals the loader does not provide: {missing}")


def _global_loads(code: types.CodeType) -> set[str]:
    names = {
        ins.argval for ins in dis.get_instructions(code) if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")
    }
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_loads(const)
    return names
