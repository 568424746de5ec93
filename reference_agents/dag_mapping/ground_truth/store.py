"""Ground truth to and from JSON-ready dicts (the build cache)."""

from __future__ import annotations

from dataclasses import asdict

from reference_agents.dag_mapping.plans.model import OperatorKind, PlanNode

from .model import CodeSpan, GroundTruth, Truth


def plan_to_dict(node: PlanNode) -> dict:
    """``node`` and its subtree as nested dicts (``kind`` as its string value)."""
    return {
        "node_id": node.node_id,
        "operator": node.operator,
        "kind": node.kind.value,
        "tables": list(node.tables),
        "columns": list(node.columns),
        "constants": list(node.constants),
        "aggregates": list(node.aggregates),
        "detail": node.detail,
        "children": [plan_to_dict(child) for child in node.children],
    }


def plan_from_dict(data: dict) -> PlanNode:
    """Inverse of :func:`plan_to_dict`; KeyError/ValueError on a dict it did not write."""
    return PlanNode(
        node_id=data["node_id"],
        operator=data["operator"],
        kind=OperatorKind(data["kind"]),
        tables=list(data["tables"]),
        columns=list(data["columns"]),
        constants=list(data["constants"]),
        aggregates=list(data["aggregates"]),
        detail=dict(data["detail"]),
        children=[plan_from_dict(child) for child in data["children"]],
    )


def ground_truth_to_dict(truth: GroundTruth) -> dict:
    """One query's ground truth as a JSON-ready dict."""
    return {
        "query_id": truth.query_id,
        "function": asdict(truth.function),
        "sql": truth.sql,
        "plan": plan_to_dict(truth.plan),
        "truth": {node_id: asdict(t) for node_id, t in truth.truth.items()},
    }


def ground_truth_from_dict(data: dict) -> GroundTruth:
    """Inverse of :func:`ground_truth_to_dict`."""
    truth = {}
    for node_id, t in data["truth"].items():
        fields = dict(t)
        alternatives = [CodeSpan(**span) for span in fields.pop("alternatives")]
        truth[node_id] = Truth(**fields, alternatives=alternatives)
    return GroundTruth(
        query_id=data["query_id"],
        plan=plan_from_dict(data["plan"]),
        truth=truth,
        function=CodeSpan(**data["function"]),
        sql=data["sql"],
    )
