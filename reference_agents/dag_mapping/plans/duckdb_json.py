"""DuckDB ``EXPLAIN (FORMAT JSON)`` plans (DuckDB 1.5) as :class:`PlanNode` trees.

Each operator is ``{"name": "HASH_JOIN", "children": [...], "extra_info": {...}}``; ``extra_info``
holds strings or lists of strings under keys such as ``Table``, ``Projections``, ``Filters``,
``Expression``, ``Conditions``, ``Join Type``, ``Groups``, ``Aggregates``, ``Order By``, ``Top``,
``Estimated Cardinality``."""

from __future__ import annotations

import itertools
import json

from reference_agents.dag_mapping.plans.duckdb_expressions import scan
from reference_agents.dag_mapping.plans.model import OperatorKind, PlanFormatError, PlanNode

FORMAT = "duckdb_json"

K = OperatorKind
# Every operator name met in the 22 TPC-H and 99 TPC-DS plans, plus the other physical operators the
# same DuckDB prints for common SQL (LIMIT/OFFSET, windows without partitions, range and as-of joins,
# UNNEST, recursive CTEs).
OPERATOR_KINDS: dict[str, OperatorKind] = {
    "SEQ_SCAN": K.SCAN,
    "TABLE_SCAN": K.SCAN,
    "FILTER": K.FILTER,
    "PROJECTION": K.PROJECT,
    "HASH_JOIN": K.JOIN,
    "NESTED_LOOP_JOIN": K.JOIN,
    "BLOCKWISE_NL_JOIN": K.JOIN,
    "PIECEWISE_MERGE_JOIN": K.JOIN,
    "IE_JOIN": K.JOIN,
    "ASOF_JOIN": K.JOIN,
    "LEFT_DELIM_JOIN": K.JOIN,
    "RIGHT_DELIM_JOIN": K.JOIN,
    "DELIM_JOIN": K.JOIN,
    "CROSS_PRODUCT": K.JOIN,
    "POSITIONAL_SCAN": K.JOIN,
    "HASH_GROUP_BY": K.AGGREGATE,
    "PERFECT_HASH_GROUP_BY": K.AGGREGATE,
    "UNGROUPED_AGGREGATE": K.AGGREGATE,
    "ORDER_BY": K.ORDER,
    "TOP_N": K.TOP_N,
    "LIMIT": K.LIMIT,
    "STREAMING_LIMIT": K.LIMIT,
    "LIMIT_PERCENT": K.LIMIT,
    "WINDOW": K.WINDOW,
    "STREAMING_WINDOW": K.WINDOW,
    "UNION": K.UNION,
    # reads of intermediate results and optimiser artefacts: no SQL clause of their own
    "CTE": K.OTHER,
    "CTE_SCAN": K.OTHER,
    "REC_CTE": K.OTHER,
    "REC_CTE_SCAN": K.OTHER,
    "DELIM_SCAN": K.OTHER,
    "COLUMN_DATA_SCAN": K.OTHER,
    "DUMMY_SCAN": K.OTHER,
    "EMPTY_RESULT": K.OTHER,
    "UNNEST": K.OTHER,
}

# extra_info keys whose values are expressions (columns, constants, calls); the others (Table, Type,
# Join Type, Estimated Cardinality, CTE/Delim indexes...) are kept in ``detail`` only.
_EXPRESSION_KEYS = (
    "Projections", "Filters", "Expression", "Conditions", "Groups", "Aggregates", "Order By", "Top", "Offset"
)

# DuckDB's internal names for the aggregates a query writes
_AGGREGATE_NAMES = {"count_star": "count", "sum_no_overflow": "sum"}


def _fail(problem: str) -> PlanFormatError:
    return PlanFormatError(f"{FORMAT}: {problem}")


def parse_duckdb_json(plan: str | list | dict) -> PlanNode:
    """Read a DuckDB JSON plan: the JSON text, the parsed list (one root operator, as ``EXPLAIN
    (FORMAT JSON)`` prints it) or the root operator dict.

    Nodes get ``node_id`` ``"n0"``, ``"n1"``... in pre-order; ``operator`` is DuckDB's name, ``kind``
    from :data:`OPERATOR_KINDS` (a table function scan such as ``READ_PARQUET`` -> scan; any other
    unknown name -> other). ``tables`` from ``Table`` (last part of ``memory.main.lineitem``);
    ``columns``/``constants`` from the expression keys (a scan's pushed-down ``Filters`` included;
    ``#0`` references skipped); ``aggregates`` for aggregate operators from ``Aggregates``
    (``count_star`` -> ``count``, ``sum_no_overflow`` -> ``sum``) and for window operators the window
    functions (``rank``, ``sum``...); ``detail`` is ``extra_info`` as given.

    Raises :class:`PlanFormatError` (message starting ``duckdb_json:``) for text that is not JSON, an
    empty list or one with several roots, an operator that is not an object, has no string ``name``,
    or has ``children`` that is not a list or ``extra_info`` that is not an object."""
    if isinstance(plan, str):
        try:
            plan = json.loads(plan)
        except json.JSONDecodeError as exc:
            raise _fail(f"not JSON ({exc})") from None
    if isinstance(plan, list):
        if len(plan) != 1:
            raise _fail(f"expected a list with one root operator, got {len(plan)} items")
        plan = plan[0]
    return _node(plan, "root", itertools.count())


def _node(raw: object, path: str, counter: itertools.count) -> PlanNode:
    if not isinstance(raw, dict):
        raise _fail(f"operator at {path} is {type(raw).__name__}, not an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(f'operator at {path} has no "name"')
    name = name.strip()
    children = raw.get("children", [])
    if not isinstance(children, list):
        raise _fail(f'"children" of {name} at {path} is {type(children).__name__}, not a list')
    info = raw.get("extra_info", {})
    if not isinstance(info, dict):
        raise _fail(f'"extra_info" of {name} at {path} is {type(info).__name__}, not an object')

    kind = OPERATOR_KINDS.get(name) or (K.SCAN if "Function" in info or "Table" in info else K.OTHER)
    node = PlanNode(node_id=f"n{next(counter)}", operator=name, kind=kind, detail=dict(info))
    if isinstance(info.get("Table"), str):
        node.tables.append(info["Table"].rsplit(".", 1)[-1].strip('"').lower())
    for key in _EXPRESSION_KEYS:
        if key in info:
            facts = scan(_text(info[key]))
            node.columns += [c for c in facts.columns if c not in node.columns]
            node.constants += [c for c in facts.constants if c not in node.constants]
            if key == "Aggregates" and kind is K.AGGREGATE:
                node.aggregates += [_AGGREGATE_NAMES.get(c.name, c.name) for c in facts.calls if c.outermost]
            elif key == "Projections" and kind is K.WINDOW:
                node.aggregates += [c.name for c in facts.calls if c.windowed]
    node.aggregates = list(dict.fromkeys(node.aggregates))
    node.children = [_node(child, f"{path}/{name}[{i}]", counter) for i, child in enumerate(children)]
    return node


def _text(value: object) -> str:
    # DuckDB splits a value into list items at line breaks (one projection a line, and a multi-line
    # literal over several); joining with newlines restores the text.
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return str(value)
