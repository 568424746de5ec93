"""Spark physical plans as text, read into :class:`PlanNode` trees. Three layouts:

* the default tree of ``df.explain()`` / ``EXPLAIN`` (also the physical part of ``EXPLAIN EXTENDED``):
  one operator a line with its arguments, children drawn with ``+-``/``:-`` markers three columns
  deeper, subqueries six columns deeper under the operator that uses them, ``*(n)`` before
  operators compiled by whole-stage codegen::

      *(2) HashAggregate(keys=[l_returnflag#8], functions=[sum(l_quantity#4)])
      +- Exchange hashpartitioning(l_returnflag#8, 200), ENSURE_REQUIREMENTS, [plan_id=40]
         +- *(1) Filter (isnotnull(l_shipdate#16) AND (l_shipdate#16 <= 1998-09-02))
            +- FileScan parquet default.lineitem[l_quantity#4,...] Batched: true, PushedFilters: [...]

* ``EXPLAIN FORMATTED`` (plan-stability ``explain.txt``): the same tree with ``(id)`` after each
  name, then one ``(id) Name`` block of ``Key [n]: value`` lines per operator, then an optional
  ``===== Subqueries =====`` part whose trees hang under their hosting operator;
* plan-stability ``simplified.txt``: two spaces of indentation a level, expression ids stripped.

Engine wrappers (exchanges, ``ColumnarToRow``, ``WholeStageCodegen``, ``InputAdapter``,
``AdaptiveSparkPlan`` and its query stages, subqueries) are kept as nodes of kind ``other`` and carry
no columns or constants. Of an adaptive plan that ran (``isFinalPlan=true``), the ``== Final Plan ==``
section is kept as a node of kind ``other`` and the ``== Initial Plan ==`` section is dropped."""

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

_JOIN_TYPES = frozenset(
    "Inner Cross LeftOuter RightOuter FullOuter LeftSemi LeftAnti ExistenceJoin".split()
)
# Fields that only restate other operators' output or describe storage: never scanned.
_UNSCANNED = frozenset(
    {"Input", "Results", "Aggregate Attributes", "ReadSchema", "Location", "Batched", "Format", "Join type"}
)
_BUFFER_NAMES = frozenset({"sum", "count", "isempty", "min", "max", "avg", "buf"})
_AGGREGATE_FIELDS = frozenset({"Functions", "functions", "references"})
_AGGREGATE_PHASES = re.compile(r"^(?:partial_|merge_|finalmerge_)")

_MARKED = re.compile(r"^(?P<prefix>(?::  |   )*)(?P<marker>[+:]- )(?P<text>.*)$")
_CODEGEN = re.compile(r"^\*(?:\((?P<stage>\d+)\))? ")
_NAME = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)(?P<rest>.*)$", re.DOTALL)
_SECTION = re.compile(r"^== (?P<title>.+) ==$")
_FORMATTED_ID = re.compile(r"^(?P<text>.*?) \((?P<id>\d+)\)(?:, (?P<extra>.*))?$")
_DETAIL_HEADER = re.compile(r"^\((?P<id>\d+)\) (?P<text>.*)$")
_DETAIL_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ]*?)(?: \[\d+\])? ?: ?(?P<value>.*)$")
_SUBQUERY_HEADER = re.compile(r"^Subquery:\d+ Hosting operator id = (?P<host>\d+) Hosting Expression = (?P<expr>.*)$")
_SCAN_TARGET = re.compile(r"^ ?(?:(?P<format>[a-z]+) )?(?P<table>[A-Za-z_`][\w`$]*(?:\.[A-Za-z_`][\w`$]*)+)?")
_METADATA_SPLIT = re.compile(r", (?=[A-Z][A-Za-z]*: )")


def _fail(problem: str) -> PlanFormatError:
    return PlanFormatError(f"{FORMAT}: {problem}")


@dataclass
class _Line:
    """One operator line: its 1-based number in the text, the column its text starts at, and the text
    without tree markers. ``header`` lines (``== Final Plan ==``) sort before operators at their column."""

    number: int
    column: int
    text: str
    header: bool = False


