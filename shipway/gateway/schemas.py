"""Request and response bodies of the gateway's routes (their OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from workflows.statuses import RunStatus


def _nul_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            if (found := _nul_path(k, f"{path}.{k}")) or (found := _nul_path(v, f"{path}.{k}")):
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            if found := _nul_path(v, f"{path}[{i}]"):
                return found
    return None


def no_nul(value: Any) -> Any:
    """Refuse text with a NUL character anywhere in ``value`` (PostgreSQL cannot store it).

    Raises:
        ValueError: naming where the NUL is (``input.applicant.name``).
    """
    if where := _nul_path(value, "value"):
        raise ValueError(f"contains a NUL character (\\u0000) at {where}")
    return value


ThreadId = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(no_nul)]
Tenant = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(no_nul)]
Actor = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(no_nul)]
JsonObject = Annotated[dict[str, Any], AfterValidator(no_nul)]


class RunConfig(BaseModel):
    """The part of a LangGraph ``RunnableConfig`` a caller may set."""

    configurable: JsonObject = Field(default_factory=dict, description="Passed to the graph's nodes; "
                                     "`thread_id`, `run_id` and `model` are the platform's and are overridden.")


class RunRequest(BaseModel):
    """Body of ``POST /v1/agents/{name}/runs``."""

    input: JsonObject = Field(description="The agent's run input; its JSON Schema is `input_schema` of `GET /v1/agents/{name}`.")
    thread_id: ThreadId | None = Field(default=None, description="Conversation thread to continue; default: a new thread per run.")
    tenant: Tenant = "default"
    context: JsonObject | None = Field(default=None, description="The graph's runtime context (its `context_schema`), if it has one.")
    config: RunConfig | None = None


class ResumeBody(BaseModel):
    """Body of ``POST /v1/runs/{id}/resume``: the human's answer to the interrupt."""

    value: JsonObject = Field(description="The answer; must satisfy the interrupt's `answer_schema`.")
    actor: Actor = Field(default="operator", description="Who answers (audited).")


class GuardView(BaseModel):
    """The guard verdict that stopped a run: which ``stage`` (``input``, ``resume:<n>``, ``output``),
    ``verdict`` (``blocked`` or ``withheld``), the ``rail`` (``pii``, ``jailbreak``, ...), the
    ``reason_code`` and a ``detail`` naming where (never the text itself)."""

    stage: str
    verdict: str
    rail: str | None = None
    reason_code: str | None = None
    detail: str = ""


class RunView(BaseModel):
    """A run as the API returns it: times ISO 8601 UTC, latencies in ms, cost in USD. ``interrupt``
    is the pending request (``question``, ``decisions``, ``answer_schema``, ``context``, ``reasons``)."""

    run_id: str
    agent: str
    version: int
    thread_id: str
    tenant: str
    status: RunStatus
    output: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: float | None = None
    wait_ms: float
    tokens_in: int
    tokens_out: int
    cost_usd: float
    started_at: datetime
    finished_at: datetime | None = None
    workflow_url: str
    guard: GuardView | None = Field(default=None, description="Set when the run ended blocked or withheld.")


class RunAccepted(BaseModel):
    """Answer of an asynchronous start (202): poll ``GET /v1/runs/{run_id}``."""

    run_id: str
    agent: str
    version: int
    thread_id: str
    status: RunStatus
    workflow_url: str


class ResumeAccepted(BaseModel):
    """Answer of an asynchronous resume (202)."""

    accepted: bool
    run_id: str


class TrafficShare(BaseModel):
    """Percent of an agent's new runs routed to one version."""

    version: int
    weight_pct: float


class AgentView(BaseModel):
    """A live agent: who owns it, what it does, where its traffic goes, and the JSON Schema of
    its run input (of the version with the largest share)."""

    name: str
    owner: str
    description: str
    live_version: int | None
    traffic: list[TrafficShare]
    input_schema: dict[str, Any] | None = None


class Health(BaseModel):
    """``ok`` when the database and Temporal answer; otherwise ``degraded`` with each check's error."""

    status: str
    checks: dict[str, str]
