"""What the three Spark plan layouts share: operator names and their kinds, an operator line, the tree
from indented lines, and the node an operator's fields make."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from reference_agents.dag_mapping.plans.expression_facts import ExpressionFacts
from reference_agents.dag_mapping.plans.model import OperatorKind, PlanFormatError, PlanNode
from reference_agents.dag_mapping.plans.spark_expressions import scan, scan_pushed_filters, split_top_level

FORMAT = "spark_text"

K = OperatorKind
OPERATOR_KINDS: dict[str, OperatorKind] = {
    "FileScan": K.SCAN,
    "Scan": K.SCAN,
    "BatchScan": K.SCAN,
    "InMemoryTableScan": K.SCAN,
    "HiveTableScan": K.SCAN,
    "RowDataSourceScan": K.SCAN,
    "Filter": K.FILTER,
    "Project": K.PROJECT,
    "BroadcastHashJoin": K.JOIN,
    "ShuffledHashJoin": K.JOIN,
    "SortMergeJoin": K.JOIN,
    "BroadcastNestedLoopJoin": K.JOIN,
    "CartesianProduct": K.JOIN,
    "HashAggregate": K.AGGREGATE,
    "SortAggregate": K.AGGREGATE,
    "ObjectHashAggregate": K.AGGREGATE,
    "Sort": K.ORDER,
    "TakeOrderedAndProject": K.TOP_N,
    "CollectLimit": K.LIMIT,
    "GlobalLimit": K.LIMIT,
    "LocalLimit": K.LIMIT,
    "Window": K.WINDOW,
    "Union": K.UNION,
    "Exchange": K.OTHER,
    "BroadcastExchange": K.OTHER,
    "ReusedExchange": K.OTHER,
    "ColumnarToRow": K.OTHER,
    "WholeStageCodegen": K.OTHER,
    "InputAdapter": K.OTHER,
    "AdaptiveSparkPlan": K.OTHER,
    "ResultQueryStage": K.OTHER,
    "ShuffleQueryStage": K.OTHER,
    "BroadcastQueryStage": K.OTHER,
    "AQEShuffleRead": K.OTHER,
    "Subquery": K.OTHER,
    "SubqueryBroadcast": K.OTHER,
    "ReusedSubquery": K.OTHER,
    "LocalTableScan": K.OTHER,
    # rows per grouping set of ROLLUP/CUBE, and the rank limit the optimiser pushes below a window
    "Expand": K.OTHER,
    "WindowGroupLimit": K.OTHER,
}

JOIN_TYPES = frozenset(
    "Inner Cross LeftOuter RightOuter FullOuter LeftSemi LeftAnti ExistenceJoin".split()
)
# Fields that only restate other operators' output or describe storage: never scanned.
_UNSCANNED = frozenset(
    {"Input", "Results", "Aggregate Attributes", "ReadSchema", "Location", "Batched", "Format", "Join type"}
)
_BUFFER_NAMES = frozenset({"sum", "count", "isempty", "min", "max", "avg", "buf"})
_AGGREGATE_FIELDS = frozenset({"Functions", "functions", "references"})
_AGGREGATE_PHASES = re.compile(r"^(?:partial_|merge_|finalmerge_)")

MARKED = re.compile(r"^(?P<prefix>(?::  |   )*)(?P<marker>[+:]- )(?P<text>.*)$")
_CODEGEN = re.compile(r"^\*(?:\((?P<stage>\d+)\))? ")
# Spark names its physical operators in PascalCase (HashAggregate, FileScan)
_NAME = re.compile(r"^(?P<name>[A-Z][A-Za-z0-9_]*)(?P<rest>.*)$", re.DOTALL)
SECTION = re.compile(r"^== (?P<title>.+) ==$")
DETAIL_HEADER = re.compile(r"^\((?P<id>\d+)\) (?P<text>.*)$")
_SCAN_TARGET = re.compile(r"^ ?(?:(?P<format>[a-z]+) )?(?P<table>[A-Za-z_`][\w`$]*(?:\.[A-Za-z_`][\w`$]*)+)?")
METADATA_SPLIT = re.compile(r", (?=[A-Z][A-Za-z]*: )")


def fail(problem: str) -> PlanFormatError:
    """The error for a malformed plan, its message starting ``spark_text:``."""
    return PlanFormatError(f"{FORMAT}: {problem}")


@dataclass
class Line:
    """One operator line: its 1-based number in the text, the column its text starts at, and the text
    without tree markers. ``header`` lines (``== Final Plan ==``) sort before operators at their column."""

    number: int
    column: int
    text: str
    header: bool = False


@dataclass
class Operator:
    """An operator before it becomes a PlanNode: its name, the ``(key, text)`` fields to read
    columns and constants from, its detail and tables, and whether expression ids were stripped."""

    name: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    detail: dict = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)
    ids_stripped: bool = False


def tree_lines(lines: list[str], first_number: int) -> list[Line]:
    """Operator lines of a tree drawn with ``+-``/``:-`` markers, numbered from ``first_number``;
    blank lines skipped, a line's column is where its text starts after the markers."""
    result = []
    for number, raw in enumerate(lines, start=first_number):
        line = raw.rstrip()
        if not line.strip():
            continue
        marked = MARKED.match(line)
        if marked:
            column, body = len(marked["prefix"]) + 3, marked["text"]
        else:
            body = line.lstrip(" ")
            column = len(line) - len(body)
        header = bool(SECTION.match(body))
        result.append(Line(number, column, body, header))
    return result