@dataclass
class _Operator:
    """An operator before it becomes a PlanNode: its name, the ``(key, text)`` fields to read
    columns and constants from, its detail and tables, and whether expression ids were stripped."""

    name: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    detail: dict = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)
    ids_stripped: bool = False


def parse_spark_text(text: str) -> PlanNode:
    """Read a Spark physical plan in any of the three layouts (see the module doc); with
    ``EXPLAIN EXTENDED`` output only the ``== Physical Plan ==`` part is read.

    Nodes get ``node_id`` ``"n0"``, ``"n1"``... in pre-order; ``operator`` is Spark's operator name
    (``HashAggregate``, ``FileScan``), ``kind`` from :data:`OPERATOR_KINDS` (others: ``other``).
    ``tables``: the last part of the scanned table's name; ``columns``: attribute names without their
    ``#id``; ``constants``: literals as printed (dates ``YYYY-MM-DD``); ``aggregates``: aggregate
    functions with ``partial_``/``merge_`` phases removed, or a window's functions. ``detail`` holds the
    operator's fields (``Condition``, ``Keys``, ``PushedFilters``...), ``codegen_stage``,
    ``operator_id`` (formatted layout) and ``join_type``.

    Raises :class:`PlanFormatError` (message starting ``spark_text:``) when the text holds no operator
    line, when indentation is not a whole number of levels, jumps more than one level (two for a
    subquery), or starts a second root, or when a subquery names a hosting operator id the plan lacks."""
    if not isinstance(text, str):
        raise _fail(f"expected plan text, got {type(text).__name__}")
    first, lines = _physical_part(text.splitlines())
    if not any(line.strip() for line in lines):
        raise _fail("no operator lines")
    if any(_DETAIL_HEADER.match(line) for line in lines):
        root = _parse_formatted(lines, first)
    elif any(_MARKED.match(line) for line in lines):
        root = _assemble(_tree_lines(lines, first), _default_operator, step=3, max_jump=6)
    else:
        root = _assemble(_indented_lines(lines, first), _simplified_operator, step=2, max_jump=2)
    # An adaptive plan that ran prints its final plan and the initial one it started from; the
    # initial plan's operators never ran as such.
    for node in root.walk():
        node.children = [c for c in node.children if c.operator != "Initial Plan"]
    for i, node in enumerate(root.walk()):
        node.node_id = f"n{i}"
    return root


def _physical_part(lines: list[str]) -> tuple[int, list[str]]:
    """(number of the first line, lines) of the part after ``== Physical Plan ==`` up to the next
    ``== ... ==`` title, or (1, all lines)."""
    starts = [i for i, line in enumerate(lines) if line.strip() == "== Physical Plan =="]
    if not starts:
        return 1, lines
    part = lines[starts[0] + 1 :]
    for i, line in enumerate(part):
        if line.startswith("== ") and line.rstrip().endswith(" =="):
            return starts[0] + 2, part[:i]
    return starts[0] + 2, part


def _tree_lines(lines: list[str], first_number: int) -> list[_Line]:
    result = []
    for number, raw in enumerate(lines, start=first_number):
        line = raw.rstrip()
        if not line.strip():
            continue
        marked = _MARKED.match(line)
        if marked:
            column, body = len(marked["prefix"]) + 3, marked["text"]
        else:
            body = line.lstrip(" ")
            column = len(line) - len(body)
        header = bool(_SECTION.match(body))
        result.append(_Line(number, column, body, header))
    return result


def _indented_lines(lines: list[str], first_number: int) -> list[_Line]:
    result = []
    for number, raw in enumerate(lines, start=first_number):
        line = raw.rstrip()
        if line.strip():
            body = line.lstrip(" ")
            result.append(_Line(number, len(line) - len(body), body))
    return result


def _assemble(lines: list[_Line], read: Callable[[_Line], PlanNode], step: int, max_jump: int) -> PlanNode:
    """Tree from operator lines: a line's parent is the nearest line above it that starts further
    left. ``read(line) -> PlanNode`` makes each node."""
    stack: list[tuple[tuple[int, int], PlanNode]] = []
    root = None
    previous_column = 0
    for line in lines:
        where = f"bad indentation at line {line.number}"
        if line.column % step:
            raise _fail(f"{where}: column {line.column} is not a multiple of {step}")
        if line.column - previous_column > max_jump:
            raise _fail(f"{where}: {line.column - previous_column} columns deeper than the line above")
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
            raise _fail(f"{where}: a second root {line.text!r}")
        stack.append((key, node))
    return root


