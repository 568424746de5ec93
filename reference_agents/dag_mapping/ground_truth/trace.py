"""Run ibis's TPC query functions on connection-less tables while recording every DataFrame call
(filter, join, group_by/agg, order_by, limit, select...): where in the source it was made, what it
added to the query, and the expression it returned; then compile each query to DuckDB SQL."""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
from ibis.expr.types.groupby import GroupedTable
from ibis.expr.types.joins import Join

from .facts import Facts, call_facts, values_facts
from .queries import QueryFunction, load_query_functions

CALL_KINDS = {
    "filter": "filter",
    "having": "filter",
    **dict.fromkeys(
        (
            "join",
            "inner_join",
            "left_join",
            "right_join",
            "outer_join",
            "semi_join",
            "anti_join",
            "cross_join",
            "asof_join",
            "any_inner_join",
            "any_left_join",
        ),
        "join",
    ),
    **dict.fromkeys(("group_by", "aggregate", "agg"), "aggregate"),
    **dict.fromkeys(("select", "mutate", "relocate", "rename", "drop"), "project"),
    "order_by": "order",
    **dict.fromkeys(("limit", "head"), "limit"),
    "distinct": "distinct",
    **dict.fromkeys(("union", "intersect", "difference"), "union"),
}
"""ibis method name -> call kind (the same names as plan :class:`OperatorKind` values)."""

# Only these classes' own attributes are patched: Join re-defines most Table methods, so
# patching Table alone would miss calls on a join.
_PATCHED = (ir.Table, Join, GroupedTable)


class TraceError(RuntimeError):
    """A query function that raised while building its expression, or whose expression ibis
    could not compile to SQL; the message names the query and the cause."""


@dataclass
class CallRecord:
    """One DataFrame call made by a query function's own code (a relation that a value method
    such as ``isin`` or ``as_scalar`` builds is not a call: it belongs, as a subquery, to the
    call it is an argument of).

    ``start_line``/``start_col`` are where the METHOD NAME token starts (for ``a.b(...)`` the
    ``b``; for a plain function call such as ``union(a, b)``, the call's start), ``end_line``/
    ``end_col`` where the call's closing parenthesis ends: lines 1-based, columns 0-based UTF-8
    byte offsets as in :mod:`ast`. ``path`` is relative to the TPC suite root, ``symbol`` the
    enclosing ``def`` (``test_04.profile`` for a nested one; lambdas and comprehensions belong to
    their ``def``). ``receiver`` and ``result`` are the ibis objects the call got and returned,
    ``inputs`` its table arguments (a join's right side); ``receiver_call`` is the index of the
    recorded call that returned the receiver, if any (``agg`` -> its ``group_by``, ``limit`` ->
    its ``order_by``). ``facts`` is what the call added (:func:`call_facts`), ``tables`` the
    base tables the result reads (subqueries included), ``output_columns`` the result's column
    names (lower case; empty for a grouping); ``over_spans`` the spans, same convention, of the
    ``.over(...)`` calls written inside the call's arguments (window functions it defines)."""

    index: int
    method: str
    kind: str
    path: str
    symbol: str
    start_line: int
    start_col: int
    end_line: int
    end_col: int
    receiver: object
    result: object
    inputs: tuple
    over_spans: tuple[tuple[int, int, int, int], ...] = ()
    receiver_call: int | None = None
    facts: Facts = Facts()
    tables: tuple[str, ...] = ()
    output_columns: tuple[str, ...] = ()

    @property
    def result_op(self) -> ops.Node:
        """The operation the call returned (a grouping's: the table it groups)."""
        return _op(self.result)


@dataclass
class TracedQuery:
    """A query function run once: its expression, DuckDB SQL and recorded calls in completion
    order (a call whose arguments make calls completes after them)."""

    query: QueryFunction
    expr: ir.Table
    sql: str
    calls: list[CallRecord]


def trace_query(query: QueryFunction, schemas: dict[str, ibis.Schema]) -> TracedQuery:
    """Run ``query`` on ``ibis.table(schemas[p], name=p)`` for each parameter ``p``, recording
    its calls, and compile the result with ``ibis.to_sql(dialect="duckdb")``. Raises TraceError if
    it fails to run or compile, KeyError if a parameter has no schema."""
    tables = {p: ibis.table(schemas[p], name=p) for p in query.params}
    with recording(query) as calls:
        try:
            expr = query.func(**tables)
        except Exception as exc:
            raise TraceError(f"{query.rel_path}::{query.name} failed to run: {exc!r}") from exc
    try:
        sql = ibis.to_sql(expr, dialect="duckdb")
    except Exception as exc:
        raise TraceError(f"{query.rel_path}::{query.name} failed to compile: {exc!r}") from exc
    _link(calls)
    return TracedQuery(query, expr, sql, calls)


def trace_suite(
    suite: str, schemas: dict[str, ibis.Schema]
) -> tuple[dict[int, TracedQuery], dict[int, str]]:
    """Trace every query of ``suite``: (traced by query id, failure message by query id)."""
    traced: dict[int, TracedQuery] = {}
    failures: dict[int, str] = {}
    for query_id, query in load_query_functions(suite).items():
        try:
            traced[query_id] = trace_query(query, schemas)
        except TraceError as exc:
            failures[query_id] = str(exc)
    return traced, failures