def assemble(lines: list[Line], read: Callable[[Line], PlanNode], step: int, max_jump: int) -> PlanNode:
    """Tree from operator lines: a line's parent is the nearest line above it that starts further
    left. ``read(line) -> PlanNode`` makes each node."""
    stack: list[tuple[tuple[int, int], PlanNode]] = []
    root = None
    previous_column = 0
    for line in lines:
        where = f"bad indentation at line {line.number}"
        if line.column % step:
            raise fail(f"{where}: column {line.column} is not a multiple of {step}")
        if line.column - previous_column > max_jump:
            raise fail(f"{where}: {line.column - previous_column} columns deeper than the line above")
        previous_column = line.column
        key = (line.column, 0 if line.header else 1)
        node = read(line)
        while stack and stack[-1][0] >= key:
            stack.pop()
        if stack:
            stack[-1][1].children.append(node)
        elif root is None:
            root = node
        else:
            raise fail(f"{where}: a second root {line.text!r}")
        stack.append((key, node))
    return root


def plan_node(op: Operator) -> PlanNode:
    """The node of an operator: its kind, and columns, constants and aggregates read from its fields
    (none for engine wrappers of kind ``other``)."""
    kind = OPERATOR_KINDS.get(op.name, K.OTHER)
    node = PlanNode(node_id="", operator=op.name, kind=kind, tables=op.tables, detail=op.detail)
    if kind is K.OTHER:
        return node
    for key, value in op.fields:
        if key in _UNSCANNED or value.strip() == "None":
            continue
        if key == "PushedFilters":
            facts = scan_pushed_filters(value)
        else:
            if key in ("Arguments", "arguments"):
                value = _drop_flags(value, keep_numbers=kind in (K.LIMIT, K.TOP_N))
            facts = scan(value, ids_stripped=op.ids_stripped)
        _merge(node, facts)
        if kind is K.AGGREGATE and key in _AGGREGATE_FIELDS:
            node.aggregates += [_AGGREGATE_PHASES.sub("", c.name) for c in facts.calls if c.outermost]
        elif kind is K.WINDOW:
            node.aggregates += [c.name for c in facts.calls if c.windowed]
    node.aggregates = list(dict.fromkeys(node.aggregates))
    if op.ids_stripped and kind is K.AGGREGATE:
        # without ids, Spark's aggregation buffers (sum#8, isEmpty#9, count#17) look like columns
        node.columns = [c for c in node.columns if c not in _BUFFER_NAMES]
    return node


def _merge(node: PlanNode, facts: ExpressionFacts) -> None:
    node.columns += [c for c in facts.columns if c not in node.columns]
    node.constants += [c for c in facts.constants if c not in node.constants]


def _drop_flags(arguments: str, keep_numbers: bool) -> str:
    # Top-level arguments that are one bare word or number are settings (join type, build side,
    # global sort, spill frequency), not expressions; a limit's number is its one real argument.
    kept = []
    for argument in split_top_level(arguments):
        argument = argument.strip()
        bare = re.fullmatch(r"[A-Za-z_]\w*|-?\d+", argument)
        if not bare or (keep_numbers and argument.lstrip("-").isdigit()):
            kept.append(argument)
    return ", ".join(kept)


def drop_truncated(value: str) -> str:
    """``value`` without the item Spark cut off when it shortened a long scan field with ``...``."""
    # Spark cuts long scan metadata at 100 characters and appends "...": drop the cut-off list item.
    if not value.endswith("..."):
        return value
    items = split_top_level(value.removeprefix("["))
    return "[" + ", ".join(item.strip() for item in items[:-1]) + "]"


def split_name(text: str, number: int) -> tuple[str, str, dict]:
    """(operator name, the rest, detail) of an operator line's text after tree markers."""
    detail: dict = {}
    codegen = _CODEGEN.match(text)
    if codegen:
        text = text[codegen.end() :]
        detail["codegen_stage"] = int(codegen["stage"]) if codegen["stage"] else True
    named = _NAME.match(text)
    if not named:
        raise fail(f"line {number} has no operator name: {text!r}")
    return named["name"], named["rest"], detail


def scan_target(op: Operator, rest: str) -> str:
    """Take ``parquet spark_catalog.default.lineitem`` off the front of a scan's text: the format
    into detail, the table's last name part into ``tables``; return what follows."""
    target = _SCAN_TARGET.match(rest)
    if target["format"]:
        op.detail["format"] = target["format"]
    if target["table"]:
        op.tables.append(target["table"].rsplit(".", 1)[-1].strip("`").lower())
    return rest[target.end() :]


def section_node(line: Line) -> PlanNode:
    """Node for an adaptive plan's ``== Final Plan ==`` / ``== Initial Plan ==`` line."""
    return PlanNode(node_id="", operator=SECTION.match(line.text)["title"], kind=K.OTHER)
