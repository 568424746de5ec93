"""A person's review of the plan nodes the mapper could not place with confidence: one interrupt
listing them all with their candidate spans, and the answer settling each (the shared contract of
:mod:`reference_agents.common.hitl`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reference_agents.common.hitl import InterruptRequest, ReviewAnswer, build_request, reason_texts
from reference_agents.dag_mapping.mapper.mapper import SECOND_PASS

KIND = "dag_mapping_review"
QUESTION = "Where in the code does each of these plan operators come from?"
REASONS = {
    "LOW_CONFIDENCE": f"The mapper's confidence for these nodes is below {SECOND_PASS}: its best span is "
    "probably wrong, or the optimiser made the operator and no code wrote it.",
}


class NodeAnswer(BaseModel):
    """The answer for one node: ``accept`` candidate ``candidate`` (its number in the request),
    ``locate`` it at ``path``/``symbol``/``start_line``-``end_line`` (1-based, inclusive), or
    ``reject`` (no code produced it, e.g. an operator the optimiser made)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    action: Literal["accept", "locate", "reject"]
    candidate: int | None = Field(default=None, ge=0, description="accept: the candidate's number.")
    path: str | None = Field(default=None, min_length=1, description="locate: repository-relative file path.")
    symbol: str | None = Field(default=None, description="locate: the enclosing function, if any.")
    start_line: int | None = Field(default=None, ge=1, description="locate: first line, 1-based.")
    end_line: int | None = Field(default=None, ge=1, description="locate: last line, inclusive.")

    @model_validator(mode="after")
    def _fields_of_action(self) -> NodeAnswer:
        if self.action == "accept" and self.candidate is None:
            raise ValueError("accept needs candidate (the candidate's number)")
        if self.action == "locate":
            if self.path is None or self.start_line is None or self.end_line is None:
                raise ValueError("locate needs path, start_line and end_line")
            if self.end_line < self.start_line:
                raise ValueError(f"end_line {self.end_line} is before start_line {self.start_line}")
        return self


class MappingReviewAnswer(ReviewAnswer):
    """The reviewer's answer: ``apply`` the per-node answers in ``nodes`` (every listed node must be
    answered), or ``reject_all`` (none of the listed nodes has code). Example: ``{"decision":
    "apply", "reviewer": "ana", "nodes": {"n3": {"action": "accept", "candidate": 1}, "n7":
    {"action": "reject"}}}``."""

    decision: Literal["apply", "reject_all"] = Field(description="Apply the node answers, or reject every listed node.")
    nodes: dict[str, NodeAnswer] = Field(default_factory=dict, description="node_id -> its answer (apply).")


def review_request(results: Mapping[str, dict], node_ids: list[str]) -> InterruptRequest:
    """The interrupt request for ``node_ids`` (results as :func:`~reference_agents.dag_mapping.
    node_task.map_task` returns them): ``context.nodes`` lists each node's ``node_id``,
    ``operator``, ``kind``, ``confidence``, ``explanation`` and numbered ``candidates`` (path,
    symbol, lines, score in [0, 1], code snippet)."""
    nodes = [
        {
            "node_id": node_id,
            "operator": results[node_id]["operator"],
            "kind": results[node_id]["kind"],
            "confidence": results[node_id]["confidence"],
            "explanation": results[node_id]["explanation"],
            "candidates": [
                {"number": i, **{k: c[k] for k in ("path", "symbol", "start_line", "end_line", "score")},
                 "code": c.get("code", "")}
                for i, c in enumerate(results[node_id]["candidates"])
            ],
        }
        for node_id in node_ids
    ]
    return build_request(KIND, QUESTION, MappingReviewAnswer, {"nodes": nodes}, reason_texts(REASONS, ["LOW_CONFIDENCE"]))


def listed_nodes(request: Mapping | None) -> list[dict]:
    """The nodes a review request (:func:`review_request`, as a run's stored interrupt) lists:
    its ``context.nodes``; ``[]`` for no request."""
    return list(((request or {}).get("context") or {}).get("nodes") or [])


def answer_check(results: Mapping[str, dict], node_ids: list[str]):
    """The rules an answer must also pass (for :func:`~reference_agents.common.hitl.ask_human`):
    with ``apply``, every listed node answered and no other, and each accepted candidate number one
    the node has. Raises ValueError naming the field."""

    def check(answer: MappingReviewAnswer) -> None:
        if answer.decision == "reject_all":
            return
        unknown = sorted(set(answer.nodes) - set(node_ids))
        if unknown:
            raise ValueError(f"nodes: {', '.join(unknown)} not under review (asked: {', '.join(node_ids)})")
        missing = [n for n in node_ids if n not in answer.nodes]
        if missing:
            raise ValueError(f"nodes: no answer for {', '.join(missing)}")
        for node_id, node in answer.nodes.items():
            count = len(results[node_id]["candidates"])
            if node.action == "accept" and node.candidate >= count:
                raise ValueError(f"nodes.{node_id}.candidate: {node.candidate} is not one of its {count} candidates")

    return check


def settle(result: dict, answer: MappingReviewAnswer) -> dict:
    """``result`` (one node's) after the reviewer's answer: the chosen span with confidence 1,
    band ``reviewed`` (or no span, confidence 0, band ``rejected``), ``source`` ``"human"`` and
    ``reviewed_by`` the reviewer; the mapper's candidates kept."""
    node = answer.nodes.get(result["node_id"]) if answer.decision == "apply" else None
    settled = {**result, "source": "human", "reviewed_by": answer.reviewer, "review_note": answer.note}
    if node is None or node.action == "reject":
        span = {"path": None, "symbol": None, "start_line": None, "end_line": None, "position": None}
        return {**settled, **span, "confidence": 0.0, "band": "rejected"}
    if node.action == "accept":
        chosen = result["candidates"][node.candidate]
        span = {k: chosen[k] for k in ("path", "symbol", "start_line", "end_line", "position")}
    else:
        span = {"path": node.path, "symbol": node.symbol, "start_line": node.start_line, "end_line": node.end_line,
                "position": None}
    return {**settled, **span, "confidence": 1.0, "band": "reviewed"}
