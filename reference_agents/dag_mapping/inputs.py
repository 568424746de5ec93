"""The run input of the DAG -> code mapping agent: one plan and the repository to map it into."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reference_agents.dag_mapping.mapper.mapper import LANGUAGES, RETRIEVAL_TOP_K
from reference_agents.dag_mapping.plan_rows import from_rows
from reference_agents.dag_mapping.plans.model import PlanFormatError
from reference_agents.dag_mapping.plans.registry import PLAN_FORMATS, parse_plan

MAX_PARALLEL_NODES = 5
"""Plan nodes mapped at once by default (the graph dispatches them in waves of at most this many)."""
MAX_JOB_COST_USD = 5.0
"""What one job may spend on LLM calls by default, US dollars."""


class RepositoryNotAllowed(ValueError):
    """The repository is outside every directory the agent may read; the message names both."""


def default_repository_roots() -> list[Path]:
    """Where an agent without ``repository_roots`` in its config may read code: ibis's TPC
    directory inside the installed ``ibis-framework`` wheel (the demo's repository)."""
    import ibis

    return [Path(ibis.__file__).parent / "backends" / "tests" / "tpc"]


def check_repository_root(repository: str | Path, roots: list[str | Path]) -> None:
    """Refuse a repository (directory or archive) that is not inside one of ``roots``, after
    resolving symbolic links and ``..``: a job reads every ``.py``/``.sql`` file under it and shows
    code from them to reviewers, so the deployed spec (``config.repository_roots``, approved with
    the version) decides what may be read, not the caller.

    Raises:
        RepositoryNotAllowed: ``repository`` is outside every root.
    """
    path = Path(repository).resolve()
    allowed = [Path(root).resolve() for root in roots]
    if not any(path == root or path.is_relative_to(root) for root in allowed):
        raise RepositoryNotAllowed(f"repository {repository} is outside the directories this agent may read "
                                   f"({', '.join(str(r) for r in allowed)}; the spec's config.repository_roots)")


class MappingJobFields(BaseModel):
    """The fields of a mapping job and their types and bounds, without the checks that read the
    plan or the disk (those are :class:`MappingJobInput`'s): what the gateway parses a request
    into before it checks the repository against the agent's roots."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    analysis_id: str = Field(min_length=1, max_length=200, description="The caller's id of this analysis.")
    repository: str = Field(min_length=1, max_length=4096, description="Directory, .zip or tar archive of the code, on the worker's disk.")
    plan: str | dict | list | None = Field(default=None, description="The plan as the engine printed it.")
    dag_nodes: list[dict] | None = Field(default=None, description="The plan already parsed, as node rows.")
    plan_format: str = Field(default="duckdb_json", description=f"One of: {', '.join(sorted(PLAN_FORMATS))}.")
    languages: list[str] | None = Field(default=None, description="Keep only code in these languages.")
    max_parallel_nodes: int = Field(default=MAX_PARALLEL_NODES, ge=1, le=32, description="Nodes mapped at once.")
    retrieval_top_k: int = Field(default=RETRIEVAL_TOP_K, ge=1, le=100, description="Candidates retrieved per node.")
    max_job_cost_usd: float = Field(default=MAX_JOB_COST_USD, ge=0, le=1000, description="LLM spend cap, USD.")


class MappingJobInput(MappingJobFields):
    """One mapping job: map every node of a query plan to the code that produced it.

    Give the plan either as the engine's text (``plan`` in ``plan_format``: DuckDB
    ``EXPLAIN (FORMAT JSON)`` as text, list or object; Spark physical plan text) or already parsed
    (``dag_nodes``: rows as :func:`~reference_agents.dag_mapping.plan_rows.to_rows` writes them,
    children named by ``node_id``). ``repository`` is a directory, ``.zip`` or tar archive on the
    worker's disk. ``languages`` keeps only code in those languages (``python``, ``sql``).

    Raises:
        pydantic.ValidationError: neither or both of ``plan``/``dag_nodes``; an empty plan; an
            unknown ``plan_format`` (the known ones listed); a plan its adapter cannot read or
            malformed ``dag_nodes`` (the adapter's message); a repository path that does not
            exist; an unknown language; a bound out of range. Each error's ``loc`` names the field.
    """

    @field_validator("plan_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in PLAN_FORMATS:
            raise ValueError(f"unknown plan format {value!r}; known formats: {', '.join(sorted(PLAN_FORMATS))}")
        return value

    @field_validator("repository")
    @classmethod
    def _repository_exists(cls, value: str) -> str:
        if not Path(value).exists():
            raise ValueError(f"repository not found: {value}")
        return value

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        known = sorted(set(LANGUAGES.values()))
        unknown = sorted(set(value) - set(known))
        if unknown or not value:
            raise ValueError(f"unknown languages {unknown}; known: {known}" if unknown else f"give at least one of {known}")
        return sorted(set(value))

    @model_validator(mode="after")
    def _readable_plan(self) -> MappingJobInput:
        if (self.plan is None) == (self.dag_nodes is None):
            raise ValueError("give exactly one of plan (the engine's plan text) or dag_nodes (parsed node rows)")
        if self.dag_nodes is not None:
            read = lambda: from_rows(self.dag_nodes)  # noqa: E731 - one expression, named for the try below
        elif self.plan in ("", [], {}):
            raise ValueError("plan is empty: the DAG has no nodes")
        else:
            read = lambda: parse_plan(self.plan_format, self.plan)  # noqa: E731
        try:
            read()
        except PlanFormatError as error:
            # a model-level error has no field in its loc: the message names it (dag_nodes' already do)
            raise ValueError(str(error) if self.dag_nodes is not None else f"plan: {error}") from None
        return self
