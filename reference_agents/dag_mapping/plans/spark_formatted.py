"""Spark's ``EXPLAIN FORMATTED`` layout (plan-stability ``explain.txt``): the tree with ``(id)`` after
each name, one ``(id) Name`` block of ``Key [n]: value`` lines per operator, and subqueries hung
under their hosting operator."""

from __future__ import annotations

import re

from reference_agents.dag_mapping.plans.model import PlanNode
from reference_agents.dag_mapping.plans.spark_operators import (
    DETAIL_HEADER,
    JOIN_TYPES,
    OPERATOR_KINDS,
    K,
    Line,
    Operator,
    assemble,
    fail,
    plan_node,
    scan_target,
    section_node,
    split_name,
    tree_lines,
)

_FORMATTED_ID = re.compile(r"^(?P<text>.*?) \((?P<id>\d+)\)(?:, (?P<extra>.*))?$")
_DETAIL_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ]*?)(?: \[\d+\])? ?: ?(?P<value>.*)$")
_SUBQUERY_HEADER = re.compile(r"^Subquery:\d+ Hosting operator id = (?P<host>\d+) Hosting Expression = (?P<expr>.*)$")


def parse_formatted(lines: list[str], first_number: int) -> PlanNode:
    """The formatted layout: tree(s) with ``(id)`` on each line, ``(id) Name`` detail blocks, and
    subqueries attached under their hosting operator."""
    trees: list[tuple[str | None, int | None, list[Line]]] = []  # (hosting expression, host id, lines)
    details: dict[int, tuple[str, list[tuple[str, str]]]] = {}
    current_tree: list[Line] | None = []
    trees.append((None, None, current_tree))
    current_detail: list[tuple[str, str]] | None = None
    for number, raw in enumerate(lines, start=first_number):
        line = raw.rstrip()
        header = DETAIL_HEADER.match(line)
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
            current_tree.extend(tree_lines([line], number))
        else:
            raise fail(f"line {number} is outside any tree or operator block: {line!r}")

    by_id: dict[int, PlanNode] = {}

    def read(line: Line) -> PlanNode:
        if line.header:
            return section_node(line)
        labelled = _FORMATTED_ID.match(line.text)
        if not labelled:
            raise fail(f"line {line.number} has no operator id: {line.text!r}")
        node = _formatted_operator(labelled["text"], int(labelled["id"]), details, line.number)
        if labelled["extra"]:
            node.detail["stage"] = labelled["extra"]  # "coalesced", "Statistics(sizeInBytes=...)"
        # an operator shared by an adaptive plan's final and initial sections: the final one first
        by_id.setdefault(int(labelled["id"]), node)
        return node

    _, _, main_lines = trees[0]
    if not main_lines:
        raise fail("no operator lines")
    root = assemble(main_lines, read, step=3, max_jump=6)
    subqueries = [(expr, host, assemble(tree, read, 3, 6) if tree else None) for expr, host, tree in trees[1:]]
    # A subquery hangs under its host in a node of its own, before the host's children as the default
    # layout prints it; one reused from elsewhere has no tree.
    hosted: dict[int, list[PlanNode]] = {}
    for expr, host, subtree in subqueries:
        if host not in by_id:
            raise fail(f"subquery hosted by operator id {host}, which the plan lacks")
        operator = "ReusedSubquery" if expr.startswith("ReusedSubquery") else "Subquery"
        wrapper = PlanNode(node_id="", operator=operator, kind=K.OTHER, detail={"hosting_expression": expr})
        wrapper.children = [subtree] if subtree else []
        hosted.setdefault(host, []).append(wrapper)
    for host, wrappers in hosted.items():
        by_id[host].children[:0] = wrappers
    return root


def _formatted_operator(text: str, operator_id: int, details: dict, number: int) -> PlanNode:
    name, rest, detail = split_name(text, number)
    op = Operator(name, detail=detail)
    detail["operator_id"] = operator_id
    if OPERATOR_KINDS.get(name) is K.SCAN:
        rest = scan_target(op, rest)
    words = rest.split()
    if words and words[0] in JOIN_TYPES:
        detail["join_type"] = words[0]
    _, fields = details.get(operator_id, ("", []))
    op.fields = list(fields)
    for key, value in fields:
        detail.setdefault(key, value)
    if "Join type" in detail:
        detail["join_type"] = detail["Join type"]
    return plan_node(op)
