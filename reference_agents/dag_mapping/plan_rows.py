"""A plan as JSON rows: one dict per node, pre-order, children named by ``node_id``. The form the
mapping agent takes already-parsed plans in (``dag_nodes``) and keeps a plan in its graph state
(checkpointed, so JSON only), and back to a :class:`PlanNode` tree."""

from __future__ import annotations

from collections.abc import Sequence

from reference_agents.dag_mapping.plans.model import OperatorKind, PlanFormatError, PlanNode

LIST_FIELDS = ("tables", "columns", "constants", "aggregates")


def to_rows(plan: PlanNode) -> list[dict]:
    """``plan`` as rows in pre-order (the root first): ``{"node_id", "operator", "kind", "tables",
    "columns", "constants", "aggregates", "detail", "children": [child node_ids]}``."""
    return [
        {
            "node_id": node.node_id,
            "operator": node.operator,
            "kind": node.kind.value,
            **{name: list(getattr(node, name)) for name in LIST_FIELDS},
            "detail": dict(node.detail),
            "children": [child.node_id for child in node.children],
        }
        for node in plan.walk()
    ]


def from_rows(rows: Sequence[dict]) -> PlanNode:
    """The tree of ``rows`` (as :func:`to_rows` writes them; ``tables``... ``detail`` may be left
    out). The root is the one node no other names as a child.

    Raises :class:`PlanFormatError` naming the problem: no rows, a row that is not an object or
    lacks ``node_id``/``operator``/``kind``, an unknown kind (the known ones listed), a repeated
    ``node_id``, a child that is no node, a node with two parents, no single root, or a cycle."""
    if not rows:
        raise PlanFormatError("dag_nodes: the plan has no nodes")
    nodes: dict[str, PlanNode] = {}
    children: dict[str, list[str]] = {}
    for position, row in enumerate(rows):
        node = _node(position, row)
        if node.node_id in nodes:
            raise PlanFormatError(f"dag_nodes[{position}]: node_id {node.node_id!r} is repeated")
        nodes[node.node_id] = node
        children[node.node_id] = [str(c) for c in row.get("children") or []]
    parent: dict[str, str] = {}
    for node_id, child_ids in children.items():
        for child_id in child_ids:
            if child_id not in nodes:
                raise PlanFormatError(f"dag_nodes: {node_id!r} names child {child_id!r}, which is no node")
            if child_id in parent:
                raise PlanFormatError(
                    f"dag_nodes: {child_id!r} is a child of both {parent[child_id]!r} and {node_id!r}; a plan is a tree"
                )
            parent[child_id] = node_id
            nodes[node_id].children.append(nodes[child_id])
    roots = [node_id for node_id in nodes if node_id not in parent]
    if len(roots) != 1:
        raise PlanFormatError(f"dag_nodes: a plan has one root (a node no other names as child), found {roots or 'none'}")
    root = nodes[roots[0]]
    if sum(1 for _ in root.walk()) != len(nodes):  # with one root and one parent each, only a cycle hides nodes
        raise PlanFormatError("dag_nodes: the children links form a cycle")
    return root


def _node(position: int, row: object) -> PlanNode:
    if not isinstance(row, dict):
        raise PlanFormatError(f"dag_nodes[{position}]: a node is an object, got {type(row).__name__}")
    missing = [name for name in ("node_id", "operator", "kind") if not row.get(name)]
    if missing:
        raise PlanFormatError(f"dag_nodes[{position}]: missing {', '.join(missing)}")
    try:
        kind = OperatorKind(row["kind"])
    except ValueError:
        known = ", ".join(k.value for k in OperatorKind)
        raise PlanFormatError(f"dag_nodes[{position}]: unknown kind {row['kind']!r}; known kinds: {known}") from None
    lists = {}
    for name in LIST_FIELDS:
        value = row.get(name) or []
        if not isinstance(value, list):
            raise PlanFormatError(f"dag_nodes[{position}].{name}: a list of strings, got {type(value).__name__}")
        lists[name] = [str(v) for v in value]
    detail = row.get("detail") or {}
    if not isinstance(detail, dict):
        raise PlanFormatError(f"dag_nodes[{position}].detail: an object, got {type(detail).__name__}")
    return PlanNode(str(row["node_id"]), str(row["operator"]), kind, detail=dict(detail), **lists)


def subtree_rows(rows: Sequence[dict], node_id: str) -> list[dict]:
    """The rows of ``node_id`` and its descendants, pre-order (``node_id`` first). Raises
    KeyError for an unknown ``node_id``."""
    by_id = {row["node_id"]: row for row in rows}
    out, stack = [], [by_id[node_id]]
    while stack:
        row = stack.pop()
        out.append(row)
        stack.extend(by_id[c] for c in reversed(row["children"]))
    return out