@contextmanager
def recording(query: QueryFunction) -> Iterator[list[CallRecord]]:
    """Patch the DataFrame methods of Table, Join and GroupedTable so that calls made from
    ``query``'s source file are appended to the yielded list; restores them on exit. Calls ibis
    makes internally (``agg`` calling ``aggregate``...) are not recorded. The patch is process
    wide: do not build other ibis expressions on other threads meanwhile."""
    calls: list[CallRecord] = []
    spans = _call_spans(query.path)
    originals = [
        (cls, name, cls.__dict__[name])
        for cls in _PATCHED
        for name in CALL_KINDS
        if name in cls.__dict__
    ]
    for cls, name, original in originals:
        setattr(cls, name, _recorder(name, original, query, spans, calls))
    try:
        yield calls
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


def _recorder(name, original, query: QueryFunction, spans: _CallSpans, calls: list[CallRecord]):
    source = str(query.path)

    @functools.wraps(original)
    def recorded(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        frame = _query_frame(sys._getframe(1), source)
        site = spans.site(frame, name) if frame is not None else None
        if site is not None:
            (start_line, start_col, end_line, end_col), over_spans = site
            calls.append(
                CallRecord(
                    index=len(calls),
                    method=name,
                    kind=CALL_KINDS[name],
                    path=query.rel_path,
                    symbol=_symbol(frame.f_code.co_qualname),
                    start_line=start_line,
                    start_col=start_col,
                    end_line=end_line,
                    end_col=end_col,
                    receiver=self,
                    result=result,
                    inputs=tuple(a for a in (*args, *kwargs.values()) if isinstance(a, ir.Table)),
                    over_spans=over_spans,
                )
            )
        return result

    return recorded


def _query_frame(frame, source: str):
    """The frame of the query code that made this call, or None when an ibis method we patched
    made it (a frame of this module comes first) or code outside the query file did."""
    while frame is not None:
        if frame.f_code.co_filename == __file__:
            return None
        if frame.f_code.co_filename == source:
            return frame
        frame = frame.f_back
    return None


def _symbol(qualname: str) -> str:
    """``test_04.<locals>.profile.<locals>.<lambda>`` -> ``test_04.profile``."""
    return ".".join(part for part in qualname.split(".") if not part.startswith("<"))


@functools.cache
def _call_spans(path: Path) -> _CallSpans:
    return _CallSpans(path)


class _CallSpans:
    """Maps the call instruction a frame is executing to its call chunk span (method name token
    start .. closing parenthesis end). Python 3.11 positions a call instruction from the start of
    the receiver chain (or from the method name when the chain spans lines), but always ends it
    at the closing parenthesis, so the ``ast.Call`` is found by its end."""

    def __init__(self, path: Path):
        tree = ast.parse(path.read_text(), filename=str(path))
        self._by_end = {
            (node.end_lineno, node.end_col_offset): node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
        }

    def site(self, frame, method: str):
        """The (start_line, start_col, end_line, end_col) of the call ``frame`` is executing, and
        those of the ``.over(...)`` calls inside its arguments; None when that call is another
        method (``isin``, ``as_scalar``: a value method that built the relation as a subquery of
        the call it is an argument of, which is where its facts go). A plain function call
        (``union(a, b)`` imported from ibis) is its own site."""
        line, end_line, col, end_col = list(frame.f_code.co_positions())[frame.f_lasti // 2]
        call = self._by_end.get((end_line, end_col))
        if call is None:
            return (line, col, end_line, end_col), ()
        if isinstance(call.func, ast.Attribute) and call.func.attr != method:
            return None
        arguments = [*call.args, *(keyword.value for keyword in call.keywords)]
        overs = tuple(
            _span(node)
            for argument in arguments
            for node in ast.walk(argument)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "over"
        )
        return _span(call), overs


def _span(call: ast.Call) -> tuple[int, int, int, int]:
    """From the method name token (or the call's start for a plain function call) to the end."""
    func = call.func
    if isinstance(func, ast.Attribute):
        start = (func.end_lineno, func.end_col_offset - len(func.attr.encode()))
    else:
        start = (call.lineno, call.col_offset)
    return (*start, call.end_lineno, call.end_col_offset)


def _op(obj):
    return obj.table if isinstance(obj, GroupedTable) else obj.op()


def _key(obj):
    """What identifies a call's result: a grouping (not an op) by identity, a table by its op."""
    return id(obj) if isinstance(obj, GroupedTable) else obj.op()


def _link(calls: list[CallRecord]) -> None:
    """Fill ``receiver_call``, ``facts``, ``tables`` and ``output_columns`` once every call of
    the query is known (a call's facts stop at relations other calls built)."""
    made_by = {_key(call.result): call.index for call in calls}
    built = {call.result.op() for call in calls if isinstance(call.result, ir.Table)}
    for call in calls:
        call.receiver_call = made_by.get(_key(call.receiver))
        inputs = [_op(call.receiver), *(t.op() for t in call.inputs)]
        call.tables = tuple(sorted({t.name.lower() for t in call.result_op.find(ops.UnboundTable)}))
        if isinstance(call.result, GroupedTable):
            call.facts = _grouped_facts(call, built)
        else:
            call.facts = call_facts(call.kind, inputs, call.result.op(), built - {call.result.op()})
            call.output_columns = tuple(name.lower() for name in call.result.op().schema.names)


def _grouped_facts(call: CallRecord, built: set) -> Facts:
    """``group_by`` names its keys; ``having`` on a grouping, its new conditions."""
    result: GroupedTable = call.result
    if call.method == "having" and isinstance(call.receiver, GroupedTable):
        return values_facts(result.havings[len(call.receiver.havings) :], built)
    return values_facts([*result.groupings, *result.havings], built)