def _node(op: _Operator) -> PlanNode:
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


def _drop_truncated(value: str) -> str:
    # Spark cuts long scan metadata at 100 characters and appends "...": drop the cut-off list item.
    if not value.endswith("..."):
        return value
    items = split_top_level(value.removeprefix("["))
    return "[" + ", ".join(item.strip() for item in items[:-1]) + "]"


def _split_name(text: str, number: int) -> tuple[str, str, dict]:
    """(operator name, the rest, detail) of an operator line's text after tree markers."""
    detail: dict = {}
    codegen = _CODEGEN.match(text)
    if codegen:
        text = text[codegen.end() :]
        detail["codegen_stage"] = int(codegen["stage"]) if codegen["stage"] else True
    named = _NAME.match(text)
    if not named:
        raise _fail(f"line {number} has no operator name: {text!r}")
    return named["name"], named["rest"], detail


def _scan_target(op: _Operator, rest: str) -> str:
    """Take ``parquet spark_catalog.default.lineitem`` off the front of a scan's text: the format
    into detail, the table's last name part into ``tables``; return what follows."""
    target = _SCAN_TARGET.match(rest)
    if target["format"]:
        op.detail["format"] = target["format"]
    if target["table"]:
        op.tables.append(target["table"].rsplit(".", 1)[-1].strip("`").lower())
    return rest[target.end() :]


def _section(line: _Line) -> PlanNode:
    """Node for an adaptive plan's ``== Final Plan ==`` / ``== Initial Plan ==`` line."""
    return PlanNode(node_id="", operator=_SECTION.match(line.text)["title"], kind=K.OTHER)


def _default_operator(line: _Line) -> PlanNode:
    if line.header:
        return _section(line)
    name, rest, detail = _split_name(line.text, line.number)
    op = _Operator(name, detail=detail)
    detail["arguments"] = rest.strip()
    if OPERATOR_KINDS.get(name) is K.SCAN:
        rest = _scan_target(op, rest)
        columns, _, metadata = rest.partition("]") if rest.lstrip().startswith("[") else ("", "", rest)
        op.fields.append(("Output", columns.lstrip(" [")))
        for item in _METADATA_SPLIT.split(metadata.strip()):
            key, _, value = item.partition(": ")
            if value:
                detail[key.strip()] = value
                op.fields.append((key.strip(), _drop_truncated(value)))
    elif rest.startswith("(") and re.match(r"\(\w+=", rest):
        # HashAggregate(keys=[...], functions=[...]), TakeOrderedAndProject(limit=10, orderBy=[...])
        for item in split_top_level(rest.strip()[1:-1]):
            key, _, value = item.strip().partition("=")
            op.fields.append((key, value))
    else:
        op.fields.append(("arguments", rest.strip()))
        flags = [a.strip() for a in split_top_level(rest) if a.strip().split("(")[0] in _JOIN_TYPES]
        if flags:
            detail["join_type"] = flags[0]
    return _node(op)


def _simplified_operator(line: _Line) -> PlanNode:
    # ``Name [refs] [refs] #reuse``, ``WholeStageCodegen (3)``, ``Scan parquet db.table [cols]``
    name, rest, detail = _split_name(line.text, line.number)
    op = _Operator(name, detail=detail, ids_stripped=True)
    if OPERATOR_KINDS.get(name) is K.SCAN:
        rest = _scan_target(op, rest)
    reuse = re.search(r" (#\d+)$", rest)
    if reuse:
        detail["reuse_id"] = reuse[1]
        rest = rest[: reuse.start()]
    stage = re.fullmatch(r" \((\d+)\)", rest)
    if stage:
        detail["codegen_stage"] = int(stage[1])
        rest = ""
    groups = re.findall(r"\[(.*?)\](?= \[|$)", rest.strip())
    detail["references"] = groups
    op.fields += [("references", group) for group in groups]
    return _node(op)


