"""Request and response bodies of the DAG -> code mapping jobs API (``/v1/map-to-code``, ``/v1/jobs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from reference_agents.dag_mapping.inputs import MappingJobFields
from shipway.gateway.schemas import LookupText, storable


class MapToCodeRequest(MappingJobFields):
    """Body of ``POST /v1/map-to-code``: one plan and the repository to map it into, and which
    mapping agent runs the job (default: the tenant's one live agent of the ``dag_mapping`` template)."""

    agent: LookupText | None = Field(default=None, description="Name of the mapping agent; needed when several are live.")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        """Refuse text PostgreSQL cannot store (a NUL, a lone surrogate) or a path cannot hold, anywhere
        in the body, before the repository path is resolved (schemathesis found a 500 there)."""
        return storable(data)


class JobAccepted(BaseModel):
    """Answer of ``POST /v1/map-to-code`` (202): poll ``job_url``."""

    job_id: str = Field(description="The job's id (the id of the agent run that does it).")
    analysis_id: str
    agent: str
    version: int
    status: str
    job_url: str = Field(description="Path of `GET /v1/jobs/{job_id}`.")
    workflow_url: str = Field(description="The run's workflow in the Temporal UI.")


class JobProgress(BaseModel):
    """Plan nodes mapped so far and in all (0 of 0 before the plan is read)."""

    nodes_done: int
    nodes_total: int


class JobView(BaseModel):
    """A mapping job as ``GET /v1/jobs/{id}`` shows it.

    ``status``: ``running``, ``pending_review`` (a person is asked about the low-confidence nodes:
    answer with ``POST /v1/runs/{job_id}/resume``), ``succeeded``, or the run's other end states
    (``failed``, ``blocked``, ``withheld``, ``budget_exceeded``, ``cancelled``). ``mappings``: one per
    mapped node (the ``code_mappings`` rows once the job ended), each with ``node_id``, ``children``,
    ``operator``, ``kind``, ``path``, ``symbol``, ``start_line``/``end_line`` (1-based, inclusive),
    ``confidence`` [0, 1], ``band``, ``explanation``, ``alternatives``, ``source``, ``reviewed_by``.
    ``pending_reviews``: the nodes the person is asked about, with their numbered candidates.
    ``cost_usd``: LLM spend of the job so far, US dollars.
    """

    job_id: str
    analysis_id: str | None
    agent: str
    version: int
    status: str
    decision: str | None = None
    reasons: list[str] = Field(default_factory=list)
    progress: JobProgress
    cost_usd: float
    max_job_cost_usd: float | None = None
    llm_calls: int = 0
    cost_capped: bool = False
    mappings: list[dict[str, Any]] = Field(default_factory=list)
    pending_reviews: list[dict[str, Any]] = Field(default_factory=list)
    resume_url: str | None = Field(default=None, description="Where the review answer goes, while one is pending.")
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    workflow_url: str
