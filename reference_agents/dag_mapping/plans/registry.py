"""Plan formats by name, each read by its adapter into a :class:`PlanNode` tree."""

from __future__ import annotations

from collections.abc import Callable

from reference_agents.dag_mapping.plans.duckdb_json import parse_duckdb_json
from reference_agents.dag_mapping.plans.model import PlanFormatError, PlanNode
from reference_agents.dag_mapping.plans.spark_text import parse_spark_text

# format name -> adapter: DuckDB ``EXPLAIN (FORMAT JSON)`` (text, list or dict); Spark physical plan
# text (``df.explain()``, ``EXPLAIN FORMATTED``, plan-stability ``simplified.txt``)
PLAN_FORMATS: dict[str, Callable[..., PlanNode]] = {
    "duckdb_json": parse_duckdb_json,
    "spark_text": parse_spark_text,
}


class UnknownPlanFormat(PlanFormatError):
    """A plan format name no adapter reads; the message lists the known ones."""


def parse_plan(plan_format: str, plan: str | list | dict) -> PlanNode:
    """Read ``plan`` with the adapter of ``plan_format`` (a key of :data:`PLAN_FORMATS`).

    Raises :class:`UnknownPlanFormat` for an unknown format and the adapter's
    :class:`PlanFormatError` for a plan it cannot read."""
    try:
        adapter = PLAN_FORMATS[plan_format]
    except (KeyError, TypeError):
        known = ", ".join(sorted(PLAN_FORMATS))
        raise UnknownPlanFormat(f"unknown plan format {plan_format!r}; known formats: {known}") from None
    return adapter(plan)