def _parse_formatted(lines: list[str], first_number: int) -> PlanNode:
    """The formatted layout: tree(s) with ``(id)`` on each line, ``(id) Name`` detail blocks, and
    subqueries attached under their hosting operator."""
    trees: list[tuple[str | None, int | None, list[_Line]]] = []  # (hosting expression, host id, lines)
    details: dict[int, tuple[str, list[tuple[str, str]]]] = {}
    current_tree: list[_Line] | None = []
    trees.append((None, None, current_tree))
    current_detail: list[tuple[str, str]] | None = None
    for number, raw in enumerate(lines, start=first_number):
        line = raw.rstrip()
        header = _DETAIL_HEADER.match(line)
        subquery = _SUBQUERY_HEADER.match(line)
        if not line.strip():
            # a blank line ends a tree that has lines and any detail block
            if current_tree:
                current_tree = None
            current_detail = None
        elif line.startswith("===== ") and line.endswith(" ====="):
            current_tree = current_detail = None
        elif subquery:
            current_tree = []
            trees.append((subquery["expr"], int(subquery["host"]), current_tree))
        elif header:
            current_tree = None
            current_detail = []
            details[int(header["id"])] = (header["text"], current_detail)
        elif current_detail is not None:
            matched = _DETAIL_FIELD.match(line)
            if matched and not line.startswith("Location"):
                current_detail.append((matched["key"], matched["value"]))
            else:
                current_detail.append(("Location" if line.startswith("Location") else "text", line))
        elif current_tree is not None:
            current_tree.extend(_tree_lines([line], number))
        else:
            raise _fail(f"line {number} is outside any tree or operator block: {line!r}")

    by_id: dict[int, PlanNode] = {}

    def read(line: _Line) -> PlanNode:
        if line.header:
            return _section(line)
        labelled = _FORMATTED_ID.match(line.text)
        if not labelled:
            raise _fail(f"line {line.number} has no operator id: {line.text!r}")
        node = _formatted_operator(labelled["text"], int(labelled["id"]), details, line.number)
        if labelled["extra"]:
            node.detail["stage"] = labelled["extra"]  # "coalesced", "Statistics(sizeInBytes=...)"
        # an operator shared by an adaptive plan's final and initial sections: the final one first
        by_id.setdefault(int(labelled["id"]), node)
        return node

    _, _, main_lines = trees[0]
    if not main_lines:
        raise _fail("no operator lines")
    root = _assemble(main_lines, read, step=3, max_jump=6)
    subqueries = [(expr, host, _assemble(tree, read, 3, 6) if tree else None) for expr, host, tree in trees[1:]]
    # A subquery hangs under its host in a node of its own, before the host's children as the default
    # layout prints it; one reused from elsewhere has no tree.
    hosted: dict[int, list[PlanNode]] = {}
    for expr, host, subtree in subqueries:
        if host not in by_id:
            raise _fail(f"subquery hosted by operator id {host}, which the plan lacks")
        operator = "ReusedSubquery" if expr.startswith("ReusedSubquery") else "Subquery"
        wrapper = PlanNode(node_id="", operator=operator, kind=K.OTHER, detail={"hosting_expression": expr})
        wrapper.children = [subtree] if subtree else []
        hosted.setdefault(host, []).append(wrapper)
    for host, wrappers in hosted.items():
        by_id[host].children[:0] = wrappers
    return root


def _formatted_operator(text: str, operator_id: int, details: dict, number: int) -> PlanNode:
    name, rest, detail = _split_name(text, number)
    op = _Operator(name, detail=detail)
    detail["operator_id"] = operator_id
    if OPERATOR_KINDS.get(name) is K.SCAN:
        rest = _scan_target(op, rest)
    words = rest.split()
    if words and words[0] in _JOIN_TYPES:
        detail["join_type"] = words[0]
    _, fields = details.get(operator_id, ("", []))
    op.fields = list(fields)
    for key, value in fields:
        detail.setdefault(key, value)
    if "Join type" in detail:
        detail["join_type"] = detail["Join type"]
    return _node(op)
