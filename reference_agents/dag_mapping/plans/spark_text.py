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

from reference_agents.dag_mapping.plans.model import PlanNode
from reference_agents.dag_mapping.plans.spark_formatted import parse_formatted
from reference_agents.dag_mapping.plans.spark_operators import (
    DETAIL_HEADER,
    FORMAT,
    JOIN_TYPES,
    MARKED,
    METADATA_SPLIT,
    OPERATOR_KINDS,
    K,
    Line,
    Operator,
    assemble,
    drop_truncated,
    fail,
    plan_node,
    scan_target,
    section_node,
    split_name,
    tree_lines,
)
from reference_agents.dag_mapping.plans.spark_expressions import split_top_level

__all__ = ["FORMAT", "OPERATOR_KINDS", "parse_spark_text"]


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
    line, a line with no operator name (Spark's are PascalCase) or no operator Spark is known to
    print, when indentation is not a whole number of levels, jumps more than one level (two for a
    subquery), or starts a second root, or when a subquery names a hosting operator id the plan lacks."""
    if not isinstance(text, str):
        raise fail(f"expected plan text, got {type(text).__name__}")
    first, lines = _physical_part(text.splitlines())
    if not any(line.strip() for line in lines):
        raise fail("no operator lines")
    if any(DETAIL_HEADER.match(line) for line in lines):
        root = parse_formatted(lines, first)
    elif any(MARKED.match(line) for line in lines):
        root = assemble(tree_lines(lines, first), _default_operator, step=3, max_jump=6)
    else:
        root = assemble(_indented_lines(lines, first), _simplified_operator, step=2, max_jump=2)
    if not any(node.operator in OPERATOR_KINDS for node in root.walk()):
        raise fail(f"no Spark operator in the text (known: {', '.join(sorted(OPERATOR_KINDS))})")
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


def _indented_lines(lines: list[str], first_number: int) -> list[Line]:
    result = []
    for number, raw in enumerate(lines, start=first_number):
        line = raw.rstrip()
        if line.strip():
            body = line.lstrip(" ")
            result.append(Line(number, len(line) - len(body), body))
    return result


def _default_operator(line: Line) -> PlanNode:
    if line.header:
        return section_node(line)
    name, rest, detail = split_name(line.text, line.number)
    op = Operator(name, detail=detail)
    detail["arguments"] = rest.strip()
    if OPERATOR_KINDS.get(name) is K.SCAN:
        rest = scan_target(op, rest)
        columns, _, metadata = rest.partition("]") if rest.lstrip().startswith("[") else ("", "", rest)
        op.fields.append(("Output", columns.lstrip(" [")))
        for item in METADATA_SPLIT.split(metadata.strip()):
            key, _, value = item.partition(": ")
            if value:
                detail[key.strip()] = value
                op.fields.append((key.strip(), drop_truncated(value)))
    elif rest.startswith("(") and re.match(r"\(\w+=", rest):
        # HashAggregate(keys=[...], functions=[...]), TakeOrderedAndProject(limit=10, orderBy=[...])
        for item in split_top_level(rest.strip()[1:-1]):
            key, _, value = item.strip().partition("=")
            op.fields.append((key, value))
    else:
        op.fields.append(("arguments", rest.strip()))
        flags = [a.strip() for a in split_top_level(rest) if a.strip().split("(")[0] in JOIN_TYPES]
        if flags:
            detail["join_type"] = flags[0]
    return plan_node(op)


def _simplified_operator(line: Line) -> PlanNode:
    # ``Name [refs] [refs] #reuse``, ``WholeStageCodegen (3)``, ``Scan parquet db.table [cols]``
    name, rest, detail = split_name(line.text, line.number)
    op = Operator(name, detail=detail, ids_stripped=True)
    if OPERATOR_KINDS.get(name) is K.SCAN:
        rest = scan_target(op, rest)
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
    return plan_node(op)
