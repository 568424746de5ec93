"""Graph state of the DAG -> code mapping agent (plain JSON values only, for the checkpointer: the
code index lives in :mod:`~reference_agents.dag_mapping.index_cache`, the plan as node rows)."""

from __future__ import annotations

from typing import Annotated

from typing_extensions import TypedDict  # pydantic needs it for JSON schemas on Python < 3.12


def merge_results(left: dict | None, right: dict | None) -> dict:
    """Reducer of ``results``: node_id -> result, later writes replacing earlier ones per node (the
    branches of a wave each write their own node)."""
    return {**(left or {}), **(right or {})}


class JobInput(TypedDict, total=False):
    """The graph's input: a :class:`~reference_agents.dag_mapping.inputs.MappingJobInput` dumped
    to JSON (see there for the fields and their units)."""

    analysis_id: str
    repository: str
    plan: str | dict | list | None
    dag_nodes: list[dict] | None
    plan_format: str
    languages: list[str] | None
    max_parallel_nodes: int
    retrieval_top_k: int
    max_job_cost_usd: float


class MappingState(JobInput, total=False):
    """Input plus what the steps add, in order.

    Attributes:
        nodes: the plan as node rows, pre-order, root first (:mod:`~reference_agents.dag_mapping.plan_rows`).
        index: the key of the prepared code index, ``{"root", "fingerprint", "languages",
            "ttl_seconds"}``, and about it ``{"content_hash", "chunks", "source"}`` (ensure_index;
            ``source``: ``process``, ``store`` or ``built``, where the index came from).
        plan_context: the code units the whole plan ranks best, ``[{"position", "path", "symbol",
            "score", "recall", "precision", "probability"}]`` (plan_context).
        results: node_id -> the node's result (:func:`~reference_agents.dag_mapping.node_task.map_task`,
            then the LLM re-rank's ``llm`` field, then the reviewer's settlement), filled wave by wave.
        waves: the node_ids dispatched together, one list per wave.
        llm_calls: LLM re-rank calls made.
        cost_usd: their cost, US dollars.
        cost_capped: the cost reached ``max_job_cost_usd`` and later nodes were mapped without the LLM.
        review: the reviewer's answer (``review.MappingReviewAnswer``), when one was asked.
        code_mappings: the final mappings, one per node, pre-order (persist).
    """

    nodes: list[dict]
    index: dict
    plan_context: list[dict]
    results: Annotated[dict, merge_results]
    waves: list[list[str]]
    llm_calls: int
    cost_usd: float
    cost_capped: bool
    review: dict
    code_mappings: list[dict]
